"""The app in a real browser: Streamlit served on localhost, Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import datafiles
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


CHANGED = """previous => {
    const e = document.querySelector('[data-testid=stAlertContentSuccess]');
    return e !== null && e.innerText !== previous && document.querySelector('.st-key-diff');
}"""


def test_like_in_the_browser_shows_what_was_learned(served, page):
    page.goto(f"{served}/?user=alice&algorithm=mf")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("heading", name="Simulator").wait_for()
    first_title = page.locator("[class*=st-key-card-]").first.inner_text().split("\n")[0]
    timings = []
    for click in range(5):
        shown = page.locator("[data-testid=stAlertContentSuccess]").all_inner_texts()
        started = time.perf_counter()
        page.get_by_role("button", name="Like").first.click()
        page.wait_for_function(CHANGED, arg=shown[0] if shown else "", timeout=20_000)
        timings.append(time.perf_counter() - started)  # click -> new message and diff shown
        page.wait_for_selector(IDLE, timeout=20_000)
        diff = page.locator(".st-key-diff").inner_text()
        assert "Before" in diff and "After" in diff
        if click == 0:
            assert first_title.split(". ", 1)[1] in diff  # the liked item, in Before
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "simulator-after-like.png"), full_page=True)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("Learned from your like").count() >= 1
    (SHOTS / "click-to-diff-seconds.txt").write_text(" ".join(f"{t:.3f}" for t in timings))
    print(f"browser click -> diff visible (s): {[round(t, 3) for t in timings]}")


def test_presenter_mode_and_autopilot_in_the_browser(served, page):
    page.goto(f"{served}/?user=sci-fi-fan&algorithm=mf&presenter=1")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_label("Steps").fill("8")
    page.get_by_label("Steps").press("Enter")
    page.wait_for_selector(IDLE, timeout=15_000)
    page.get_by_role("button", name="Run autopilot").click()
    page.get_by_text("made 8 visits").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=15_000)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator(".st-key-autopilot_chart, [data-testid=stPlotlyChart]").count() >= 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "presenter-autopilot.png"), full_page=True)


def test_a_deep_link_to_a_page_works_as_the_very_first_request(served, page):
    # The very first request of a server, straight to a page: app.py runs it (no pages/ folder).
    page.goto(f"{served}/parameters?user=alice&algorithm=item_knn")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("heading", name="Parameters").wait_for()
    page.get_by_text("neighbours (1 to 500, default 30)").wait_for()
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("Who are you?").count() == 1  # app.py's sidebar is there


def test_versions_and_history_in_the_browser(served, page):
    # Like twice, train and roll back on Model versions, then see it all on Learning history.
    page.goto(f"{served}/?user=alice&algorithm=mf")
    page.wait_for_selector(IDLE, timeout=60_000)
    for _ in range(2):
        page.get_by_role("button", name="Like").first.click()
        page.wait_for_selector(IDLE, timeout=20_000)
    page.get_by_role("link", name="Model versions").click()
    page.get_by_role("heading", name="Model versions").wait_for()
    page.wait_for_selector(IDLE, timeout=20_000)
    page.get_by_role("button", name="Train a new version now").click()
    page.get_by_text("trained in").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=20_000)
    rollback = page.get_by_role("button", name="Roll back to")
    if rollback.count() and rollback.is_enabled():
        rollback.click()
        page.get_by_text("Rolled back").wait_for(timeout=30_000)
    page.wait_for_selector(IDLE, timeout=20_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "model-versions.png"), full_page=True)
    page.get_by_role("link", name="Learning history").click()
    page.get_by_role("heading", name="Learning history").wait_for()
    page.wait_for_selector(IDLE, timeout=20_000)
    page.get_by_text("interaction").first.wait_for(timeout=20_000)
    page.get_by_role("tab", name="Time travel").click()
    page.get_by_text("At seq").first.wait_for(timeout=30_000)
    page.wait_for_selector(IDLE, timeout=20_000)
    page.screenshot(path=str(SHOTS / "time-travel.png"), full_page=True)
    page.get_by_role("tab", name="Journey").click()
    page.get_by_text("Bump chart").wait_for(timeout=30_000)
    page.wait_for_selector(IDLE, timeout=20_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(SHOTS / "journey.png"), full_page=True)


def test_ab_tests_page_in_the_browser(served, page):
    # Run a simulated A/B test from the form and read its statistics and charts.
    page.goto(f"{served}/experiments")
    page.get_by_role("heading", name="A/B tests").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("tab", name="New experiment").click()
    page.get_by_role("button", name="Create").wait_for(timeout=20_000)
    page.get_by_role("button", name="Create").click()
    page.get_by_text("impressions at").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=30_000)
    page.get_by_text("Per arm", exact=True).wait_for()
    page.get_by_text("Sample ratio").first.wait_for()
    charts = page.locator("[data-testid=stPlotlyChart]")
    charts.nth(1).scroll_into_view_if_needed()
    charts.nth(1).wait_for(timeout=30_000)
    assert page.locator("[data-testid=stException]").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "ab-tests.png"), full_page=True)
    page.get_by_role("tab", name="Sample size").click()
    size = page.get_by_role("tabpanel", name="Sample size")
    # The metric's label; the table below it names a column "users per arm" too (a second
    # match once the grid has drawn, so a plain text match failed only on a slow machine).
    size.get_by_test_id("stMetricLabel").get_by_text("Users per arm", exact=True).wait_for(
        timeout=20_000
    )
    assert page.locator("[data-testid=stException]").count() == 0


def downloaded_report(served: str, page, tmp_path: Path) -> Path:
    """alice likes her top card, then the sidebar's Session report is saved: the file's path."""
    page.goto(f"{served}/?user=alice&algorithm=mf")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("button", name="Like").first.click()
    page.wait_for_selector(IDLE, timeout=20_000)
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Session report").click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    return saved


def test_session_report_downloads_and_opens_offline_with_its_charts(served, page, tmp_path):
    saved = downloaded_report(served, page, tmp_path)
    fetched = []
    offline = page  # the app is done with; from here on nothing but the file may load
    offline.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("file:")
            else (fetched.append(route.request.url), route.abort())
        ),
    )
    offline.goto(saved.as_uri())
    offline.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    assert offline.locator(".js-plotly-plot").count() >= 2
    assert offline.get_by_text("Interactions and what the model learned").count() == 1
    assert fetched == []
    SHOTS.mkdir(exist_ok=True)
    offline.screenshot(path=str(SHOTS / "session-report.png"))


# -- the Data page: importing files, scenario links -----------------------------------------


@pytest.fixture
def kept_uploads():
    """Remove the folders an upload kept under data/datasets during the test (and only those)."""
    from recsys.data.lab import DATASETS_DIR

    existed = DATASETS_DIR.exists()
    before = set(DATASETS_DIR.iterdir()) if existed else set()
    yield
    if DATASETS_DIR.exists():
        for folder in set(DATASETS_DIR.iterdir()) - before:
            shutil.rmtree(folder)
        if not existed:
            DATASETS_DIR.rmdir()


def lab_caption(page) -> str:
    return page.get_by_text("The lab now holds").inner_text()


# Counts the script runs the page starts, so a test can wait for the rerun a click caused even
# when that rerun draws the same text as before (a second rejection of the same files).
WATCH_RUNS = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    window.scriptRuns = 0;
    if (window.watchingRuns) return;
    window.watchingRuns = true;
    // Any change means a run started (it was idle before): the callback may come too late
    // to see the 'running' state itself.
    new MutationObserver(records => {
        window.scriptRuns += records.length;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def rerun_after(page, act) -> None:
    """Do `act` (a click, an upload) and wait until the run it started has finished. A click
    that lands while the page is redrawing the element can do nothing (as with tabs, see
    `open_tab`; seen here on the Data page's remove buttons about one run in three), so if no
    run starts within 15 s the act is done once more, when its element is still there; when it
    is gone the first act did its work and its short run went unseen, and what follows in the
    test checks the page it left."""
    page.evaluate(WATCH_RUNS)
    act()
    try:
        page.wait_for_function("() => window.scriptRuns > 0", timeout=15_000)
    except playwright.TimeoutError:
        try:
            act()
            page.wait_for_function("() => window.scriptRuns > 0", timeout=30_000)
        except playwright.TimeoutError:
            pass
    page.wait_for_selector(IDLE, timeout=60_000)


def open_tab(page, name: str, inside: str) -> None:
    """Open a tab that reruns the page, and wait for something inside it. A click that lands
    while the page is still finishing a run can hit a tab being redrawn and do nothing (seen
    once in CI), so it is repeated until the tab's content shows."""
    for _ in range(3):
        page.get_by_role("tab", name=name).click()
        try:
            page.locator(inside).wait_for(state="attached", timeout=20_000)
            break
        except playwright.TimeoutError:
            continue
    page.locator(inside).wait_for(state="attached", timeout=20_000)
    page.wait_for_selector(IDLE, timeout=60_000)


def test_import_lab_csv_files_in_the_browser(served, page, tmp_path, kept_uploads):
    good = datafiles.write_lab(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(good / "items.csv", bad / "items.csv")
    lines = (good / "interactions.csv").read_text().splitlines()
    fields = lines[3].split(",")  # line 4 of the file: a rating that is no number
    fields[2:4] = ["rating", "lots"]
    lines[3] = ",".join(fields)
    (bad / "interactions.csv").write_text("\n".join(lines) + "\n")
    rejected = "nothing was imported and the lab is unchanged"

    page.goto(f"{served}/data?user=alice&algorithm=mf")
    page.get_by_role("heading", name="Data").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    assert "300 items" in lab_caption(page)
    open_tab(page, "Import data", ".st-key-import_files_lab input[type=file]")
    page.get_by_text("Lab CSV").click()  # the default format: no rerun
    assert page.get_by_role("radio", name="Lab CSV").is_checked()
    files = page.locator(".st-key-import_files_lab input[type=file]")
    rerun_after(page, lambda: files.set_input_files([bad / "items.csv", bad / "interactions.csv"]))

    rerun_after(page, page.get_by_role("button", name="Check (dry run)").click)
    page.get_by_text(rejected).wait_for()
    problem = page.locator("[data-testid=stDataFrame] tbody tr", has_text="'lots' is not")
    problem.wait_for(state="attached", timeout=20_000)  # glide's cells live inside a canvas
    assert problem.locator("[role=gridcell]").all_inner_texts() == [
        "interactions.csv",
        "4",
        "value 'lots' is not a number",
    ]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "data-import-rejected.png"), full_page=True)
    importing = page.get_by_role("button", name="Import and replace the lab")
    assert importing.is_disabled()  # until the replacement is confirmed
    rerun_after(page, page.get_by_text("Replace the current lab").click)
    rerun_after(page, importing.click)
    page.get_by_text(rejected).wait_for()
    assert "300 items" in lab_caption(page)  # the lab is unchanged

    for name in ("items.csv", "interactions.csv"):
        rerun_after(page, page.get_by_role("button", name=f"Remove {name}").click)
    page.get_by_text("Upload the files to preview them").wait_for()
    rerun_after(
        page, lambda: files.set_input_files([good / "items.csv", good / "interactions.csv"])
    )
    rerun_after(page, page.get_by_role("button", name="Check (dry run)").click)
    page.get_by_text("Valid: 60 items, 40 users and 814 interactions").wait_for()
    assert "300 items" in lab_caption(page)  # a dry run changes nothing
    found = page.locator("[data-testid=stTable]", has_text="what the check found")
    assert "mean rating" in found.inner_text()  # labelled rows, not an unlabelled JSON tree
    assert page.locator("[data-testid=stMain] [data-testid=stJson]").count() == 0
    confirm = page.get_by_role("checkbox", name="Replace the current lab")
    if not confirm.is_checked():  # the uploader was emptied in between: asked again
        rerun_after(page, page.get_by_text("Replace the current lab").click)
    rerun_after(page, page.get_by_role("button", name="Import and replace the lab").click)
    page.get_by_text("Every page now works on it").wait_for(timeout=10_000)  # the toast
    caption = lab_caption(page)
    assert "(imported lab data): 60 items, 40 users, 729 events" in caption
    page.screenshot(path=str(SHOTS / "data-imported.png"), full_page=True)

    page.get_by_role("combobox", name="Who are you?").click()
    page.keyboard.type("user01")
    rerun_after(page, page.get_by_role("option", name="user01", exact=True).click)
    page.get_by_text("A user of the imported dataset, with their real history.").wait_for()
    assert page.get_by_role("combobox", name="Who are you?").input_value() == "user01"
    assert page.locator("[data-testid=stException]").count() == 0


