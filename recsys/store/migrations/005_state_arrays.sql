-- 5: model states stored as arrays: one row per array and its bytes as 8-byte words in a
-- numeric column, so reading one state reads only its own rows (a BLOB column is scanned whole,
-- every neighbour's bytes with it). Older rows keep their `.npz` params; new ones name a state.
ALTER TABLE model_versions ALTER COLUMN params DROP NOT NULL;
ALTER TABLE checkpoints ALTER COLUMN params DROP NOT NULL;
ALTER TABLE model_versions ADD COLUMN state_id BIGINT;
ALTER TABLE checkpoints ADD COLUMN state_id BIGINT;
CREATE TABLE state_arrays (
    state_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    dtype VARCHAR NOT NULL,           -- numpy's dtype.str: '<f8', '<i8', '<U12'
    shape VARCHAR NOT NULL,           -- JSON list
    first_word BIGINT NOT NULL,       -- where its bytes start among the state's words
    words BIGINT NOT NULL
);
CREATE TABLE state_words (
    state_id BIGINT NOT NULL,
    word BIGINT NOT NULL              -- 8 bytes of an array, in insertion order
);
