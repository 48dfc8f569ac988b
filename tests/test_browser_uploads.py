"""The Data page's upload messages in Chromium (issue 17, kind 6): each set of uploads gets one
message, the true one. Once a file over the size limit also got "One upload is picked for two
parts of the format".

The server here reads files up to 64 KB (RECSYS_MAX_IMPORT_MB=0.0625); its uploader takes up to
1 MB (the limit rounded up to whole MB, the least it can be set to), so a file of 200 KB reaches
the page and is refused there, and a file of 1.5 MB is refused by the uploader itself."""

from __future__ import annotations

import pytest

from tests import test_browser
from tests.test_browser import IDLE, SHOTS, open_tab, rerun_after

served, page = test_browser.served, test_browser.page
MISSING_MOVIES = (
    "MovieLens (ml-latest-small) needs 2 files (movies.csv, ratings.csv); nothing is picked "
    "for movies.csv (uploaded: ratings.csv). Add it, or pick the upload that holds it."
)


@pytest.fixture
def small_import_limit(monkeypatch):
    """Requested before `served`, so the server starts with it."""
    monkeypatch.setenv("RECSYS_MAX_IMPORT_MB", "0.0625")


def errors(page) -> list[str]:
    return page.locator("[data-testid=stMain] [data-testid=stAlertContentError]").all_inner_texts()


def test_each_set_of_uploads_gets_the_one_message_that_is_true(
    small_import_limit, served, page, tmp_path
):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    movies = tmp_path / "movies.csv"
    movies.write_text(
        "movieId,title,genres\n" + "1,Toy Story (1995),Comedy\n" * 8_000
    )  # 208,021 bytes
    huge = tmp_path / "big" / "movies.csv"
    huge.parent.mkdir()
    huge.write_text("movieId,title,genres\n" + "1,Toy Story (1995),Comedy\n" * 60_000)  # 1.5 MB

    page.goto(f"{served}/data")
    page.get_by_role("heading", name="Data").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    open_tab(page, "Import data", ".st-key-import_files_lab input[type=file]")
    rerun_after(page, page.get_by_text("MovieLens (ml-latest-small)").click)
    files = page.locator(".st-key-import_files_movielens input[type=file]")
    files.wait_for(state="attached", timeout=20_000)
    assert "up to 64 KB each" in page.locator(".st-key-import_files_movielens").inner_text()

    # One file for a format of two: the missing part is named, and nothing else is said.
    rerun_after(page, lambda: files.set_input_files([ratings]))
    assert errors(page) == [MISSING_MOVIES]

    # The second part over the import's limit: only the size is said.
    rerun_after(page, lambda: files.set_input_files([movies]))  # added to the uploads
    assert errors(page) == [
        "movies.csv is 203 KB, over the import limit of 64 KB per file: upload a smaller file, "
        "or start the lab with RECSYS_MAX_IMPORT_MB set higher."
    ]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "data-upload-too-large.png"), full_page=True)

    # A file over the uploader's own limit never arrives: the uploader says so beside it, and
    # the page says which part has no file, not that one file plays two parts.
    rerun_after(page, page.get_by_role("button", name="Remove movies.csv").click)
    assert errors(page) == [MISSING_MOVIES]
    files.set_input_files([huge])
    page.get_by_text("File must be 1.0MB or smaller").wait_for(timeout=20_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    assert errors(page) == [MISSING_MOVIES]
    assert "picked for both" not in page.locator("[data-testid=stMain]").inner_text()
    page.screenshot(path=str(SHOTS / "data-upload-refused.png"), full_page=True)
