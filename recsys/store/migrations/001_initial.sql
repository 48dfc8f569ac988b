-- 1: the world (items, personas), users, the event log, the learning log, model versions.
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE items (
    item_id INTEGER PRIMARY KEY,
    title VARCHAR NOT NULL,
    genres VARCHAR[] NOT NULL,
    tags VARCHAR[] NOT NULL,
    year INTEGER,
    region VARCHAR,
    quality DOUBLE NOT NULL,          -- hidden: the simulator's ground truth, never an input
    features DOUBLE[] NOT NULL        -- hidden: taste-space coordinates for ground truth
);
CREATE TABLE personas (
    name VARCHAR PRIMARY KEY,
    label VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    taste DOUBLE[] NOT NULL           -- hidden ground-truth taste vector
);
CREATE TABLE users (
    user_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,            -- simulated | demo | persona | visitor
    persona VARCHAR,
    taste DOUBLE[],                   -- hidden, only for simulated people
    created_seq BIGINT NOT NULL
);
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    ts DOUBLE NOT NULL,               -- lab clock: seconds since the world's epoch
    user_id VARCHAR NOT NULL,
    item_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    value DOUBLE,
    context VARCHAR,
    source VARCHAR NOT NULL           -- history | live | simulation
);
CREATE INDEX events_user ON events (user_id);
CREATE TABLE learning_log (
    seq BIGINT NOT NULL,
    algorithm VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    item_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    user_change DOUBLE,
    item_change DOUBLE,
    score_before DOUBLE,
    score_after DOUBLE,
    duration_ms DOUBLE NOT NULL,
    details VARCHAR
);
CREATE INDEX learning_log_seq ON learning_log (seq);
CREATE TABLE model_versions (
    version_id INTEGER PRIMARY KEY,
    algorithm VARCHAR NOT NULL,
    config VARCHAR NOT NULL,
    seed INTEGER NOT NULL,
    trained_through_seq BIGINT NOT NULL,
    n_events BIGINT NOT NULL,
    params BLOB NOT NULL,             -- np.savez bytes, loaded with allow_pickle=False
    trigger VARCHAR NOT NULL,
    fit_seconds DOUBLE,
    created_at TIMESTAMP NOT NULL
);
