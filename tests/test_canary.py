"""The canary as a first-class action: `Lifecycle.set_canary` / `clear_canary` /
`canary_status`, every change in the alias history, and the Model versions page's Canary tab."""

from __future__ import annotations

import pytest

from recsys.errors import RecsysError
from recsys.lifecycle.policies import canary_bucket
from recsys.ui.state import engine_for
from tests.apptest import shown


def canary_rows(engine, algorithm: str = "mf") -> list[tuple]:
    """The canary's audit rows, oldest first: (from, to, actor, reason)."""
    moves = engine.version_store.alias_history(algorithm)
    rows = moves[moves["alias"] == "canary"].iloc[::-1]
    return list(zip(rows["from"], rows["to"], rows["actor"], rows["reason"], strict=True))


def canary_state(engine) -> tuple:
    """What a canary change writes: the aliases, the alias history, the stored policy."""
    aliases = engine.version_store.aliases().to_dict("records")
    return aliases, len(engine.version_store.alias_history()), engine.store.meta().get("policy")


def split_users(share: float) -> tuple[str, str]:
    """A user the canary serves at `share` and one it does not."""
    users = [f"u{i}" for i in range(200)]
    inside = next(u for u in users if canary_bucket(u) < share)
    outside = next(u for u in users if canary_bucket(u) >= share)
    return inside, outside


def test_set_change_and_clear_are_served_and_recorded(engine):
    production = engine.version_store.alias("mf", "production")
    v2 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
    v3 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 9})["version"]
    engine.lifecycle.clear_canary("mf")  # v3 is the candidate, but no canary runs: no change
    assert canary_rows(engine) == [] and engine.version_store.alias("mf", "candidate") == v3

    status = engine.lifecycle.set_canary("mf", v2, 30)
    assert (status["candidate"], status["share"], status["serving"]) == (v2, 30.0, True)
    assert (status["candidate_label"], status["production_label"]) == ("v2", "v1")
    inside, outside = split_users(30)
    assert engine.serving(inside, "mf")["label"] == "v2"
    assert engine.serving(outside, "mf")["version"] == production

    engine.lifecycle.set_canary("mf", v2, 30)  # the same again: not a change, not recorded
    engine.lifecycle.set_canary("mf", v2, 60)
    engine.lifecycle.set_canary("mf", v3, 60)
    assert engine.serving(split_users(60)[0], "mf")["label"] == "v3"
    engine.lifecycle.clear_canary("mf")
    assert engine.version_store.alias("mf", "candidate") is None
    assert engine.lifecycle.policy.canary_share == 0  # no other algorithm has a candidate
    assert engine.serving(inside, "mf")["version"] == production
    assert canary_rows(engine) == [
        ("–", "v2", "user", "canary set: v2 serves 30 % of mf's users"),
        ("v2", "v2", "user", "canary share 30 % → 60 % (v2)"),
        ("v2", "v3", "user", "canary moved from v2 to v3 at 60 %"),
        (
            "v3",
            "–",
            "user",
            "canary cleared: production serves all of mf's users, v3 stays a version",
        ),
    ]
    assert {v2, v3} <= set(engine.version_store.versions("mf")["version_id"])  # kept


def test_live_metrics_count_what_each_side_served(engine):
    v2 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
    engine.lifecycle.set_canary("mf", v2, 50)
    inside, outside = split_users(50)
    for item in (3, 4, 5):
        engine.interact(inside, item, "like")
    engine.interact(inside, 6, "view")
    engine.interact(inside, 6, "click")
    engine.interact(outside, 7, "dislike")
    engine.interact(outside, 8, "view")
    status = engine.lifecycle.canary_status("mf")
    live = status["live"].set_index("label")
    canary, production = live.loc["v2"], live.loc["v1"]
    assert (canary["arm"], canary["users"], canary["events"], canary["likes"]) == (
        "candidate",
        1,
        5,
        3,
    )
    assert (canary["views"], canary["clicks"], canary["CTR"]) == (1, 1, 1.0)
    assert canary["like rate"] == pytest.approx(3 / 5)
    assert (production["events"], production["likes"], production["views"]) == (2, 0, 1)
    assert production["CTR"] == 0.0 and production["like rate"] == 0.0
    assert status["since_seq"] < engine.last_seq - 6  # counted from when the canary started


