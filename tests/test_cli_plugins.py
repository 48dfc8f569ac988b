"""`python -m recsys check-algorithm` and the global `--plugin`, run as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.plugin_files import EXAMPLE, ROOT, broken, example_text, write


def cli(*args: str, db=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RECSYS_DB", "RECSYS_PLUGINS")}
    if db is not None:
        env["RECSYS_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "recsys", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_algorithm_reports_the_example_passing_in_text_and_json():
    done = cli("check-algorithm", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "pass  state round trip" in done.stdout and done.stdout.rstrip().endswith(
        "all checks pass"
    )
    assert "speed: learn_one" in done.stdout
    [report] = json.loads(cli("check-algorithm", str(EXAMPLE), "--json").stdout)
    assert report["algorithm"] == "neighbours" and report["passed"] is True
    assert len(report["checks"]) == 7 and report["score_ms"] > 0


def test_check_algorithm_exits_1_when_a_check_fails(tmp_path):
    path = write(
        tmp_path,
        "backwards.py",
        example_text("backwards").replace("] += weight", "] -= weight"),
    )
    done = cli("check-algorithm", str(path))
    assert done.returncode == 1
    assert "FAIL  a like raises the liked item's neighbours" in done.stdout


@pytest.mark.parametrize("how", ["syntax error", "missing dependency", "constructor exception"])
def test_check_algorithm_exits_2_with_one_line_for_a_file_that_cannot_load(tmp_path, how):
    path, line = broken(tmp_path, how)
    done = cli("check-algorithm", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"{path.resolve()}:{line}:" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_algorithm_of_a_missing_or_non_python_file_is_one_line(tmp_path):
    for path in (tmp_path / "nope.py", write(tmp_path, "notes.txt", "")):
        done = cli("check-algorithm", str(path))
        assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_a_plugin_named_with_plugin_serves_on_the_lab_and_a_broken_one_is_left_out(
    db_path, tmp_path
):
    done = cli(
        "--plugin",
        str(EXAMPLE),
        "recommend",
        "--user",
        "alice",
        "--k",
        "3",
        "--algorithm",
        "neighbours",
        db=db_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Top 3 for alice (neighbours" in done.stdout
    bad, line = broken(tmp_path, "syntax error")
    done = cli("--plugin", str(bad), "recommend", "--user", "alice", "--k", "3", db=db_path)
    assert done.returncode == 0 and "Top 3 for alice (mf" in done.stdout
    assert done.stderr.startswith(f"warning: plugin left out: {bad.resolve()}:{line}:")
    assert done.stderr.count("\n") == 1
    done = cli("recommend", "--user", "alice", "--algorithm", "neighbours", db=db_path)
    assert done.returncode == 2 and "--plugin PATH" in done.stderr
