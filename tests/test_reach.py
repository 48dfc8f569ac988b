"""Who can reach the lab (issue 17, kind 7): by default only the computer it runs on."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_the_app_listens_on_localhost_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
