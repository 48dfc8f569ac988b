"""The app in a real browser: Streamlit served on localhost, Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium"
)
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
SHOTS = ROOT / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(db_path):
    port = free_port()
    env = os.environ | {"RECSYS_DB": str(db_path)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("streamlit did not start: " + (server.stdout.read() or ""))
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def page():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def test_like_in_the_browser_shows_what_was_learned(served, page):
    page.goto(f"{served}/?user=alice&algorithm=mf")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("heading", name="Simulator").wait_for()
    first_title = page.locator("[class*=st-key-card-]").first.inner_text()
    page.get_by_role("button", name="Like").first.click()
    page.get_by_text("Learned from your like").first.wait_for(timeout=15_000)
    page.wait_for_selector(IDLE, timeout=15_000)
    assert page.get_by_text("Before", exact=True).count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "simulator-after-like.png"), full_page=True)
    assert first_title.split("\n")[0][3:] in page.inner_text("body")  # shown in Before
