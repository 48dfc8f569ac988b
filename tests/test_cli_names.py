"""The command line answers `--help` and bad input without the engine's heavy imports, and
commands that only read tables never build a model. Behaviour, not timing: the figures are in
`python -m recsys bench` and the issue notes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.algorithms import DEFAULT_ALGORITHM, REGISTRY
from recsys.cli import common
from recsys.data.importer import FORMATS
from recsys.events import DAY_TYPES, DEVICES, TIMES_OF_DAY
from recsys.ranking import MAX_K
from recsys.store.versions import TIMELINE_KINDS
from recsys.world import DEFAULT_PACK, DEFAULT_SEED, PACKS

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "duckdb", "scipy", "sklearn")


def test_the_parsers_names_agree_with_the_modules_that_own_them():
    assert tuple(REGISTRY) == common.ALGORITHMS
    assert common.DEFAULT_ALGORITHM == DEFAULT_ALGORITHM
    assert (common.PACKS, common.DEFAULT_PACK, common.DEFAULT_SEED) == (
        PACKS,
        DEFAULT_PACK,
        DEFAULT_SEED,
    )
    assert common.MAX_K == MAX_K
    assert common.TIMELINE_KINDS == TIMELINE_KINDS
    assert tuple(FORMATS) == common.IMPORT_FORMATS
    assert common.CONTEXT == {"device": DEVICES, "time_of_day": TIMES_OF_DAY, "day_type": DAY_TYPES}


def run_main(args: list[str], db: Path | None = None) -> dict:
    """`main(args)` in a fresh process: its exit status, stderr and which of the heavy
    modules (and the engine's model hosting) it imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from recsys.cli.main import main\n"
        "err, out = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        status = main({args!r})\n"
        "    except SystemExit as done:\n"
        "        status = done.code\n"
        f"names = {(*HEAVY, 'recsys.hosting')!r}\n"
        "print(json.dumps({'status': status, 'err': err.getvalue(), 'out': out.getvalue(),"
        " 'imported': [m for m in names if m in sys.modules]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_DB"}
    if db is not None:
        env["RECSYS_DB"] = str(db)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_help_imports_no_numpy_pandas_or_duckdb():
    result = run_main(["--help"])
    assert result["status"] == 0 and "recommend" in result["out"]
    assert result["imported"] == []


BAD_OPTIONS = [
    (["recommend", "--user", "ann", "--k", "0"], "k must be"),
    (["recommend", "--user", "ann", "--algorithm", "nope"], "unknown algorithm 'nope'"),
    # Items are the dataset's own ids (issue 16): text, looked up on DuckDB alone.
    (["interact", "--user", "ann", "--item", "abc", "--kind", "like"], "unknown item 'abc'"),
    (["interact", "--user", "ann", "--item", "1", "--kind", "poke"], "poke"),
    (["versions", "list", "--algorithm", "nope"], "unknown algorithm"),
    (["evaluate", "--algorithms", "mf,nope"], "unknown algorithm 'nope'"),
    (["history", "--limit", "0"], "--limit"),
    (["frobnicate"], "invalid choice"),
    # Issue 18's commands: the same fast answers.
    (["explain", "--user", "ann", "--item", "abc"], "unknown item 'abc'"),
    (["recommend", "--user", "ann", "--context", "device=phone"], "choose one of desktop"),
    (["recommend", "--user", "ann", "--log", "--as-of", "3"], "give one or the other"),
    (["interact", "--user", "ann", "--item", "1", "--kind", "like", "--request-id", "x"], "int"),
    (["sweep", "--algorithm", "nope", "--param", "factors", "--values", "4"], "unknown algorithm"),
    (["canary", "set", "--version", "x", "--share", "5"], "a version such as 3, v3 or mf@v3"),
    (["canary", "set", "--version", "3", "--share", "0"], "above 0 and at most 100"),
    # Issue 20's: spark-train answers bad options without numpy, let alone PySpark.
    (["spark-train", "export", "--factors", "1"], "--factors 1: give a number from 2"),
    (["spark-train", "export", "--master", ""], "--master ''"),
]


@pytest.mark.parametrize("args, says", BAD_OPTIONS, ids=lambda a: " ".join(a)[:40])
def test_bad_options_exit_2_with_one_line_before_any_heavy_import(tmp_path, args, says):
    db = tmp_path / "lab.duckdb"
    result = run_main(args, db)
    assert result["status"] == 2 and says in result["err"]
    assert result["err"].startswith("error: ") and result["err"].count("\n") == 1
    assert result["imported"] == [] and not db.exists()


def test_an_unknown_item_is_refused_before_any_model_is_built(db_path):
    result = run_main(["interact", "--user", "ann", "--item", "99999", "--kind", "like"], db_path)
    assert result["status"] == 2 and "unknown item '99999'" in result["err"]
    assert "recsys.hosting" not in result["imported"]


@pytest.mark.parametrize(
    "args",
    [
        ["history", "--limit", "5", "--json"],
        ["versions", "list", "--json"],
        ["personas", "--json"],
        ["policy", "--json"],
        ["experiment", "list", "--json"],
        ["scenario", "list", "--json"],
    ],
    ids=" ".join,
)
def test_commands_that_read_tables_build_no_model(db_path, args):
    run_main(["versions", "list"], db_path)  # the seeded versions measured once (that needs models)
    result = run_main(args, db_path)
    assert result["status"] == 0, result["err"]
    assert json.loads(result["out"]) is not None
    assert "recsys.hosting" not in result["imported"]
