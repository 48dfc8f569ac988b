"""What only a browser shows: every column of the A/B tables fits a 1440 x 900 window, the
session report downloaded from the app draws its bars, lines and legend in colour, and a
chart's toolbar saves it for a slide (1920 x 1080, PNG and SVG) on a page and in the report."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from recsys.data.report import session_report
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


# A chart's toolbar buttons: plotly's camera (its title says PNG only when it saves a PNG)
# and the session report's SVG button.
PNG_BUTTON = ".modebar-btn[data-title='Download plot as a PNG']"
CAMERA = ".modebar-btn[data-title='Download plot']"
SVG_BUTTON = ".modebar-btn[data-title='Download plot as an SVG (1920 x 1080)']"


def saved_by(page, button, tmp_path: Path) -> Path:
    """Clicks `button` (a modebar button: the mouse on it shows the toolbar first) and saves
    the file it downloads under its own name: the path."""
    with page.expect_download(timeout=60_000) as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    return saved


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (right after the 8-byte signature)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


def svg_size(path: Path) -> tuple[str, str]:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    return root.get("width"), root.get("height")


def test_a_pages_chart_saves_a_slide_as_png_then_as_svg(served, page, tmp_path):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{served}/versions?algorithm=mf")
    page.wait_for_selector(IDLE, timeout=60_000)
    chart = page.locator(".st-key-versions_metrics .js-plotly-plot")
    chart.wait_for(timeout=30_000)
    png = saved_by(page, chart.locator(PNG_BUTTON), tmp_path)
    assert png.name == "recsys-lab-model-versions-on-the-holdout.png"
    assert png_size(png) == (1920, 1080)

    page.locator(".st-key-chart_format").get_by_role("radio", name="SVG").click()
    page.wait_for_selector(IDLE, timeout=30_000)
    camera = chart.locator(CAMERA)
    camera.wait_for(state="attached", timeout=30_000)
    chart.hover()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "chart-toolbar-svg.png"))
    svg = saved_by(page, camera, tmp_path)
    assert svg.name == "recsys-lab-model-versions-on-the-holdout.svg"
    assert svg_size(svg) == ("1920", "1080")


def test_every_chart_of_the_report_saves_a_slide_as_png_and_as_svg(
    lab_with_an_experiment, page, tmp_path
):
    engine = Engine.open(lab_with_an_experiment)
    try:
        report = tmp_path / "report.html"
        report.write_text(session_report(engine, "alice", "mf"))
    finally:
        engine.close()
    fetched = []
    page.route(  # the report works offline: nothing but the file may load
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("file:")
            else (fetched.append(route.request.url), route.abort())
        ),
    )
    page.goto(report.as_uri())
    charts = page.locator(".js-plotly-plot")
    svg_buttons = page.locator(SVG_BUTTON)
    svg_buttons.first.wait_for(state="attached", timeout=30_000)
    assert charts.count() == 3  # events per day, the versions' NDCG, the A/B curve
    assert svg_buttons.count() == page.locator(PNG_BUTTON).count() == 3
    first = charts.first
    png = saved_by(page, first.locator(PNG_BUTTON), tmp_path)
    assert png.name == "recsys-lab-live-and-simulated-events-per-lab-day.png"
    assert png_size(png) == (1920, 1080)
    svg = saved_by(page, first.locator(SVG_BUTTON), tmp_path)
    assert svg.name == "recsys-lab-live-and-simulated-events-per-lab-day.svg"
    assert svg_size(svg) == ("1920", "1080")
    SHOTS.mkdir(exist_ok=True)
    first.hover()
    page.screenshot(path=str(SHOTS / "report-chart-toolbar.png"))
    assert fetched == []
