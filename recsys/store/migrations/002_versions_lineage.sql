-- 2: versions with lineage, aliases and their history, checkpoints, update log, drift
-- alarms, scenario marks; each event records which model version served it.
ALTER TABLE events ADD COLUMN served_by VARCHAR;
ALTER TABLE model_versions ADD COLUMN parent_version INTEGER;
ALTER TABLE model_versions ADD COLUMN metrics VARCHAR;
CREATE TABLE checkpoints (
    checkpoint_id INTEGER PRIMARY KEY,
    algorithm VARCHAR NOT NULL,
    arm VARCHAR NOT NULL,
    lineage_id INTEGER,
    through_seq BIGINT NOT NULL,
    config VARCHAR NOT NULL,
    seed INTEGER NOT NULL,
    params BLOB NOT NULL,
    reason VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- Snapshots taken on close were never versions: they become checkpoints.
INSERT INTO checkpoints SELECT row_number() OVER (ORDER BY version_id), algorithm,
    'production', NULL, trained_through_seq, config, seed, params, trigger, created_at
    FROM model_versions WHERE trigger IN ('snapshot', 'first-load');
DELETE FROM model_versions WHERE trigger IN ('snapshot', 'first-load');
CREATE TABLE aliases (
    algorithm VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    version_id INTEGER NOT NULL,
    PRIMARY KEY (algorithm, alias)
);
CREATE TABLE alias_history (
    move_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    at_seq BIGINT NOT NULL,
    ts DOUBLE NOT NULL,
    algorithm VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    from_version INTEGER,
    to_version INTEGER,
    actor VARCHAR NOT NULL,
    reason VARCHAR NOT NULL
);
CREATE TABLE lineage (
    lineage_id INTEGER PRIMARY KEY,
    algorithm VARCHAR NOT NULL,
    arm VARCHAR NOT NULL,
    effective_seq BIGINT NOT NULL,    -- the first event whose `after` this state served
    version_id INTEGER,
    checkpoint_id INTEGER,
    reason VARCHAR NOT NULL
);
CREATE TABLE update_log (
    update_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    at_seq BIGINT NOT NULL,
    ts DOUBLE NOT NULL,
    algorithm VARCHAR NOT NULL,
    update_type VARCHAR NOT NULL,
    trigger VARCHAR NOT NULL,
    events BIGINT NOT NULL,
    seconds DOUBLE NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    version_id INTEGER,
    metrics VARCHAR
);
CREATE TABLE drift_alarms (
    alarm_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    at_seq BIGINT NOT NULL,
    ts DOUBLE NOT NULL,
    algorithm VARCHAR NOT NULL,
    detector VARCHAR NOT NULL,
    statistic DOUBLE,
    details VARCHAR
);
CREATE TABLE holdout (
    ts DOUBLE NOT NULL,
    user_id VARCHAR NOT NULL,
    item_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    value DOUBLE,
    context VARCHAR,
    source VARCHAR NOT NULL
);
CREATE TABLE marks (
    mark_id INTEGER PRIMARY KEY,
    at_seq BIGINT NOT NULL,
    ts DOUBLE NOT NULL,
    kind VARCHAR NOT NULL,
    details VARCHAR
);
