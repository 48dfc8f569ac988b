"""What a person waits for after `streamlit run app.py`: seconds to the first recommendation
card in a real browser, beside a hello-world Streamlit app started the same way.

`first_page_seconds(app, db)` starts `streamlit run APP` on a free localhost port (with
`RECSYS_DB=db`, so `db` may be a missing file: a new lab), opens it in Debian's headless
Chromium through Playwright (already launched, so the browser's own start is not counted) and
returns the seconds from starting the server to `selector` being visible: for the lab, the first
card of the simulator's list (`st-key-card-*`); for the hello-world app its one line of text.
Nothing leaves the machine (Streamlit's usage statistics are off). `available()` says why the
measurement cannot run here (no Playwright or no Chromium), or None.

`python -m recsys bench --first-page [--against OLD_TREE] [--repeat N]` takes turns between an
existing lab, a new lab (of each tree) and hello world, N times (5), and prints the medians;
alone, `python -m recsys.bench.firstpage N [LABEL=APP.py ...]` also prints each round.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CARD = "[class*='st-key-card-']"
HELLO_TEXT = "Hello, world"
HELLO_APP = f'import streamlit as st\n\nst.write("{HELLO_TEXT}")\n'
TIMEOUT_S = 120


def available() -> str | None:
    """None if the measurement can run here, else why not."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no Playwright (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_page_seconds(browser, app: Path, db: Path | None, selector: str) -> float:
    """Seconds from `streamlit run app` to `selector` visible in a new page of `browser`.
    Raises RuntimeError if the server stops or nothing shows within TIMEOUT_S."""
    port = _free_port()
    env = os.environ | {"RECSYS_DB": str(db)} if db else dict(os.environ)
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    command += ["--browser.gatherUsageStats", "false"]
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        command, cwd=app.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"streamlit stopped: {server.stderr.read().decode()[-500:]}")
            if time.perf_counter() - started > TIMEOUT_S:
                raise RuntimeError("streamlit did not answer")
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.02)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        try:
            page.goto(url)
            page.locator(selector).first.wait_for(state="visible", timeout=TIMEOUT_S * 1000)
            return time.perf_counter() - started
        finally:
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


def launch(playwright):
    """Debian's Chromium, headless, as the measurement drives it."""
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)


def compare(rounds: int = 5, apps: dict[str, Path] | None = None, report=None) -> dict[str, Any]:
    """Each app of `apps` (label: its app.py; by default this tree's, labelled "new") on an
    existing lab and on a new lab, then hello world, taking turns `rounds` times. Returns the
    seconds of every round, their medians, the ratios to hello world's median, the load
    average before and after, and a text table; `report(line)` hears each round. Raises
    RuntimeError if `available()` says no or a server fails."""
    if why := available():
        raise RuntimeError(why)
    from playwright.sync_api import sync_playwright

    apps = apps or {"new": ROOT / "app.py"}
    times: dict[str, list[float]] = {}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="recsys-firstpage-") as folder:
        hello = Path(folder) / "hello.py"
        hello.write_text(HELLO_APP)
        with sync_playwright() as p:
            browser = launch(p)
            for label, app in apps.items():  # creates each existing lab
                first_page_seconds(browser, app, Path(folder) / f"{label}.duckdb", CARD)
            for round_ in range(rounds):
                for label, app in apps.items():
                    labs = {"existing lab": Path(folder) / f"{label}.duckdb"}
                    labs["new lab"] = Path(folder) / f"{label}-new-{round_}.duckdb"
                    for what, db in labs.items():
                        seconds = first_page_seconds(browser, app, db, CARD)
                        times.setdefault(f"{label}: {what}", []).append(seconds)
                seconds = first_page_seconds(browser, hello, None, f"text={HELLO_TEXT}")
                times.setdefault("hello world", []).append(seconds)
                if report:
                    line = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
                    report(f"round {round_ + 1}: {line} (load {os.getloadavg()[0]:.1f})")
            browser.close()
    load.append(os.getloadavg()[0])
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratios = {k: v / medians["hello world"] for k, v in medians.items() if k != "hello world"}
    rows = [
        f"{label:<5} {medians[f'{label}: existing lab']:>11.2f} s "
        f"({ratios[f'{label}: existing lab']:.2f}x) {medians[f'{label}: new lab']:>8.2f} s "
        f"({ratios[f'{label}: new lab']:.2f}x)"
        for label in apps
    ]
    text = "\n".join(
        [
            f"App first page: streamlit run to the first card in Chromium, median of {rounds} "
            f"(load {load[0]:.1f} to {load[1]:.1f})",
            f"      existing lab (/ hello)   new lab (/ hello)   hello world "
            f"{medians['hello world']:.2f} s",
            *rows,
        ]
    )
    return {"rounds": times, "medians": medians, "ratios": ratios, "load": load, "text": text}


if __name__ == "__main__":
    # python -m recsys.bench.firstpage ROUNDS [LABEL=APP.py ...]
    labelled = {k: Path(v) for k, v in (arg.split("=", 1) for arg in sys.argv[2:])}
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(compare(rounds, labelled or None, report=print)["text"])
