-- 4: imported datasets keep each item's own id; saved scenarios (the built-in ones live in
-- recsys/data/scenario_library.py, not here).
ALTER TABLE items ADD COLUMN external_id VARCHAR;
CREATE TABLE scenarios (
    name VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,
    setup VARCHAR NOT NULL,           -- JSON: world or dataset, configs, policy, experiments
    created_at TIMESTAMP NOT NULL
);
