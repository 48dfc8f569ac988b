"""The session report: one HTML file with the setup, interactions, history, versions and A/B."""

from __future__ import annotations

import dataclasses
import html
import re

from recsys.cli.main import main
from recsys.data.report import session_report
from recsys.experiments.analysis import report
from recsys.experiments.simulation import simulate


def test_the_report_holds_every_section_and_works_offline(engine):
    steps = [engine.interact("ada", item, "like") for item in (3, 8, 13)]
    engine.lifecycle.train("mf", "manual", "always")
    simulate(engine, "mf,popularity", users=30, sessions=3, seed=1, name="defense run")
    page = session_report(engine)  # the last to act: ada
    for heading in ("Setup", "Interactions and what the model learned", "Learning history",
                    "Model versions of mf", "A/B tests"):  # fmt: skip
        assert f"<h2>{heading}" in page
    assert "<b>ada</b>" in page and steps[-1].title.replace("'", "&#x27;") in page
    newest = engine.version_store.latest_version_id("mf")
    assert f"<td>{newest}</td>" in page  # the retrain is in the versions table
    experiment = engine.experiments.get("defense run")
    verdict = report(engine.store, experiment)["verdict"]
    assert "defense run" in page and html.escape(verdict) in page
    # Offline: plotly's JavaScript is inlined in the head; the body loads nothing.
    head, body = page.split("</head>")
    assert "<script>" in head and len(head) > 1_000_000
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", body)
    assert body.count("Plotly.newPlot") >= 3
    # Every chart saves a slide: the camera a PNG, the button added after drawing an SVG.
    charts = body.count("Plotly.newPlot")
    assert body.count("addSvgButton(") == charts and "function addSvgButton" in head
    slides = re.findall(r'"toImageButtonOptions": (\{[^}]*\})', body)
    assert len(slides) == 2 * charts  # in plotly's config and in the button's
    assert '"filename": "recsys-lab-cumulative-click-through-rate"' in body
    for options in slides:
        assert re.fullmatch(
            r'\{"format": "png", "width": 960, "height": 540, "scale": 2, '
            r'"filename": "recsys-lab-[a-z0-9-]+"\}',
            options,
        )


def test_text_from_the_catalog_is_escaped(engine):
    titles = list(engine.catalog.titles)
    titles[3] = "<img src=x onerror=alert(1)>"
    engine.catalog = dataclasses.replace(engine.catalog, titles=tuple(titles))
    engine.interact("ada", 3, "like")
    page = session_report(engine, "ada")
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_report_from_the_command_line(db_path, tmp_path, capsys):
    out = tmp_path / "deep" / "report.html"
    assert main(["--db", str(db_path), "report", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "opens offline" in capsys.readouterr().out
    for bad, message in ((tmp_path, "is a folder"), (tmp_path / "r.pdf", "name the file .html")):
        assert main(["--db", str(db_path), "report", str(bad)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "r.pdf").exists()


def test_the_report_names_the_loaded_scenario_with_its_json(engine):
    import json

    from recsys.data import scenarios

    assert "No scenario loaded" in session_report(engine)
    setup = {
        "name": "tiny-ab",
        "title": "A tiny <A/B>",
        "description": "Popularity against mf on a small world.",
        "world": {"pack": "movies", "seed": 5, "sizes": {"n_items": 200, "n_users": 60}},
        "experiments": [{"name": "tiny", "arms": ["popularity", "mf"], "users": 40, "sessions": 2}],
    }
    scenarios.load(engine, setup)
    page = session_report(engine)
    assert "<h2>Scenario: A tiny &lt;A/B&gt;</h2>" in page
    assert "Popularity against mf on a small world." in page
    shown = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    assert json.loads(html.unescape(shown)) == scenarios.validate(setup)
    assert "imported" not in page.split("<h2>Setup</h2>")[1][:400]


def test_a_hostile_catalog_and_user_id_are_text_in_the_report(db_path, tmp_path):
    """Issue 17, kind 2: the report of a lab imported from HOSTILE_TEXT titles and tags."""
    from recsys.data.importer import read_path
    from recsys.data.lab import load_dataset
    from recsys.engine import Engine
    from tests.datafiles import HOSTILE_USER, write_hostile_lab

    folder = write_hostile_lab(tmp_path / "hostile")
    engine = Engine.open(db_path)
    try:
        load_dataset(engine, read_path("lab", folder), path=folder)
        steps = [engine.interact(HOSTILE_USER, item, "like") for item in (0, 4, 9)]
        page = session_report(engine, HOSTILE_USER)
    finally:
        engine.close()
    body = page.split("</head>")[1]
    for step in steps:  # each liked title, escaped
        assert html.escape(step.title) in body
    assert html.escape(HOSTILE_USER) in body and HOSTILE_USER not in body
    for raw in ("<b>bold</b>", "<script>alert(1)</script>"):
        assert raw not in body


def test_the_setup_table_reads_as_settings_not_json(engine):
    page = session_report(engine, "ada")
    setup = page[page.index("<h2>Setup") : page.index("</table>", page.index("<h2>Setup"))]
    config, policy = engine.model("mf").config.to_dict(), engine.lifecycle.policy.to_dict()
    assert f"factors = {config['factors']}, " in setup
    assert f"retrain_ratings = {policy['retrain_ratings']}" in setup
    flag = next(name for name, value in policy.items() if isinstance(value, bool))
    assert f"{flag} = {'on' if policy[flag] else 'off'}" in setup
    assert "{" not in setup and "&quot;" not in setup
