"""The policy counters read in two queries are the ten-query computation's, value for value."""

from __future__ import annotations

from recsys.algorithms import REGISTRY
from recsys.engine import Engine
from recsys.lifecycle.policies import counters


def ten_queries(engine: Engine, algorithm: str) -> dict:
    """`recsys.lifecycle.policies.counters` as it was: alias, version, last updates, counts."""
    store, registry = engine.store, engine.version_store
    production = registry.version(registry.alias(algorithm, "production"))
    through = production["trained_through_seq"]
    since = (through, store.counts_since(through, algorithm)[2])
    full = registry.last_update(algorithm, full=True) or since
    any_update = registry.last_update(algorithm, full=False) or full
    _, ratings, _ = store.counts_since(full[0], algorithm)
    events, _, _ = store.counts_since(any_update[0], algorithm)
    return {
        "events": events,
        "ratings": ratings,
        "minibatch_ts": any_update[1],
        "schedule_ts": full[1],
    }


def assert_same_counters(engine: Engine) -> None:
    for name in REGISTRY:
        found = counters(engine.store, engine.version_store, name)
        assert found == ten_queries(engine, name), name
        assert [type(v) for v in found.values()] == [int, int, float, float]


def test_counters_equal_the_old_computation_through_retrains_and_minibatches(engine):
    assert_same_counters(engine)  # seeded: no update yet, the versions' training counts
    engine.lifecycle.set_policy(
        {"retrain_ratings": 3, "minibatch_events": 4, "drift_detector": "off"}
    )
    kinds = ["rating", "like", "view", "rating", "click", "rating", "skip"]
    algorithms = ["mf", "popularity", "mf", "item_knn"]
    actions = []
    for i in range(40):
        kind = kinds[i % len(kinds)]
        step = engine.interact(
            f"sim-{i % 5:04d}",
            (i * 7) % engine.catalog.n,
            kind,
            4.0 if kind == "rating" else None,
            algorithm=algorithms[i % len(algorithms)],
        )
        actions += [a["kind"] for a in step.actions]
        if i % 9 == 0:
            assert_same_counters(engine)
    assert {"retrain", "minibatch"} <= set(actions)  # both kinds of update happened
    engine.lifecycle.train("item_knn", "manual", "always")
    assert_same_counters(engine)
