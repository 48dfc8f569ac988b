"""`python -m recsys experiment ...` as a person or a script uses it, on real database files."""

import json
import os
import subprocess
import sys

import duckdb
import pytest

from recsys.cli.main import main
from recsys.experiments import stats
from tests.conftest import ROOT

TABLES = ("experiments", "impressions", "model_versions", "events")


def cli(*args, db):
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_DB"}
    command = [sys.executable, "-m", "recsys", "--db", str(db), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def rows(db) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def run(db, *args, capsys) -> tuple[int, str, str]:
    code = main(["--db", str(db), "experiment", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(db, *args, capsys):
    code, out, err = run(db, *args, "--json", capsys=capsys)
    assert code == 0, err
    return json.loads(out)


def test_create_list_show_and_stop_a_live_experiment(db_path, capsys):
    made = run_json(db_path, "create", "cli live", "--arms", "mf,popularity", capsys=capsys)
    assert made["name"] == "cli live" and made["mode"] == "live" and made["status"] == "running"
    assert [a["name"] for a in made["arms"]] == ["mf", "popularity"] and made["control"] == "mf"
    assert [a["share"] for a in made["arms"]] == [50.0, 50.0]

    listed = run_json(db_path, "list", capsys=capsys)
    assert [(e["name"], e["mode"], e["status"]) for e in listed] == [
        ("cli live", "live", "running")
    ]
    code, out, _ = run(db_path, "list", capsys=capsys)
    assert code == 0 and "cli live" in out and "running" in out

    code, out, err = run(db_path, "show", "cli live", capsys=capsys)
    assert code == 0, err
    assert out.startswith("cli live (live, running), unit: user")
    assert "Not enough data yet" in out

    stopped = run_json(db_path, "stop", "cli live", capsys=capsys)
    assert stopped["status"] == "stopped" and stopped["stopped_ts"] is not None
    assert run_json(db_path, "list", capsys=capsys)[0]["status"] == "stopped"
    code, _, err = run(db_path, "stop", "cli live", capsys=capsys)
    assert code == 2 and "already stopped" in err


def test_simulate_reports_estimates_intervals_tests_and_the_truth(db_path, capsys):
    args = ("--arms", "mf,popularity", "--users", "60", "--sessions", "30", "--seed", "3")
    result = run_json(db_path, "simulate", *args, capsys=capsys)
    assert [a["arm"] for a in result["arms"]] == ["mf", "popularity"]
    for arm in result["arms"]:
        ctr = arm["ctr"]
        assert ctr["low"] <= ctr["value"] <= ctr["high"] and arm["users"] > 0
        assert 0 < arm["true_ctr"] < 1 and arm["regret"] is not None
    assert sum(a["users"] for a in result["arms"]) == 60
    ctr = next(c for c in result["comparisons"] if c["metric"] == "ctr")
    assert 0 <= ctr["p_value"] <= 1 and 0 <= ctr["chance_to_beat"] <= 1
    assert ctr["lift_low"] <= ctr["lift"] <= ctr["lift_high"]
    assert set(result["srm"]) == {"counts", "expected", "p_value", "mismatch"}
    assert result["srm"]["counts"] == [a["users"] for a in result["arms"]]
    assert result["oracle_winner"] == "mf" and result["verdict"]
    assert result["experiment"]["status"] == "stopped"
    assert rows(db_path)["impressions"] == 60 * 30 * 10

    code, out, err = run(db_path, "simulate", "as text", *args, capsys=capsys)
    assert code == 0, err
    assert "true CTR" in out and "sample ratio" in out and "interleaving" in out


def test_aa_prints_the_false_positive_rates(db_path, capsys):
    before = rows(db_path)
    code, out, err = run(
        db_path,
        "aa",
        "--runs",
        "20",
        "--users",
        "40",
        "--sessions",
        "5",
        "--slate",
        "5",
        capsys=capsys,
    )
    assert code == 0, err
    assert out.startswith("20 A/A tests (mf vs itself, 40 people x 5 visits)")
    for unit in ("user unit", "impressions as independent", "peeked", "always-valid"):
        assert unit in out
    assert rows(db_path) == before


def test_size_is_arithmetic_and_needs_no_database(tmp_path, capsys):
    db = tmp_path / "never.duckdb"
    code, out, err = run(db, "size", "--baseline", "0.08", "--mde", "0.05", "--json", capsys=capsys)
    assert code == 0, err
    expected = stats.sample_size(0.08, 0.05)
    assert json.loads(out) == {"per_arm": expected, "total": 2 * expected}
    code, out, _ = run(db, "size", "--baseline", "0.08", "--mde", "0.05", capsys=capsys)
    assert code == 0 and out.startswith(f"{expected} trials (users with one visit each) per arm")
    assert not db.exists()


def test_offpolicy_on_a_one_item_exploring_experiment(db_path, capsys):
    run_json(
        db_path,
        "simulate",
        "ope",
        "--arms",
        "mf,popularity",
        "--slate",
        "1",
        "--explore",
        "1",
        "--sessions",
        "100",
        "--seed",
        "1",
        capsys=capsys,
    )
    result = run_json(db_path, "offpolicy", "ope", "--target", "mf", capsys=capsys)
    assert result["experiment"] == "ope" and result["target"] == "mf"
    assert {e["method"] for e in result["estimates"]} == {"ips", "snips", "direct", "doubly_robust"}
    assert 0 < result["truth"] < 1 and result["impressions"] > 0
    for estimate in result["estimates"]:
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
    code, out, err = run(db_path, "offpolicy", "ope", "--target", "popularity", capsys=capsys)
    assert code == 0, err
    assert "simulated truth" in out and "ips" in out

    run_json(
        db_path,
        "simulate",
        "plain",
        "--arms",
        "mf,popularity",
        "--users",
        "10",
        "--sessions",
        "2",
        capsys=capsys,
    )
    code, _, err = run(db_path, "offpolicy", "plain", "--target", "mf", capsys=capsys)
    assert code == 2 and "off-policy" in err and err.count("\n") == 1


def test_analytics_json(db_path, capsys):
    assert (
        main(["--db", str(db_path), "interact", "--user", "ann", "--item", "3", "--kind", "like"])
        == 0
    )
    capsys.readouterr()
    run_json(
        db_path,
        "simulate",
        "--arms",
        "mf,popularity",
        "--users",
        "30",
        "--sessions",
        "10",
        capsys=capsys,
    )
    result = run_json(db_path, "analytics", "--days", "2", capsys=capsys)
    assert result["days"] == 2.0
    assert [(r["algorithm"], r["events"], r["likes"]) for r in result["performance"]] == [
        ("mf", 1, 1)
    ]
    events = [r["events"] for r in result["most_active"]]
    assert 0 < len(events) <= 10 and events == sorted(events, reverse=True)
    assert result["top_items"] and all(r["impressions"] >= 5 for r in result["top_items"])
    code, out, err = run(db_path, "analytics", capsys=capsys)
    assert code == 0, err
    assert "per algorithm" in out and "most active users" in out


BAD_INPUTS = [
    (("create", "x", "--arms", "mf"), "2 to 10 arms"),
    (("create", "x", "--arms", "mf,popularity", "--split", "40,50"), "sums to 90"),
    (("create", "x", "--arms", "mf,nope"), "unknown algorithm"),
    (("create", "x", "--arms", "mf,v999"), "unknown version"),
    (("create", "x", "--arms", "mf,popularity", "--explore", "2"), "explore"),
    (("create", "--arms", "mf,popularity"), "name"),
    (("simulate", "--arms", "mf,popularity", "--users", "0"), "users must be"),
    (("simulate", "--arms", "mf,popularity", "--sessions", "0"), "sessions must be"),
    (("show", "nope"), "unknown experiment"),
    (("stop", "nope"), "unknown experiment"),
    (("offpolicy", "x"), "--target"),
    (("size", "--baseline", "0.08"), "--mde"),
    (("size", "--baseline", "2", "--mde", "0.1"), "baseline"),
]


@pytest.mark.parametrize(
    ("args", "message"), BAD_INPUTS, ids=[" ".join(a)[:40] for a, _ in BAD_INPUTS]
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(db_path, args, message, capsys):
    before = rows(db_path)
    code, out, err = run(db_path, *args, capsys=capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert out == ""
    assert rows(db_path) == before


def test_bad_input_in_a_real_process_is_one_line(db_path):
    before = rows(db_path)
    result = cli(
        "experiment", "create", "x", "--arms", "mf,popularity", "--split", "70", db=db_path
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert rows(db_path) == before
