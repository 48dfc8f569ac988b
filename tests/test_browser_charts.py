"""What only a browser shows: every column of the A/B tables fits a 1440 x 900 window, and the
session report downloaded from the app draws its bars, lines and legend in colour."""

from __future__ import annotations

import pytest

from recsys.engine import Engine
from recsys.experiments.simulation import simulate
from tests import test_browser
from tests.test_browser import IDLE, SHOTS, downloaded_report

served, page = test_browser.served, test_browser.page

# The grid's own horizontal scroller: wider content than box means columns are cut off.
OVERFLOWING_GRIDS = """() => [...document.querySelectorAll('[data-testid=stDataFrame]')].map(d => {
    const s = d.querySelector('.dvn-scroller');
    const heads = [...d.querySelectorAll('[role=columnheader]')].map(h => h.textContent);
    return {heads: heads, content: s.scrollWidth, box: s.clientWidth};
})"""

# Every bar and legend swatch's fill and every line's stroke in the report's plotly SVGs.
PAINT = """() => {
    const paint = [];
    for (const e of document.querySelectorAll('.js-plotly-plot .bars path, .legendpoints path'))
        paint.push(['fill', getComputedStyle(e).fill]);
    for (const e of document.querySelectorAll('.js-plotly-plot .js-line, .legendlines path'))
        paint.push(['stroke', getComputedStyle(e).stroke]);
    return paint;
}"""


@pytest.fixture
def lab_with_an_experiment(db_path):
    """Requested before `served`, so the server opens it: the test's lab with a finished
    simulated A/B test and alice's live likes and rating (two kinds: the report's
    events-per-day bars get a legend)."""
    engine = Engine.open(db_path)
    try:
        liked, rated = engine.top("alice", 3, "mf")[:2], engine.top("alice", 3, "mf")[2]
        for item in liked:
            engine.interact("alice", int(item), "like", algorithm="mf")
        engine.interact("alice", int(rated), "rating", value=4, algorithm="mf")
        simulate(engine, "mf,popularity", sessions=3, seed=1)
    finally:
        engine.close()
    return db_path


def test_every_column_of_the_ab_tables_fits_1440_by_900(lab_with_an_experiment, served, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{served}/experiments")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_text("Against the control").wait_for(timeout=30_000)
    page.get_by_text("Always-valid", exact=True).click()  # the widest table: one more column
    page.get_by_text("always-valid CI", exact=True).wait_for(state="attached", timeout=30_000)
    page.wait_for_selector(IDLE, timeout=30_000)
    grids = page.evaluate(OVERFLOWING_GRIDS)
    assert len(grids) == 3  # traffic, the other metrics, the comparisons
    assert "always-valid CI" in grids[2]["heads"] and "avg rating (95 % CI)" in grids[1]["heads"]
    for grid in grids:
        assert grid["content"] <= grid["box"], grid
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "ab-tables-1440x900.png"))


def test_the_report_made_in_the_app_draws_in_colour(lab_with_an_experiment, served, page, tmp_path):
    page.goto(downloaded_report(served, page, tmp_path).as_uri())
    page.wait_for_selector(".js-plotly-plot .bars path", timeout=30_000)
    paint = page.evaluate(PAINT)
    kinds = {kind for kind, _ in paint}
    assert kinds == {"fill", "stroke"}  # bars, legend swatches and at least one line
    for kind, colour in paint:
        red, green, blue = (float(c) for c in colour[colour.index("(") + 1 : -1].split(",")[:3])
        # Streamlit's placeholders are rgb(0, 0, 1), rgb(0, 0, 2)...: black on paper.
        assert red + green + blue > 60, (kind, colour)
