"""The guided defense tour (issue 19): eight steps performed from the seeded world, the same
every rehearsal, on the page with Next, Previous, Rehearse again and a handout."""

from __future__ import annotations

import re

import pytest

from recsys import tour as story
from recsys.errors import RecsysError
from recsys.ui.state import engine_for
from tests.apptest import chart_configs
from tests.test_app_data import shown

# What the camera of every chart saves (tests/test_app_charts.py): PNG, 1920 x 1080.
SLIDE = {"format": "png", "width": 960, "height": 540, "scale": 2, "filename": ""}
KEYS = ["fresh", "like", "model", "autopilot", "history", "retrain", "ab", "drift"]


@pytest.fixture(scope="module")
def toured(tmp_path_factory):
    """The whole tour run twice (a rehearsal between) on the world a presenter starts from,
    the README's default (movies, seed 42): the story's claims are checked where it is told."""
    from recsys.engine import Engine

    engine = Engine.create(tmp_path_factory.mktemp("tour") / "lab.duckdb", "movies", 42)
    try:
        tour = story.Tour("mf")
        story.advance(engine, tour, len(story.DEFENSE) - 1)
        first = {key: story.outcome(key, tour.results[key]) for key in tour.results}
        results = dict(tour.results)
        seeded = int(engine.meta["history_through_seq"])
        story.rehearse(engine, tour)
        after_rehearsal = (engine.last_seq, list(tour.results))
        story.advance(engine, tour, len(story.DEFENSE) - 1)
        second = {key: story.outcome(key, tour.results[key]) for key in tour.results}
        policy = engine.lifecycle.policy
        yield first, second, results, seeded, after_rehearsal, policy
    finally:
        engine.close()


def test_the_tour_has_eight_steps_in_the_storys_order():
    assert [s.key for s in story.DEFENSE] == KEYS
    assert all(s.title and len(s.notes) > 60 for s in story.DEFENSE)


def timeless(outcomes: dict[str, str]) -> dict[str, str]:
    """The outcomes without the seconds things took (the machine's, not the story's)."""
    return {key: re.sub(r"in \d+\.\d+ s", "in … s", text) for key, text in outcomes.items()}


def test_every_rehearsal_performs_the_same_tour(toured):
    first, second, *_ = toured
    assert list(first) == KEYS
    # Reset to the seeded world, with the lab's seeds: the same story, word for word.
    assert timeless(second) == timeless(first)


def test_rehearse_again_goes_back_to_the_seeded_world(toured):
    _, _, _, seeded, (last_seq, done), policy = toured
    assert last_seq == seeded and done == ["fresh"]
    # The drift step's sensitive detector was the step's own: the lab's policy is back.
    assert policy.retrain_ratings != 0


def test_each_step_shows_what_it_claims(toured):
    _, _, results, _, _, _ = toured
    like = results["like"]["step"]
    assert like.event.kind == "like" and like.event.user == story.VISITOR
    assert results["like"]["genre"] in like.before.items[[r.item for r in like.before.items].index(
        like.event.item)].genres  # fmt: skip
    assert results["model"]["affinity"][results["like"]["genre"]] > 0  # above the visitor's mean
    autopilot = results["autopilot"]["summary"]
    assert autopilot["steps"] == story.AUTOPILOT_VISITS
    assert autopilot["true_utility_last5"] > autopilot["popularity_utility_last5"]
    assert results["history"]["events"] > results["history"]["seeded"]
    assert results["retrain"]["result"]["algorithm"] == "mf"
    arms = [a["arm"] for a in results["ab"]["report"]["arms"]]
    assert arms == ["popularity", "mf"]
    verdict = results["ab"]["verdict"]
    assert (
        verdict.startswith("mf beats the control popularity") and "picked the right one" in verdict
    )
    drift = results["drift"]
    assert drift["alarms_before_shift"] == 0  # never an alarm before the shift
    assert drift["first_alarm_after_shift"] > drift["shift_seq"]
    assert [r["trigger"] for r in drift["retrains"]] == ["drift"]


def test_a_step_out_of_range_and_popularity_against_itself_are_clear_errors(engine):
    with pytest.raises(RecsysError, match="the tour has steps 1 to 8, not 9"):
        story.advance(engine, story.Tour(), 8)
    tour = story.Tour("popularity")
    tour.results = {key: {} for key in KEYS[:6]}
    with pytest.raises(RecsysError, match="against popularity: pick another one"):
        story.advance(engine, tour, 6)


def test_the_tour_page_from_its_link_to_the_last_step_and_back(lab_app, db_path):
    lab_app.query_params["tour"] = "defense"
    app = lab_app.run()
    assert not app.exception and app.title[0].value == "Defense tour"
    app.button(key="tour_start").click().run()
    engine = engine_for(str(db_path))
    charted = set()
    seeded = int(engine.meta["history_through_seq"])
    for index, step in enumerate(story.DEFENSE):
        assert not app.exception, (step.key, app.exception)
        assert app.session_state["tour_step"] == index
        tour = app.session_state["tour"]
        headline = story.outcome(step.key, tour.results[step.key])
        assert f"**{headline}**" in [m.value.replace("\\", "").replace("\u2060", "")
                                     for m in app.markdown], step.key  # fmt: skip
        assert any(step.notes[:40] in i for i in shown(app.info))
        for key, config in chart_configs(app).items():  # each step's charts save slides too
            assert config["toImageButtonOptions"] | {"filename": ""} == SLIDE, step.key
            charted.add(key)
        if index < len(story.DEFENSE) - 1:
            app.button(key="tour_next").click().run()
    assert app.button(key="tour_next").disabled
    retrains = app.session_state["tour"].results["drift"]["retrains"]
    tables = [d.value for d in app.dataframe if "fit s" in d.value.columns]
    assert len(tables) == (1 if retrains else 0)  # read as words, not raw field names
    assert all("at_seq" not in t.columns and "at seq" in t.columns for t in tables)
    assert charted == {"tour_autopilot", "tour_history"}
    done = engine.last_seq
    app.button(key="tour_previous").click().run()
    assert app.session_state["tour_step"] == 6 and engine.last_seq == done  # nothing re-run

    from recsys.ui.tour import _handout

    handout = _handout(engine, app.session_state["tour"])
    assert handout.count("<li><b>") == len(story.DEFENSE)
    assert "Not run when this handout was made." not in handout  # every step ran
    assert "The defense tour, step by step" in handout and "<script" in handout
    tour_part = handout[: handout.index("<h2>Setup")]  # the steps' own charts, as on the page
    assert tour_part.count("return addSvgButton(") == 2
    assert "Autopilot against the truth" in tour_part
    assert "Events since the seeded world, by kind" in tour_part

    app.button(key="tour_again").click().run()
    assert not app.exception
    assert app.session_state["tour_step"] == 0 and engine.last_seq == seeded
    assert any(s.startswith("Back to the start in ") for s in shown(app.success))


def test_a_handout_made_mid_tour_says_which_steps_had_not_run(engine):
    """The handout is made when its button is clicked: steps not run by then are named as
    missing, not silently left out (a fast click during the last step lost it)."""
    from recsys.ui.tour import _handout

    tour = story.Tour("mf")
    story.advance(engine, tour, 1)  # the fresh visitor and the like
    handout = _handout(engine, tour)
    assert handout.count("<li><b>") == len(story.DEFENSE)
    assert handout.count("Not run when this handout was made.") == len(story.DEFENSE) - 2
