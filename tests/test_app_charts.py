"""Every chart of the pages saves a slide: the camera in its toolbar downloads it at 1920 x 1080
(laid out at 960 x 540, drawn twice as large) in the format of the sidebar's "Chart downloads"
setting, under a name that says what it shows. AppTest reads each chart's plotly config."""

from __future__ import annotations

import pytest

from recsys.engine import Engine
from recsys.experiments.simulation import simulate
from tests.apptest import chart_configs


def camera(image_format: str, filename: str) -> dict:
    """The config `draw_chart` gives a chart: what its toolbar's camera saves."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": image_format,
            "width": 960,
            "height": 540,
            "scale": 2,
            "filename": filename,
        },
    }


@pytest.fixture
def app(db_path, lab_app):
    """The app on a lab with alice's like and rating and a finished simulated A/B test of mf
    against popularity (written before the app opens the file): charts on three pages."""
    engine = Engine.open(db_path)
    try:
        liked, rated = engine.top("alice", 2, "mf")
        engine.interact("alice", int(liked), "like", algorithm="mf")
        engine.interact("alice", int(rated), "rating", value=4, algorithm="mf")
        simulate(engine, "mf,popularity", sessions=3, seed=1)
    finally:
        engine.close()
    lab_app.run()
    return lab_app


def open_page(app, page: str, tab: tuple[str, str] | None = None) -> dict[str, dict]:
    app.switch_page(page)
    if tab:
        app.session_state[tab[0]] = tab[1]
    app.run()
    assert not app.exception
    return chart_configs(app)


PAGES = [  # a page, the tab to open, the charts it draws and their file names
    ("views/versions.py", None, {"versions_metrics": "recsys-lab-model-versions-on-the-holdout"}),
    ("views/history.py", ("history_tab", "Timeline"), {"tl_chart": "recsys-lab-learning-timeline"}),
    (
        "views/experiments.py",
        ("ab_tab", "Results"),
        {
            "ab_curve": "recsys-lab-cumulative-click-through-rate-with-95-bands",
            "ab_lift": "recsys-lab-relative-lift-against-mf",
        },
    ),
]


def test_every_chart_saves_a_slide_in_the_format_the_sidebar_chose(app):
    assert app.button_group(key="chart_format").value == "PNG"  # the default
    for page, tab, names in PAGES:
        expected = {key: camera("png", name) for key, name in names.items()}
        assert open_page(app, page, tab) == expected, page

    app.button_group(key="chart_format").set_value("SVG").run()  # on the A/B tests page
    assert chart_configs(app) == {key: camera("svg", name) for key, name in names.items()}
    assert app.query_params["charts"] == "svg"  # a reload keeps it
    page, tab, names = PAGES[0]  # and so does every other page of the session
    assert open_page(app, page, tab) == {k: camera("svg", n) for k, n in names.items()}

    app.button_group(key="chart_format").set_value("PNG").run()
    assert chart_configs(app) == {k: camera("png", n) for k, n in names.items()}
    assert "charts" not in app.query_params


def test_a_link_with_charts_svg_opens_with_svg_downloads(lab_app):
    lab_app.query_params["charts"] = "svg"
    lab_app.run()
    assert not lab_app.exception
    assert lab_app.button_group(key="chart_format").value == "SVG"
    assert lab_app.query_params["charts"] == "svg"
