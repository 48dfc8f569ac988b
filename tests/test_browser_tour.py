"""The defense tour start to end in Chromium (issue 19), with the built-in default and with the
example plugin as the algorithm under test: the link opens it, Start runs the first step, the
right arrow key walks through the rest, each step shows its headline."""

from __future__ import annotations

import pytest

from recsys import tour as story
from tests import test_browser
from tests.conftest import ROOT
from tests.test_browser import IDLE, SHOTS

served, page = test_browser.served, test_browser.page


@pytest.fixture(params=["mf", "neighbours"])
def algorithm(request, monkeypatch):
    """The algorithm under test; the example plugin is loaded by the server (requested before
    `served`, so the server starts with it)."""
    monkeypatch.setenv("RECSYS_PLUGINS", str(ROOT / "plugins" / "example_plugin.py"))
    return request.param


def test_the_tour_runs_start_to_end_with_the_arrow_keys(algorithm, served, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{served}/?tour=defense")
    page.get_by_role("heading", name="Defense tour").wait_for(timeout=90_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    picker = page.get_by_role("combobox", name="Algorithm under test")
    picker.click()
    page.get_by_role("option", name=algorithm, exact=True).click()
    page.wait_for_selector(IDLE, timeout=60_000)
    assert picker.input_value() == algorithm
    page.get_by_role("button", name="Start the tour").click()
    SHOTS.mkdir(exist_ok=True)
    for index, step in enumerate(story.DEFENSE):
        heading = page.get_by_role("heading", name=step.title)
        heading.wait_for(timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        progress = f"Step {index + 1} of {len(story.DEFENSE)}: {step.title}"
        assert page.get_by_text(progress).count() == 1
        assert page.get_by_text(step.notes[:50]).count() == 1
        if step.key == "autopilot":  # the chart against the ground truth is drawn
            page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / f"tour-{algorithm}-{index + 1}-{step.key}.png"))
        if index < len(story.DEFENSE) - 1:
            page.locator("body").press("ArrowRight")
    assert page.get_by_text("Tastes shifted at seq").count() == 1
    assert page.get_by_text(f"{algorithm} beats the control popularity").count() == 0  # step 7
    page.locator("body").press("ArrowLeft")
    page.get_by_role("heading", name=story.DEFENSE[-2].title).wait_for(timeout=30_000)
    assert page.get_by_text(f"{algorithm} beats the control popularity").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