@pytest.mark.parametrize(
    ("pick", "share", "message"),
    [
        ("production", 10, "v1 is mf's production already"),
        ("knn", 10, "v2 is a item_knn version, not mf's"),
        ("candidate", 0, "above 0 and at most 100, got 0"),
        ("candidate", 150, "above 0 and at most 100, got 150"),
        ("candidate", "lots", "percent of users, got 'lots'"),
    ],
    ids=["production", "other-algorithm", "zero", "too-much", "not-a-number"],
)
def test_a_refused_canary_changes_nothing(engine, pick, share, message):
    versions = {
        "production": engine.version_store.alias("mf", "production"),
        "knn": engine.lifecycle.train("item_knn", "manual", "never")["version"],
        "candidate": engine.lifecycle.train("mf", "manual", "never")["version"],
    }
    before = canary_state(engine)
    with pytest.raises(RecsysError, match=message):
        engine.lifecycle.set_canary("mf", versions[pick], share)
    assert canary_state(engine) == before and engine.lifecycle.policy.canary_share == 0


def test_promoting_the_canary_ends_it_and_the_policy_share_is_audited_too(engine):
    v2 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
    engine.lifecycle.set_policy({"canary_share": 20})  # the policy form or `policy --set`
    engine.lifecycle.promote(v2, force=True)
    assert engine.version_store.alias("mf", "candidate") is None
    assert canary_rows(engine) == [
        ("–", "v2", "user", "canary share 0 % → 20 % (v2)"),
        ("v2", "–", "user", "canary ended: v2 became production (promotion)"),
    ]


# -- the page ---------------------------------------------------------------------------------


def test_the_canary_tab_starts_shows_and_rolls_back_a_canary(lab_app, db_path):
    app = lab_app
    app.run()
    engine = engine_for(str(db_path))
    v2 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
    app.switch_page("views/versions.py")
    app.session_state["versions_tab"] = "Canary"
    app.run()
    assert not app.exception
    assert any("No canary:" in m for m in shown(app.markdown))
    assert app.selectbox(key="canary_version").value == v2  # the candidate, preselected
    app.number_input(key="canary_share").set_value(25.0)
    next(b for b in app.button if "Start the canary" in b.label).click().run()
    assert not app.exception
    assert engine.version_store.alias("mf", "candidate") == v2
    assert engine.lifecycle.policy.canary_share == 25.0
    assert any("Canary: v2 serves 25 % of mf's users" in s for s in shown(app.success))
    assert any("Canary on:** v2 serves **25 %**" in m for m in shown(app.markdown))
    (live,) = [d.value for d in app.dataframe if "side" in d.value.columns]
    assert live["side"].tolist() == ["production", "canary"]
    assert live["label"].tolist() == ["v1", "v2"] and live["events"].tolist() == [0, 0]
    assert app.button(key="canary_promote").label == "Promote v2 to production"

    app.button(key="canary_rollback").click().run()
    assert not app.exception
    assert engine.version_store.alias("mf", "candidate") is None
    assert engine.lifecycle.policy.canary_share == 0
    assert any("Canary rolled back: production v1" in s for s in shown(app.success))
    app.session_state["versions_tab"] = "Updates and alias moves"
    app.run()
    (moves,) = [d.value for d in app.dataframe if "alias" in d.value.columns]
    canary = moves[moves["alias"] == "canary"]
    assert canary["reason"].tolist() == [
        "canary cleared: production serves all of mf's users, v2 stays a version",
        "canary set: v2 serves 25 % of mf's users",
    ]


def test_a_retrain_kept_back_during_a_canary_takes_its_share_on_the_record(engine):
    v2 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
    engine.lifecycle.set_canary("mf", v2, 40)
    info = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 9})
    assert info["outcome"].endswith("the canary serves v3 to 40 % of users")
    assert engine.lifecycle.canary_status("mf")["candidate_label"] == "v3"
    assert canary_rows(engine)[-1] == (
        "v2",
        "v3",
        "user",
        "canary moved to v3, the new candidate, at 40 % (trained (manual))",
    )
