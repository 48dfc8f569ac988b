-- 3: A/B experiments and every recommendation they showed (impressions). An event on an
-- item of a logged list carries the list's request id, which attributes it to the
-- impression; the impression row keeps the outcome so analysis is one scan.
ALTER TABLE events ADD COLUMN request_id BIGINT;
CREATE TABLE experiments (
    experiment_id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    mode VARCHAR NOT NULL,            -- live | simulated
    status VARCHAR NOT NULL,          -- running | stopped
    arms VARCHAR NOT NULL,            -- JSON [{name, algorithm, version, share}]: control 1st
    slate INTEGER NOT NULL,
    explore DOUBLE NOT NULL,          -- chance that the lead slot shows a random item
    seed INTEGER NOT NULL,
    created_seq BIGINT NOT NULL,
    created_ts DOUBLE NOT NULL,
    stopped_ts DOUBLE,
    created_at TIMESTAMP NOT NULL,
    details VARCHAR                   -- JSON: simulation settings, ground truth per arm
);
CREATE TABLE impressions (
    experiment_id INTEGER NOT NULL,
    request_id BIGINT NOT NULL,       -- one list shown to one user
    arm VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    item_id INTEGER NOT NULL,
    position SMALLINT NOT NULL,       -- 1 is the top of the list
    score DOUBLE,
    propensity DOUBLE NOT NULL,       -- P(the arm shows this item here), for off-policy use
    ts DOUBLE NOT NULL,
    at_seq BIGINT NOT NULL,           -- the newest event when it was shown
    clicked BOOLEAN NOT NULL,
    liked BOOLEAN NOT NULL,
    disliked BOOLEAN NOT NULL,
    favorited BOOLEAN NOT NULL,
    rating DOUBLE,
    true_click DOUBLE                 -- simulated: the choice model's pick probability
);
CREATE INDEX impressions_request ON impressions (request_id);
CREATE INDEX impressions_experiment ON impressions (experiment_id);
