"""Autopilot measured against the ground truth: the list shown, the oracle's and popularity's.

Every expected number is recomputed here from the hidden truth (`Store.ground_truth`, the
persona's taste), the event log and the `popularity` model's scores, not read back from the
code under test. Whether a learner closes the gap is the bench's question (`bench --loop`), not
a test's.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace

import numpy as np
import pytest

from recsys import simulation
from recsys.bench.loop import NOT_PERSONALISED, live_loop_table
from recsys.choice import ChoiceModel, true_utilities
from recsys.cli.main import main
from recsys.data.importer import read_path
from recsys.data.lab import load_dataset
from recsys.engine import Engine
from recsys.simulation import autopilot, gap_closed, summary
from tests.datafiles import write_lab

K = 10
PERSONA = "sci-fi-fan"


def persona_utility(engine: Engine, persona: str) -> np.ndarray:
    features, quality = engine.store.ground_truth()
    taste = engine.personas.set_index("name").loc[persona, "taste"]
    return true_utilities(features, quality, np.asarray(taste, dtype=np.float64))[0]


def state_of(engine: Engine, user: str, utility: np.ndarray) -> dict:
    """The oracle's and popularity's lists for `user` now, from the log and the truth."""
    events = engine.store.events()
    seen = set(events.item[events.user == user].tolist())
    unseen = np.array([i for i in range(engine.catalog.n) if i not in seen])
    by_utility = unseen[np.lexsort((unseen, -utility[unseen]))][:K]
    scores = engine.model("popularity").score(user)
    by_score = unseen[np.lexsort((unseen, -scores[unseen]))][:K]
    return {"oracle": by_utility.tolist(), "popularity": by_score.tolist(), "seen": seen}


def ctr(items: list[int], utility: np.ndarray) -> float:
    return 1.0 - ChoiceModel().probabilities(utility[items][None, :])[0, -1]


def run_watched(engine: Engine, steps: int, **options) -> tuple[list, list[dict]]:
    """autopilot(), with the state before every visit recomputed by the test."""
    user = options.get("user", PERSONA)
    utility = persona_utility(engine, PERSONA)
    states = [state_of(engine, user, utility)]
    records = autopilot(
        engine,
        PERSONA,
        steps,
        k=K,
        progress=lambda i, n: states.append(state_of(engine, user, utility)),
        **options,
    )
    return records, states[:-1]


def test_every_visit_is_scored_against_the_truth(engine):
    utility = persona_utility(engine, PERSONA)
    records, states = run_watched(engine, 12, algorithm="mf", seed=4)
    assert len(records) == len(states) == 12
    for record, state in zip(records, states, strict=True):
        assert not state["seen"] & set(record.shown)  # the learner shows nothing seen either
        assert record.true_utility == pytest.approx(utility[record.shown].mean())
        assert record.oracle_utility == pytest.approx(utility[state["oracle"]].mean())
        assert record.popularity_utility == pytest.approx(utility[state["popularity"]].mean())
        assert record.true_ctr == pytest.approx(ctr(record.shown, utility))
        assert record.oracle_ctr == pytest.approx(ctr(state["oracle"], utility))
        assert record.popularity_ctr == pytest.approx(ctr(state["popularity"], utility))
        assert record.oracle_utility >= record.true_utility - 1e-12
        assert record.oracle_utility >= record.popularity_utility - 1e-12
        # Best first is the best order under position bias: no list of unseen items beats it.
        assert record.oracle_ctr >= max(record.true_ctr, record.popularity_ctr) - 1e-12
        assert 0.0 <= record.true_ctr <= 1.0 and 0.0 <= record.popularity_ctr <= 1.0
        assert record.precision == len(set(state["oracle"]) & set(record.shown)) / K


def test_the_summary_leads_with_the_gap_and_computes_it_from_the_means(engine):
    records = autopilot(engine, PERSONA, 12, algorithm="item_knn", seed=2)
    result = summary(records)
    assert list(result)[:4] == [
        "true_utility_last5",
        "oracle_utility_last5",
        "popularity_utility_last5",
        "gap_closed_last5",
    ]
    for part, chosen in (("last5", records[-5:]), ("first5", records[:5])):
        true, oracle, popular = (
            np.mean([getattr(r, f"{name}_utility") for r in chosen])
            for name in ("true", "oracle", "popularity")
        )
        assert result[f"true_utility_{part}"] == pytest.approx(true)
        assert result[f"gap_closed_{part}"] == pytest.approx((true - popular) / (oracle - popular))
        assert result[f"true_ctr_{part}"] == pytest.approx(np.mean([r.true_ctr for r in chosen]))
    assert result["steps"] == 12 and len(result["records"]) == 12

    # By construction: the oracle's own lists close the whole gap, popularity's none of it.
    as_oracle = [replace(r, true_utility=r.oracle_utility) for r in records]
    as_popularity = [replace(r, true_utility=r.popularity_utility) for r in records]
    assert summary(as_oracle)["gap_closed_last5"] == pytest.approx(1.0)
    assert summary(as_popularity)["gap_closed_last5"] == pytest.approx(0.0)
    assert gap_closed(2.0, 1.0, 1.0) is None and gap_closed(None, 2.0, 1.0) is None


def test_popularity_as_the_learner_is_exactly_the_floor(engine):
    records = autopilot(engine, PERSONA, 6, algorithm="popularity", seed=1, user="pop-1")
    assert all(r.true_utility == r.popularity_utility for r in records)
    assert summary(records)["gap_closed_last5"] == 0.0
    assert engine.last_seq == engine.store.max_seq()  # measuring wrote no event of its own


def test_a_fresh_user_starts_from_nothing_with_the_persona_taste(engine):
    before = len(engine.history(PERSONA, 10_000))
    assert "fresh-1" not in engine.users()
    utility = persona_utility(engine, PERSONA)
    records, states = run_watched(engine, 5, algorithm="mf", seed=3, user="fresh-1")
    assert states[0]["seen"] == set()
    best = np.sort(utility)[::-1][:K]  # nothing seen: the oracle is the catalog's best
    assert records[0].oracle_utility == pytest.approx(best.mean())
    assert all(r.picked_utility == pytest.approx(utility[r.picked]) for r in records if r.picked)
    assert engine.users()["fresh-1"] == "persona"
    users = engine.store.users().set_index("user_id")
    assert users.loc["fresh-1", "persona"] == PERSONA
    assert len(engine.history(PERSONA, 10_000)) == before  # the persona's own id did nothing
    assert len(engine.history("fresh-1", 10_000)) == summary(records)["events"]


def test_same_seed_same_records_and_measuring_changes_no_pick(
    engine, small_world_file, tmp_path, monkeypatch
):
    def run_on_a_copy(name: str) -> list[dict]:
        path = tmp_path / f"{name}.duckdb"
        shutil.copy(small_world_file, path)
        other = Engine.open(path)
        try:
            return [asdict(r) for r in autopilot(other, PERSONA, 8, algorithm="mf", seed=5)]
        finally:
            other.close()

    first = [asdict(r) for r in autopilot(engine, PERSONA, 8, algorithm="mf", seed=5)]
    assert run_on_a_copy("again") == first
    monkeypatch.setattr(simulation, "_measure", lambda *args: None)  # nobody measures
    unmeasured = run_on_a_copy("unmeasured")
    assert unmeasured[0]["true_utility"] is None
    picks = [(r["shown"], r["picked"], r["kinds"]) for r in first]
    assert [(r["shown"], r["picked"], r["kinds"]) for r in unmeasured] == picks


def test_cli_simulate_reports_the_three_lists(db_path, capsys):
    argv = ["--db", str(db_path), "simulate", "--persona", PERSONA, "--steps", "6"]
    assert main([*argv, "--user", "cli-fresh", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 6 and result["gap_closed_last5"] is not None
    assert {"true_ctr", "oracle_utility", "popularity_utility"} <= set(result["records"][0])
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "oracle (ceiling)" in text and "popularity (floor)" in text and "gap closed" in text
    assert main([*argv, "--user", "tab\there"]) == 2  # spaces are fine (issue 16), tabs not


def test_an_imported_lab_is_measured_against_its_semi_synthetic_truth(engine, tmp_path):
    folder = write_lab(tmp_path / "lab")
    report = read_path("lab", folder)
    assert report.ok, report.text()
    load_dataset(engine, report, path=folder)
    persona = engine.personas["name"].iloc[0]
    features, quality = engine.store.ground_truth()
    taste = np.asarray(engine.personas.set_index("name").loc[persona, "taste"], dtype=float)
    utility = true_utilities(features, quality, taste)[0]
    records = autopilot(engine, persona, 6, seed=1, user="imported-fresh")
    assert records[0].oracle_utility == pytest.approx(np.sort(utility)[::-1][:K].mean())
    for r in records:
        assert r.true_utility == pytest.approx(utility[r.shown].mean())
        assert r.oracle_utility >= max(r.true_utility, r.popularity_utility) - 1e-12
    assert summary(records)["oracle_utility_last5"] is not None


def test_the_loop_bench_runs_fresh_users_on_copies(db_path):
    result = live_loop_table(
        db_path, ["popularity", "mf"], ["sci-fi-fan", "romance-lover"], seeds=(1,), visits=3
    )
    popularity = result["algorithms"]["popularity"]
    assert popularity["gap_closed"] == {"sci-fi-fan": 0.0, "romance-lover": 0.0}
    assert popularity["reached"] == 0 and popularity["note"] == NOT_PERSONALISED
    assert set(result["algorithms"]["mf"]["gap_closed"]) == {"sci-fi-fan", "romance-lover"}
    assert "note" not in result["algorithms"]["mf"]
    assert "sci-fi" in result["text"] and "popularity" in result["text"]
    source = Engine.open(db_path)  # copied, never written
    try:
        assert not any(u.startswith("loop-") for u in source.users())
    finally:
        source.close()


def test_the_persona_skips_what_it_passes_over_and_those_skips_carry_no_reward(engine):
    """Skip-above: every item shown above the pick is logged as a skip marked `passed_over`
    (a relative judgement, no reward); a skip of a list the persona turned away from stays 0."""
    from recsys.lifecycle.policies import PASSED_OVER, reward

    records = autopilot(engine, PERSONA, 12, seed=3, user="skipper")
    events = engine.store.events()
    mine = np.flatnonzero(events.user == "skipper")
    contexts = events.contexts()
    logged = [(int(events.item[i]), events.kind[i], contexts[i] or {}) for i in mine]
    position = 0
    for record in records:
        expected = []
        if record.picked is not None:
            above = record.shown[: record.shown.index(record.picked)]
            expected = [(item, "skip", True) for item in above]
        got = logged[position : position + len(record.kinds)]
        position += len(record.kinds)
        passed = [(i, k, bool(c.get(PASSED_OVER))) for i, k, c in got if c.get(PASSED_OVER)]
        assert passed == expected
    assert position == len(logged)
    assert reward("skip", None, {PASSED_OVER: True}) is None
    assert reward("skip", None, {"device": "tv"}) == 0.0
    assert reward("like", None, {PASSED_OVER: True}) == 1.0
