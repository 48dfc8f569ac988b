-- 6: each algorithm numbers its versions from 1 (mf v1, v2, ...; what people see), while
-- version_id stays the key every other table refers to. A number outlives its version's
-- deletion, so the alias history and the update log keep naming a deleted version as it was.
CREATE TABLE version_numbers (
    version_id INTEGER NOT NULL,
    algorithm VARCHAR NOT NULL,
    number INTEGER NOT NULL
);
INSERT INTO version_numbers
    SELECT version_id, algorithm, row_number() OVER (PARTITION BY algorithm ORDER BY version_id)
    FROM (
        SELECT version_id, algorithm FROM model_versions
        UNION SELECT from_version, algorithm FROM alias_history WHERE from_version IS NOT NULL
        UNION SELECT to_version, algorithm FROM alias_history WHERE to_version IS NOT NULL
        UNION SELECT version_id, algorithm FROM update_log WHERE version_id IS NOT NULL
    );
