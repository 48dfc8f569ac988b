"""`recsys.download` against a local HTTP server serving archives built here: no network at all."""

import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recsys.data import download as dl
from recsys.errors import RecsysError

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Animation|Children\n2,Heat (1995),Action\n"
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,5.0,964981247\n"


def make_zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(zipfile.ZipInfo(name), text)
    return buffer.getvalue()


GOOD = make_zip(
    {"ml-latest-small/movies.csv": MOVIES, "ml-latest-small/ratings.csv": RATINGS}
    | {"ml-latest-small/README.txt": "readme\n"}
)


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Anything that forgets an explicit url goes to a closed local port, never the internet."""
    monkeypatch.setenv("RECSYS_DOWNLOAD_URL", f"http://127.0.0.1:{closed_port()}/nothing.zip")


@pytest.fixture
def server():
    """A local server: `routes[path] = (status, body, send_length)`; yields (base_url, routes)."""
    routes: dict[str, tuple[int, bytes, bool]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            status, body, send_length = routes.get(self.path, (404, b"not found", True))
            self.send_response(status)
            self.send_header("Content-Type", "application/zip")
            if send_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, routes, hits
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def serve(server, body: bytes, path: str = "/ml.zip", status: int = 200, length: bool = True):
    base, routes, _ = server
    routes[path] = (status, body, length)
    return base + path


def leftovers(directory):
    """Anything in the download directory besides the dataset folder and its archive."""
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name not in {"ml-latest-small", "ml-latest-small.zip"}
    )


def test_download_extracts_then_reuses_then_forces(server, tmp_path):
    url = serve(server, GOOD)
    seen = []
    got = dl.download(
        "movielens-small", tmp_path, url=url, progress=lambda d, t: seen.append((d, t))
    )
    folder = tmp_path / "ml-latest-small"
    assert got["downloaded"] is True and got["path"] == str(folder)
    assert got["format"] == "movielens" and "GroupLens" in got["licence"]
    assert got["bytes"] == len(GOOD) and seen[-1] == (len(GOOD), len(GOOD))
    assert got["files"] == {
        "README.txt": 7,
        "movies.csv": len(MOVIES),
        "ratings.csv": len(RATINGS),
    }
    assert (folder / "ratings.csv").read_text() == RATINGS
    assert leftovers(tmp_path) == []

    _, _, hits = server
    again = dl.download("movielens-small", tmp_path, url=url)
    assert again["downloaded"] is False and again["files"] == got["files"] and len(hits) == 1
    assert again["bytes"] == len(GOOD)

    newer = make_zip({"ml-latest-small/movies.csv": "x\n", "ml-latest-small/ratings.csv": "y\n"})
    serve(server, newer)
    forced = dl.download("movielens-small", tmp_path, url=url, force=True)
    assert forced["downloaded"] is True and len(hits) == 2
    assert forced["files"] == {"movies.csv": 2, "ratings.csv": 2}  # the old README is gone
    assert leftovers(tmp_path) == []


def test_environment_variable_overrides_the_url_and_files_may_sit_at_the_root(
    server, tmp_path, monkeypatch
):
    url = serve(server, make_zip({"movies.csv": MOVIES, "ratings.csv": RATINGS}), "/mirror.zip")
    monkeypatch.setenv("RECSYS_DOWNLOAD_URL", url)
    got = dl.download("movielens-small", tmp_path)
    assert got["downloaded"] and (tmp_path / "ml-latest-small" / "movies.csv").read_text() == MOVIES


def test_offline_says_so_and_how_to_proceed(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/ml-latest-small.zip"
    with pytest.raises(RecsysError) as caught:
        dl.download("movielens-small", tmp_path, url=url)
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1: this machine looks offline")
    assert url in message and "python -m recsys import --format movielens PATH" in message
    assert "\n" not in message and leftovers(tmp_path) == []


def test_a_server_that_never_answers_times_out_as_offline(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/ml.zip"
        with pytest.raises(RecsysError, match="this machine looks offline"):
            dl.download("movielens-small", tmp_path, url=url, timeout=0.3)


def test_http_error_status_is_named(server, tmp_path):
    base, _, _ = server
    with pytest.raises(RecsysError, match="answered HTTP 404"):
        dl.download("movielens-small", tmp_path, url=base + "/missing.zip")
    assert leftovers(tmp_path) == []


def test_a_body_that_is_not_a_zip_is_refused(server, tmp_path):
    url = serve(server, b"<html>a captive portal</html>")
    with pytest.raises(RecsysError, match="is not a zip archive"):
        dl.download("movielens-small", tmp_path, url=url)
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-latest-small").exists()


def test_a_zip_without_ratings_is_refused(server, tmp_path):
    url = serve(server, make_zip({"ml-latest-small/movies.csv": MOVIES}))
    with pytest.raises(RecsysError, match=r"does not hold ratings\.csv$"):
        dl.download("movielens-small", tmp_path, url=url)
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-latest-small").exists()


@pytest.mark.parametrize("evil", ["../evil", "ml-latest-small/../../evil", "/tmp/evil-abs"])
def test_path_traversal_is_refused_and_nothing_lands_outside(server, tmp_path, evil):
    directory = tmp_path / "downloads"
    members = {"ml-latest-small/movies.csv": MOVIES, "ml-latest-small/ratings.csv": RATINGS}
    url = serve(server, make_zip(members | {evil: "pwned"}))
    with pytest.raises(RecsysError, match="unsafe member"):
        dl.download("movielens-small", directory, url=url)
    assert [p.name for p in tmp_path.rglob("*evil*")] == []
    assert leftovers(directory) == [] and not (directory / "ml-latest-small").exists()


@pytest.mark.parametrize("send_length", [True, False])
def test_too_large_is_refused(server, tmp_path, monkeypatch, send_length):
    monkeypatch.setattr(dl, "MAX_DOWNLOAD_BYTES", 100)
    url = serve(server, GOOD, length=send_length)
    with pytest.raises(RecsysError, match="is larger than"):
        dl.download("movielens-small", tmp_path, url=url)
    assert leftovers(tmp_path) == []


BAD = {
    "not a zip": (b"not a zip", 200),
    "server error": (b"gone", 500),
    "missing ratings": (make_zip({"ml-latest-small/movies.csv": "only movies\n"}), 200),
    "traversal": (make_zip({"ml-latest-small/movies.csv": "a", "../ratings.csv": "b"}), 200),
    "offline": None,
}


@pytest.mark.parametrize("failure", list(BAD))
def test_a_failed_redownload_keeps_the_earlier_good_copy(server, tmp_path, failure):
    url = serve(server, GOOD)
    dl.download("movielens-small", tmp_path, url=url)
    if BAD[failure] is None:
        url = f"http://127.0.0.1:{closed_port()}/ml.zip"
    else:
        body, status = BAD[failure]
        serve(server, body, status=status)
    with pytest.raises(RecsysError):
        dl.download("movielens-small", tmp_path, url=url, force=True)
    folder = tmp_path / "ml-latest-small"
    assert (folder / "movies.csv").read_text() == MOVIES
    assert (folder / "ratings.csv").read_text() == RATINGS
    assert (tmp_path / "ml-latest-small.zip").read_bytes() == GOOD
    assert leftovers(tmp_path) == []


def test_a_damaged_or_cut_off_archive_is_refused(server, tmp_path):
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("ml-latest-small/movies.csv", MOVIES)
        zf.writestr("ml-latest-small/ratings.csv", RATINGS)
    damaged = stored.getvalue().replace(b"964982703", b"964982704")  # the CRC no longer fits
    with pytest.raises(RecsysError, match="is damaged"):
        dl.download("movielens-small", tmp_path, url=serve(server, damaged))
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-latest-small").exists()

    base, routes, _ = server
    routes["/cut.zip"] = (200, GOOD[:100], False)
    with pytest.raises(RecsysError, match="is not a zip archive"):
        dl.download("movielens-small", tmp_path, url=base + "/cut.zip")
    assert leftovers(tmp_path) == []


def test_a_url_that_is_not_one(tmp_path):
    with pytest.raises(RecsysError, match="cannot download 'notaurl'"):
        dl.download("movielens-small", tmp_path, url="notaurl")


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(RecsysError, match=r"unknown dataset 'movielens-huge'.*movielens-small"):
        dl.download("movielens-huge", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RecsysError, match="cannot write"):
        dl.download("movielens-small", blocker / "downloads", url="http://127.0.0.1:1/x.zip")


def test_the_registry_matches_the_contract():
    source = dl.DATASETS["movielens-small"]
    assert source.url == "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
    assert source.folder == "ml-latest-small" and source.required == ("movies.csv", "ratings.csv")
    assert dl.DEFAULT_DIR.parts[-2:] == ("data", "downloads")
    assert dl.MAX_DOWNLOAD_BYTES == 200 * 1024 * 1024
