"""A plugin in the browser: on the picker, and the Algorithms tab's check of an uploaded file,
which runs only after the confirmation (screenshots land in screenshots/)."""

from __future__ import annotations

import pytest

from tests import test_browser
from tests.plugin_files import EXAMPLE, broken, example_text, write
from tests.test_browser import IDLE, SHOTS, open_tab, rerun_after

served, page = test_browser.served, test_browser.page


@pytest.fixture
def with_plugin(monkeypatch):
    """Requested before `served`, so the server starts with the example plugin."""
    monkeypatch.setenv("RECSYS_PLUGINS", str(EXAMPLE))


def confirm(page) -> None:
    """Tick the confirmation and wait until the button it enables is enabled."""
    box = page.locator(".st-key-plugin_confirm input[type=checkbox]")
    if not box.is_checked():
        page.locator(".st-key-plugin_confirm label").click()
    enabled = page.get_by_role("button", name="Load and check").and_(page.locator(":enabled"))
    enabled.wait_for(timeout=20_000)
    page.wait_for_selector(IDLE, timeout=20_000)


def main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def test_an_uploaded_plugin_is_checked_only_after_the_confirmation(
    with_plugin, served, page, tmp_path
):
    SHOTS.mkdir(exist_ok=True)
    page.goto(f"{served}/?user=alice&algorithm=neighbours")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("heading", name="Simulator").wait_for()
    assert "people who agree with you" in page.locator("[data-testid=stSidebar]").inner_text()
    page.screenshot(path=str(SHOTS / "plugin-simulator.png"))
    page.goto(f"{served}/parameters?user=alice&algorithm=neighbours")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_text("shrink (0 to 100, default 5)").wait_for()
    page.screenshot(path=str(SHOTS / "plugin-parameters.png"))
    open_tab(page, "Algorithms", ".st-key-plugin_upload input[type=file]")
    backwards = write(
        tmp_path, "backwards.py", example_text("backwards").replace("] += weight", "] -= weight")
    )
    files = page.locator(".st-key-plugin_upload input[type=file]")
    rerun_after(page, lambda: files.set_input_files([backwards]))
    assert "is Python code. Loading it runs that code" in main_text(page)
    button = page.get_by_role("button", name="Load and check")
    assert button.is_disabled()  # nothing runs before the confirmation
    confirm(page)
    rerun_after(page, button.click)
    page.get_by_text("backwards fails a check").wait_for(timeout=30_000)
    assert "FAIL" in main_text(page) and "Speed on 40 items" in main_text(page)
    page.screenshot(path=str(SHOTS / "plugin-check-report.png"), full_page=True)
    bad, line = broken(tmp_path, "syntax error")
    rerun_after(page, page.get_by_role("button", name="Remove backwards.py").click)
    rerun_after(page, lambda: files.set_input_files([bad]))
    assert button.is_disabled()  # another file: confirmed again
    confirm(page)
    rerun_after(page, button.click)
    error = page.locator("[data-testid=stMain] [data-testid=stAlertContentError]")
    error.wait_for(timeout=30_000)
    assert f"{bad.name}:{line}: syntax error" in error.inner_text().replace("\u2060", "")
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(SHOTS / "plugin-check-broken.png"), full_page=True)
