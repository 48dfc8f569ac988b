"""The sample-size calculator's answer, simulated at the size it needs."""

from __future__ import annotations

import pytest

from recsys.errors import RecsysError
from recsys.experiments import stats
from recsys.experiments.sized import simulate_planned


def test_a_planned_test_runs_at_its_size_and_says_whether_it_reached_its_power(engine):
    run = simulate_planned(engine, "popularity", "mf", baseline=0.3, mde=0.2, seed=2)
    per_arm = stats.sample_size(0.3, 0.2)
    assert run["plan"] == {"baseline": 0.3, "mde": 0.2, "alpha": 0.05, "power": 0.8,
                           "per_arm": per_arm}  # fmt: skip
    report = run["report"]
    experiment = engine.experiments.get(report["experiment"]["name"])
    assert experiment.slate == 1 and experiment.details["sessions"] == 1
    assert experiment.details["users"] == 2 * per_arm > len(engine.experiments.simulated_people())
    assert sum(a["impressions"] for a in report["arms"]) == 2 * per_arm  # one trial each
    truth = run["truth"]
    assert truth["lift"] == pytest.approx(truth["treatment"] / truth["control"] - 1)
    assert run["power_had"] == pytest.approx(
        stats.power_of(truth["control"], truth["treatment"], per_arm)
    )
    measured = run["measured"]
    assert measured["detected"] == (measured["p_value"] < 0.05)
    assert run["reached"] == (
        measured["detected"] and (measured["lift"] > 0) == (truth["lift"] > 0)
    )
    assert run["sentence"].startswith("The test detected" if run["reached"] else "The test ")
    assert f"{per_arm:,} users per arm" in run["sentence"]


def test_a_test_too_large_to_simulate_is_refused_before_anything_is_written(engine):
    with pytest.raises(RecsysError, match="users per arm, more than a simulated run holds"):
        simulate_planned(engine, "popularity", "mf", baseline=0.08, mde=0.001)
    with pytest.raises(RecsysError, match="baseline"):
        simulate_planned(engine, "popularity", "mf", baseline=1.5, mde=0.1)
    assert engine.experiments.list() == []
