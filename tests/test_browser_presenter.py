"""The Simulator in Chromium (issue 18): presenter mode grows everything on a card, the score
included (it once shrank: the cards' paragraph rule reached the score's inner paragraph), and
the sidebar follows a visitor's first click."""

from __future__ import annotations

from tests import test_browser
from tests.test_browser import IDLE, SHOTS

served, page = test_browser.served, test_browser.page

SIZES = """() => {
  const card = [...document.querySelectorAll('[class*="st-key-card-"]')]
    .find(c => c.querySelector('[data-testid=stMetricValue]') && c.querySelector('strong'));
  const px = e => parseFloat(getComputedStyle(e).fontSize);
  const value = card.querySelector('[data-testid=stMetricValue]');
  const text = [...value.querySelectorAll('*')].filter(e => e.children.length === 0)[0] || value;
  return {score: px(text), title: px(card.querySelector('strong'))};
}"""


def sizes(page, url: str) -> dict:
    page.goto(url)
    page.locator('[class*="st-key-card-"] [data-testid=stMetricValue]').first.wait_for(
        timeout=90_000
    )
    page.wait_for_selector(IDLE, timeout=60_000)
    return page.evaluate(SIZES)


def test_presenter_mode_enlarges_the_cards_and_their_scores(served, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    normal = sizes(page, f"{served}/?user=alice&algorithm=mf")
    presenter = sizes(page, f"{served}/?user=alice&algorithm=mf&presenter=1")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "simulator-presenter.png"))
    assert presenter["title"] > normal["title"]
    assert presenter["score"] >= 1.2 * normal["score"], (normal, presenter)


def test_the_sidebar_stops_calling_a_visitor_fresh_at_their_first_click(served, page):
    """A click reruns only the cards' fragment; the first one reruns the page, sidebar too."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(served)
    page.get_by_text("A fresh visitor: no history yet.").wait_for(timeout=90_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("button", name="View").first.click()
    page.get_by_text("You, this visit: 1 interaction so far.").wait_for(timeout=30_000)
    assert page.get_by_text("A fresh visitor: no history yet.").count() == 0
