"""User and file text shown exactly as written on every page and in the report (issue 17,
kind 2): a catalog and a user id made of text that Markdown, HTML or plotly would render."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from recsys.data.importer import read_path
from recsys.data.lab import load_dataset
from recsys.engine import Engine
from tests import test_browser
from tests.datafiles import HOSTILE_TEXT, HOSTILE_USER, write_hostile_lab
from tests.test_browser import IDLE

# The browser test's fixtures (Chromium via Playwright; skipped where either is missing), serving
# this module's db_path.
served, page = test_browser.served, test_browser.page

JOIN = "\u2060"  # the invisible word joiner md() puts where Streamlit would rewrite text


@pytest.fixture
def db_path(small_world_file, tmp_path):
    """The small world replaced by the hostile catalog (overrides conftest's db_path, so the
    browser fixtures serve this lab)."""
    import shutil

    path = tmp_path / "lab.duckdb"
    shutil.copy(small_world_file, path)
    folder = write_hostile_lab(tmp_path / "hostile")
    report = read_path("lab", folder)
    assert report.ok, report.text()
    engine = Engine.open(path)
    try:
        load_dataset(engine, report, path=folder)
        engine.interact(HOSTILE_USER, 0, "like")
    finally:
        engine.close()
    return path


# Everything a renderer makes of the hostile text, looked for in the page's DOM.
OFFENDERS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const found = [];
  for (const h of main.querySelectorAll('h1,h2,h3,h4,h5,h6'))
    if (h.innerText.includes('Heading')) found.push('heading ' + h.innerText);
  for (const a of main.querySelectorAll('a[href*="e.com"]')) found.push('link ' + a.href);
  if (main.querySelector('.katex')) found.push('math');
  for (const e of main.querySelectorAll('b,strong,i,em,code,del,s,script'))
    if (/^(bold|star|under|code|strike|x|alert\\(1\\))$/.test(e.innerText.trim()))
      found.push(e.tagName + ' ' + e.innerText);
  for (const e of main.querySelectorAll('.stMarkdownColoredText'))
    if (e.innerText.trim() === 'red' || e.innerText.trim() === '') found.push('colour');
  for (const e of main.querySelectorAll('span[role=img]'))
    if (e.innerText === 'home') found.push('icon');
  for (const e of document.querySelectorAll('svg text, svg tspan'))
    if (/^bold$|^x$/.test(e.textContent) && (e.getAttribute('style') || '').includes('bold'))
      found.push('svg bold ' + e.textContent);
  const text = main.innerText;
  for (const rewritten of ['a — b', 'x → y']) if (text.includes(rewritten)) found.push(rewritten);
  if (text.includes('& entity') && !text.includes('&amp; entity')) found.push('entity');
  return found;
}"""
PAGES = [
    ("", None),
    ("history", "Timeline"),
    ("history", "Journey"),
    ("history", "Embedding map"),
    ("history", "Time travel"),
    ("versions", None),
    ("world", None),
]


def test_every_page_shows_hostile_text_literally(served, page):
    user = quote(HOSTILE_USER)
    for name, tab in PAGES:
        page.goto(f"{served}/{name}?user={user}&algorithm=mf")
        page.wait_for_selector(IDLE, timeout=90_000)
        if tab:
            page.get_by_role("tab", name=tab).click()
            time.sleep(1)
            page.wait_for_selector(IDLE, timeout=90_000)
        page.wait_for_timeout(1500)  # plotly draws after the script run
        assert page.evaluate(OFFENDERS) == [], f"{name or 'simulator'} {tab or ''}"
        assert page.locator("[data-testid=stException]").count() == 0
        if not name:
            cards = page.locator("[class*=st-key-card-]")
            first = cards.first.inner_text().split("\n")[0].replace(JOIN, "")
            rank, title = first.split(". ", 1)
            assert rank == "1" and title.rsplit(" T", 1)[0] in HOSTILE_TEXT
            heading = page.get_by_role("heading", name="Top 10 for").inner_text()
            assert HOSTILE_USER in heading.replace(JOIN, "")
