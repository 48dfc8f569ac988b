"""Bad input that was accepted with exit 0 (issue 17, kind 5): now one line and exit 2, and
nothing written."""

from __future__ import annotations

import json

import pytest

from recsys.cli.main import main


def one_line(capsys, *args) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    return err


def test_a_nul_byte_in_an_evaluate_file(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_bytes(b"u1,i1,4\nu2,i\x002,5\n")
    test = tmp_path / "test.csv"
    test.write_text("u1,i2,3\n")
    err = one_line(capsys, "evaluate", "--train", str(train), "--test", str(test))
    assert "train.csv line 2: a NUL byte: this is not a text file" in err


def test_a_nul_byte_in_a_scenario_title(db_path, tmp_path, capsys):
    file = tmp_path / "s.json"
    file.write_text(json.dumps({"name": "x", "title": "bad\u0000title", "world": {}}))
    err = one_line(capsys, "--db", str(db_path), "scenario", "load", str(file))
    assert "title holds a control character" in err


def test_history_with_until_before_since(db_path, capsys):
    err = one_line(capsys, "--db", str(db_path), "history", "--since", "-10", "--until", "-20")
    assert "--until at or after --since" in err
    err = one_line(capsys, "--db", str(db_path), "history", "--since", "30", "--until", "20")
    assert "--until at or after --since" in err


def test_a_temporal_split_holding_out_nothing(db_path, capsys):
    err = one_line(capsys, "--db", str(db_path), "evaluate", "--split", "temporal", "--last", "0")
    assert "--last 0: hold out at least 1 item per user" in err


@pytest.mark.parametrize("user", ["nobody-here"])
def test_a_report_for_a_user_who_does_not_exist(db_path, tmp_path, capsys, user):
    out = tmp_path / "r.html"
    err = one_line(capsys, "--db", str(db_path), "report", "--user", user, str(out))
    assert f"no user '{user}' in this lab" in err and not out.exists()


# Tracebacks once (issue 17, kind 3): one line and exit 2, and no file left behind.


@pytest.mark.parametrize("seed", ["-1", "99999999999999", "abc"])
def test_init_with_a_seed_out_of_range_writes_no_file(tmp_path, capsys, seed):
    db = tmp_path / "new.duckdb"
    err = one_line(capsys, "--db", str(db), "init", "--seed", seed)
    assert "--seed: give a whole number from 0 to 2147483647" in err and not db.exists()


def test_a_db_folder_that_cannot_be_created(capsys):
    err = one_line(capsys, "--db", "/proc/no/such/lab.duckdb", "recommend", "--user", "a")
    assert "cannot create the folder /proc/no/such for the lab database" in err


def test_an_import_limit_beyond_any_file(tmp_path, capsys, monkeypatch):
    from tests.datafiles import write_lab

    monkeypatch.setenv("RECSYS_MAX_IMPORT_MB", "1e400")
    folder = write_lab(tmp_path / "lab")
    err = one_line(capsys, "--db", str(tmp_path / "x.duckdb"), "import", "--format", "lab",
                   str(folder), "--dry-run")  # fmt: skip
    assert "RECSYS_MAX_IMPORT_MB must be a positive number of MB below 2**40" in err


def test_json_nested_thousands_deep(db_path, tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    err = one_line(capsys, "--db", str(db_path), "scenario", "load", str(deep))
    assert "nests its JSON too deeply" in err
    err = one_line(capsys, "--db", str(db_path), "configure", "--algorithm", "mf",
                   "--config", str(deep))  # fmt: skip
    assert "nests its JSON too deeply" in err


# A multi-step write is all or nothing (issue 17, kind 1): `scenario save --output`.


def saved(db_path) -> list[str]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return [name for (name,) in con.execute("SELECT name FROM scenarios").fetchall()]
    finally:
        con.close()


def test_a_scenario_save_whose_file_cannot_be_written_saves_nothing(db_path, tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    err = one_line(capsys, "--db", str(db_path), "scenario", "save", "mine",
                   "--output", str(blocked / "mine.json"))  # fmt: skip
    assert "cannot write" in err and "mine" not in saved(db_path)


def test_a_scenario_save_the_lab_refuses_leaves_no_file(db_path, tmp_path, capsys):
    out = tmp_path / "mine.json"
    assert main(["--db", str(db_path), "scenario", "save", "mine", "--output", str(out)]) == 0
    assert out.exists() and "mine" in saved(db_path)
    capsys.readouterr()
    again = tmp_path / "again.json"
    err = one_line(capsys, "--db", str(db_path), "scenario", "save", "mine",
                   "--output", str(again))  # fmt: skip
    assert "exists" in err
    assert not again.exists() and not (tmp_path / "again.json.partial").exists()


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"time_of_day": "noon"}, "context time_of_day 'noon' is not one of night, morning"),
        ({"device": "watch"}, "context device 'watch' is not one of desktop, mobile, tv"),
        ({"day_type": 1}, "context day_type '1' is not one of weekday, weekend"),
    ],
)
def test_a_context_value_no_algorithm_knows_is_refused_by_the_engine(engine, context, message):
    """LinUCB one-hot encodes these names: an unknown value once ended in a KeyError."""
    from recsys.errors import RecsysError

    events = engine.last_seq
    with pytest.raises(RecsysError, match=message):
        engine.recommend("alice", 10, "linucb", context)
    with pytest.raises(RecsysError, match=message):
        engine.interact("alice", 3, "view", context=context, algorithm="linucb")
    assert engine.last_seq == events