@pytest.fixture
def tiny_scenario(db_path):
    """A small saved scenario in the lab the server will open."""
    from recsys.data import scenarios
    from recsys.engine import Engine
    from tests.test_app_data import TINY

    engine = Engine.open(db_path)
    try:
        scenarios.save(engine.store, TINY)
    finally:
        engine.close()
    return TINY


def test_a_scenario_link_opens_its_page_in_the_browser(tiny_scenario, served, page):
    page.goto(f"{served}/?scenario=tiny-ab")
    page.get_by_role("heading", name="A/B tests").wait_for(timeout=90_000)
    page.get_by_text("Scenario tiny-ab loaded.").wait_for(timeout=20_000)  # the toast
    page.wait_for_selector(IDLE, timeout=30_000)
    assert page.url.startswith(f"{served}/experiments?")
    assert "user=sci-fi-fan" in page.url and "algorithm=item_knn" in page.url
    assert "scenario=" not in page.url  # reloading the page does not load it again
    assert page.get_by_role("combobox", name="Who are you?").input_value() == "sci-fi-fan"
    assert page.get_by_role("combobox", name="Algorithm").input_value() == "item_knn"
    experiment = page.get_by_role("combobox", name="Experiment")  # its experiment's results
    assert experiment.input_value().startswith("knn vs pop")
    page.get_by_text("Per arm", exact=True).wait_for()
    assert page.locator("[data-testid=stException]").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "scenario-link.png"), full_page=True)
