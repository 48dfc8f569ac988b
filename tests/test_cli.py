"""The CLI as a person or a script uses it: real processes, real database files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from recsys.algorithms import REGISTRY
from recsys.bench.run import run_bench
from recsys.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, db=None):
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_DB"}
    command = [sys.executable, "-m", "recsys", *(["--db", str(db)] if db else []), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def count_events(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM events").fetchall()[0][0]


def test_init_recommend_interact_and_json(tmp_path):
    db = tmp_path / "lab.duckdb"
    made = cli("init", "--world", "destinations", "--seed", "5", "--json", db=db)
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["world"] == "destinations" and info["items"] >= 300 and info["events"] > 10_000

    again = cli("init", db=db)
    assert again.returncode == 2 and "--reset" in again.stderr

    top = json.loads(cli("recommend", "--user", "alice", "--k", "5", "--json", db=db).stdout)
    assert len(top["items"]) == 5 and all(i["reason"] for i in top["items"])
    assert top["scale"] == REGISTRY[top["algorithm"]].scale  # what the scores mean

    step = cli(
        "interact",
        "--user",
        "ann",
        "--item",
        str(top["items"][0]["item"]),
        "--kind",
        "rating",
        "--value",
        "4.5",
        "--json",
        db=db,
    )
    assert step.returncode == 0, step.stderr
    learned = json.loads(step.stdout)
    assert learned["event"]["value"] == 4.5 and learned["event"]["seq"] == info["events"] + 1
    assert set(learned["diff"]) == {"entered", "left", "moved", "unchanged"}
    assert count_events(db) == info["events"] + 1

    text = cli("interact", "--user", "ann", "--item", "3", "--kind", "like", db=db)
    assert text.returncode == 0 and "Learned from your like" in text.stdout
    assert "before" in text.stdout and "after" in text.stdout


BAD_INPUTS = [
    ("interact", "--user", "ann", "--item", "99999", "--kind", "like"),
    ("interact", "--user", "ann", "--item", "1", "--kind", "rating", "--value", "7"),
    ("interact", "--user", "ann", "--item", "1", "--kind", "rating", "--value", "NaN"),
    ("interact", "--user", "ann", "--item", "1", "--kind", "poke"),
    ("interact", "--user", "x" * 10_000, "--item", "1", "--kind", "like"),
    ("interact", "--user", "tab\there", "--item", "1", "--kind", "like"),
    ("interact", "--user", "x" * 129, "--item", "1", "--kind", "like"),
    ("interact", "--user", "ann", "--item", "1; DELETE FROM events", "--kind", "like"),
    ("recommend", "--user", "ann", "--k", "0"),
    ("recommend", "--user", "ann", "--algorithm", "nope"),
    ("simulate", "--persona", "nobody", "--steps", "3"),
    ("simulate", "--persona", "sci-fi-fan", "--steps", "-4"),
    ("configure", "--algorithm", "mf", "--set", "factors=100000"),
    ("configure", "--algorithm", "mf", "--set", "reg=abc"),
    ("configure", "--algorithm", "mf", "--set", "no_such=1"),
    ("configure", "--algorithm", "mf"),
    ("configure", "--algorithm", "mf", "--config", "/nonexistent/params.json"),
    ("frobnicate",),
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a)[:40])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(db_path, args, capsys):
    before = count_events(db_path)
    code = main(["--db", str(db_path), *args])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""
    assert count_events(db_path) == before


def test_bad_input_in_a_real_process_is_one_line(db_path):
    result = cli(
        "interact", "--user", "ann", "--item", "1", "--kind", "rating", "--value", "7", db=db_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "outside" in result.stderr


def test_database_held_by_the_app_gives_one_line(held_by_another_process):
    db_path = held_by_another_process
    result = cli("recommend", "--user", "alice", db=db_path)
    assert result.returncode == 2
    assert "open in another process" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    reset = cli("init", "--reset", db=db_path)  # must not delete a file in use
    assert reset.returncode == 2 and db_path.exists()


def test_simulate_algorithms_personas_and_retrain(db_path, capsys):
    assert (
        main(
            ["--db", str(db_path), "simulate", "--persona", "sci-fi-fan", "--steps", "6", "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 6 and len(result["records"]) == 6
    assert result["events"] == count_events(db_path) - count_events_seeded(db_path)

    assert main(["algorithms", "--json"]) == 0
    algorithms = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    assert {"mf", "trending"} <= set(algorithms)
    assert any(p["name"] == "half_life_hours" for p in algorithms["trending"]["parameters"])

    assert main(["--db", str(db_path), "personas", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) >= 6

    assert main(["--db", str(db_path), "retrain", "--algorithm", "trending", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["algorithm"] == "trending"


def count_events_seeded(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return int(
            con.execute("SELECT value FROM meta WHERE key = 'history_through_seq'").fetchall()[0][0]
        )


def test_bench_measures_both_worlds_side_by_side():
    tiny = {
        "tiny": {"n_items": 200, "n_users": 15, "sessions_per_user": 5},
        "tiny 2k": {"n_items": 2000, "n_users": 15, "sessions_per_user": 5},
    }
    # the loop: test_simulation; 500 simulated people, past the world's own (the bench: 100,000)
    report = run_bench(worlds=tiny, repetitions=30, extras=False, population=500)
    for figures in report["results"].values():
        assert 0 < figures["interact p50"] <= figures["interact p95"] <= figures["interact p99"]
        assert figures["replay all ev/s"] > 0 and figures["recommend p50"] > 0
    assert "interact p99" in report["text"] and "tiny 2k" in report["text"]
    first, second = report["results"].values()  # a built-in scenario loads its own world
    assert first["scenario: bubble s"] > 0 and first["scenario: drift s"] > 0
    assert "scenario: drift s" not in second and "scenario: drift s" in report["text"]
    assert first["A/B sim 500 x 5 impressions/s"] > 0 and first["A/B sim 500 x 5 s"] > 0


def test_configure_from_flags_and_a_file(db_path, tmp_path, capsys):
    assert (
        main(
            [
                "--db",
                str(db_path),
                "configure",
                "--algorithm",
                "ucb1",
                "--set",
                "exploration=0.25",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["config"]["exploration"] == 0.25
    params = tmp_path / "knn.json"
    params.write_text(json.dumps({"neighbours": 7}))
    assert (
        main(
            ["--db", str(db_path), "configure", "--algorithm", "item_knn", "--config", str(params)]
        )
        == 0
    )
    assert "neighbours=7" in capsys.readouterr().out
    params.write_text(json.dumps({"neighbours": 100_000}))
    assert (
        main(
            ["--db", str(db_path), "configure", "--algorithm", "item_knn", "--config", str(params)]
        )
        == 2
    )
    assert "neighbours must be between" in capsys.readouterr().err


def test_interact_never_reports_a_like_lowering_the_liked_items_score(db_path, capsys):
    """The issue's example: `interact --kind like --algorithm mf --json` reported score_after
    below score_before. For a stranger and for a long-history user, over many items, a like or
    a favourite never lowers it and a dislike never raises it (every kind and algorithm:
    tests/test_feedback.py)."""
    for item in range(0, 300, 23):
        for user in ("zed", "sim-0001"):
            for kind, up in (("like", True), ("favorite", True), ("dislike", False)):
                args = ["--db", str(db_path), "interact", "--user", user, "--item", str(item)]
                assert main([*args, "--kind", kind, "--algorithm", "mf", "--json"]) == 0
                update = json.loads(capsys.readouterr().out)["updates"][0]
                moved = update["score_after"] - update["score_before"]
                assert (moved >= 0) if up else (moved <= 0), (user, item, kind, update)


CLI_MODULES = sorted(p.stem for p in (ROOT / "recsys" / "cli").glob("*.py") if p.stem != "__init__")


def recsys_imports(package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports, at the top or inside a function."""
    import ast

    folder = ROOT.joinpath(*package.split("."))
    names = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    edges = {}
    for name in names:
        tree = ast.parse((folder / f"{name.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        edges[name] = (found & names) - {name}
    return edges


def test_cli_command_modules_share_only_common():
    edges = recsys_imports("recsys.cli")
    commands = {m for m in edges if m not in ("recsys.cli.common", "recsys.cli.main")}
    assert edges["recsys.cli.common"] == set()
    for module in commands:
        assert edges[module] == {"recsys.cli.common"}, module
    assert edges["recsys.cli.main"] == commands | {"recsys.cli.common"}


@pytest.mark.parametrize("package", ["recsys.cli", "recsys.experiments"])
def test_no_import_cycles(package):
    edges = recsys_imports(package)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges[start]
        )

    assert [m for m in edges if reaches(m, m, set())] == []


@pytest.mark.parametrize("module", CLI_MODULES)
def test_every_cli_module_imports_on_its_own(module):
    done = subprocess.run(
        [sys.executable, "-c", f"import recsys.cli.{module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_main_is_importable_from_the_package():
    from recsys.cli import main as entry

    assert entry is main
