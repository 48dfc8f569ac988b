"""Who can reach the lab (issue 17, kind 7): by default only the computer it runs on; a lab
shared with a room asks for the host's token before anything replaces or erases it."""

from __future__ import annotations

import tomllib

import pytest
from streamlit import config

from recsys.ui.state import engine_for
from tests.apptest import lab_app_test
from tests.conftest import ROOT
from tests.test_app_data import open_data_tab, shown

TOKEN = "classroom-7Qx2"


def test_the_app_listens_on_localhost_by_default():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["address"] == "localhost"


def test_a_lab_on_localhost_asks_for_no_token(lab_app):
    lab_app.run()
    assert not lab_app.exception
    assert [t for t in lab_app.text_input if t.label == "Host token"] == []
    assert not any("Shared lab" in c for c in shown(lab_app.sidebar.caption))


def lab_state(db_path) -> tuple:
    """What a guarded action would change: the log, the world, the versions, the scenarios."""
    engine = engine_for(str(db_path))
    rows = engine.store.db.query(
        "SELECT (SELECT count(*) FROM events), (SELECT max(seq) FROM events), "
        "(SELECT count(*) FROM model_versions), (SELECT count(*) FROM scenarios)"
    )
    return rows[0], engine.meta.get("scenario"), engine.meta["seed"]


@pytest.fixture
def shared_app(lab_app, monkeypatch):
    monkeypatch.setenv("RECSYS_SHARE", "1")
    monkeypatch.setenv("RECSYS_SHARE_TOKEN", TOKEN)
    return lab_app


def refused(app, action: str) -> None:
    assert not app.exception
    assert any(f"This lab is shared on the network: to {action}, type the host's token" in e
               for e in shown(app.error)), shown(app.error)  # fmt: skip


def test_a_shared_lab_refuses_each_guarded_action_without_the_token(shared_app, db_path):
    app = shared_app
    app.run()
    engine = engine_for(str(db_path))
    engine.retrain("mf")  # a second mf version, which could be deleted
    before = lab_state(db_path)
    assert any("Shared lab: resetting, importing" in c for c in shown(app.sidebar.caption))

    app.button(key="reset_lab").click().run()
    refused(app, "reset the lab")

    open_data_tab(app, "Scenarios")
    app.checkbox(key="scenario_confirm").check().run()
    app.button(key="scenario_load_filter-bubble").click().run()
    refused(app, "load a scenario")

    app.switch_page("views/versions.py").run()
    production = engine.version_store.alias("mf", "production")
    versions = engine.version_store.versions("mf")["version_id"].tolist()
    app.selectbox(key="versions_pick").set_value(next(v for v in versions if v != production))
    app.run()
    app.button(key="versions_delete").click().run()
    refused(app, "delete a model version")
    assert lab_state(db_path) == before

    # A link is the same action, in a new browser: refused the same way.
    link = lab_app_test()
    link.query_params["scenario"] = "filter-bubble"
    link.run()
    refused(link, "load a scenario")
    assert lab_state(db_path) == before


def test_the_host_token_unlocks_the_guarded_actions_for_that_browser(shared_app, db_path):
    app = shared_app
    app.run()
    engine = engine_for(str(db_path))
    engine.interact("alice", int(engine.top("alice", 1, "mf")[0]), "like")
    seeded_seq = engine.last_seq

    app.text_input(key="share_token_typed").input("not-the-token").run()
    assert any("That is not the host's token" in e for e in shown(app.error))
    app.button(key="reset_lab").click().run()
    refused(app, "reset the lab")
    assert engine.last_seq == seeded_seq

    app.text_input(key="share_token_typed").input(f" {TOKEN} ").run()
    assert not app.exception and not app.error
    assert any("holds the host's token" in c for c in shown(app.sidebar.caption))
    app.button(key="reset_lab").click().run()
    assert not app.exception and not app.error
    assert engine.last_seq < seeded_seq  # back to the seeded world


def test_listening_beyond_localhost_shares_the_lab_with_a_token_printed_on_the_host(
    lab_app, db_path, monkeypatch, capfd
):
    monkeypatch.delenv("RECSYS_SHARE", raising=False)
    monkeypatch.delenv("RECSYS_SHARE_TOKEN", raising=False)
    address = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        lab_app.run()
    finally:
        config.set_option("server.address", address)
    assert not lab_app.exception
    printed = capfd.readouterr().err
    assert "type this token in its sidebar: " in printed
    token = printed.split("type this token in its sidebar: ")[1].split()[0]
    assert len(token) == 16  # 12 random bytes, URL-safe
    page = "\n".join(shown(lab_app.markdown) + shown(lab_app.caption) + shown(lab_app.error))
    assert token not in page  # only the host's terminal shows it
    assert any("Shared lab" in c for c in shown(lab_app.sidebar.caption))
