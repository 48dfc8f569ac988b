"""Versions are numbered per algorithm (mf v1, v2, ...) wherever a person reads them; the lab's
key (`version_id`) stays unique across algorithms underneath. An old lab gets its numbers from
a migration; a move to where an alias already points is never recorded."""

from __future__ import annotations

import json

import duckdb
import pytest

from recsys.cli.main import main
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.store.versions import timeline


def numbered(engine: Engine, algorithm: str) -> list[tuple[int, str]]:
    """(number, trigger) of the algorithm's versions, oldest first."""
    frame = engine.version_store.versions(algorithm).sort_values("version")
    return list(zip(frame["version"], frame["trigger"], strict=True))


def test_each_algorithm_counts_its_versions_from_one(engine):
    mf_2 = engine.lifecycle.train("mf", "manual", "never")
    knn_2 = engine.lifecycle.train("item_knn", "manual", "never")
    mf_3 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})
    assert (mf_2["label"], knn_2["label"], mf_3["label"]) == ("v2", "v2", "v3")
    assert mf_3["version"] > knn_2["version"] > mf_2["version"]  # the key: one lab-wide count
    assert numbered(engine, "mf") == [(1, "seed"), (2, "manual"), (3, "manual")]
    assert numbered(engine, "item_knn") == [(1, "seed"), (2, "manual")]
    assert all(n == 1 for n in engine.version_store.versions("popularity")["version"])
    frame = engine.version_store.versions("mf").set_index("version")
    assert frame.loc[3, "parent"] == 1  # mf v3 was trained beside production v1
    assert engine.version_store.resolve("mf", "v3") == mf_3["version"]
    assert engine.version_store.resolve("item_knn", 2) == knn_2["version"]
    with pytest.raises(RecsysError, match=r"^mf has no version v9; its versions are v1, v2, v3$"):
        engine.version_store.resolve("mf", "v9")


def test_promotion_messages_and_the_timeline_use_the_numbers(engine):
    engine.lifecycle.train("item_knn", "manual", "never")  # item_knn v2: another key between
    engine.lifecycle.set_policy({"gate_absolute": 1.0})
    info = engine.lifecycle.train("mf", "manual", "gate")
    assert info["outcome"].startswith("v2 is the candidate and v1 still serves mf (gate on ")
    assert "v2 0." in info["gate"]["message"] and "vs production v1 0." in info["gate"]["message"]
    engine.lifecycle.promote(info["version"], force=True)
    moves = timeline(engine.store, kinds=["promotion", "candidate"])
    mf = sorted(w for w in moves[moves["algorithm"] == "mf"]["what"] if "by user" in w)
    assert mf == [
        "candidate: v2 → – by user · became production (promotion)",
        f"candidate: – → v2 by user · {info['gate']['message']}",
        "production: v1 → v2 by user · promotion: forced past the gate",
    ]


def test_a_deleted_number_is_not_given_again_while_the_history_names_it(engine):
    first = engine.lifecycle.train("mf", "manual", "never")["version"]
    engine.lifecycle.delete(first)
    again = engine.lifecycle.train("mf", "manual", "never")
    assert again["label"] == "v3"
    history = engine.version_store.alias_history("mf")
    assert history["reason"].tolist()[:2] == ["trained (manual)", "v2 deleted"]
    assert history["from"].tolist()[1] == "v2" and history["to"].tolist()[1] == "–"


def test_after_a_reset_numbers_start_after_the_seed_and_no_move_goes_nowhere(db_path):
    engine = Engine.open(db_path)
    try:
        engine.interact("ann", 3, "like")
        engine.lifecycle.train("mf", "manual", "always")
        engine.lifecycle.train("mf", "manual", "always", config={"epochs": 7})
        engine.reset_lab()
        assert numbered(engine, "mf") == [(1, "seed")]
        assert engine.lifecycle.train("mf", "manual", "never")["label"] == "v2"
    finally:
        engine.close()
    reopened = Engine.open(db_path)  # a reopen restores what the reset left: still no no-op
    try:
        moves = reopened.version_store.alias_history()
        assert not moves.empty
        assert not (moves["from_version"] == moves["to_version"]).any()
        assert not moves["reason"].str.startswith("restored").any()
    finally:
        reopened.close()


def test_an_old_lab_gets_numbers_per_algorithm_from_the_migration(db_path):
    engine = Engine.open(db_path)
    try:
        mf_2 = engine.lifecycle.train("mf", "manual", "never")["version"]
        knn_2 = engine.lifecycle.train("item_knn", "manual", "never")["version"]
        mf_3 = engine.lifecycle.train("mf", "manual", "never", config={"epochs": 7})["version"]
        engine.lifecycle.delete(mf_2)  # gone, but the candidate's moves still name it
    finally:
        engine.close()
    with duckdb.connect(str(db_path)) as con:  # as the lab was before migration 6
        con.execute("DROP TABLE version_numbers")
        con.execute("DELETE FROM schema_version WHERE version = 6")
    engine = Engine.open(db_path)
    try:
        numbers = engine.version_store.numbers()
        assert (numbers[mf_2], numbers[mf_3], numbers[knn_2]) == (2, 3, 2)
        assert numbered(engine, "mf") == [(1, "seed"), (3, "manual")]
        assert "v2" in engine.version_store.alias_history("mf")["from"].tolist()
        assert engine.lifecycle.train("mf", "manual", "never")["label"] == "v4"
    finally:
        engine.close()


def run(db, *args, capsys) -> tuple[int, str, str]:
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("promote", "v1"), "error: v1 is ambiguous: "),
        (("promote", "v9", "--algorithm", "mf"), "error: mf has no version v9; its versions are"),
        (("delete", "knn@v2"), "error: unknown algorithm"),
        (("promote", "mf@vx"), "error: a version is a number such as 3, v3 or mf@v3"),
        (("compare", "v1"), "error: versions compare takes 2 version(s)"),
    ],
    ids=["ambiguous", "unknown", "unknown-algorithm", "unreadable", "one-of-two"],
)
def test_cli_versions_take_the_algorithms_number_and_say_what_is_wrong(
    db_path, capsys, args, message
):
    code, out, err = run(db_path, "versions", *args, capsys=capsys)
    assert code == 2 and out == "" and err.startswith(message) and err.count("\n") == 1


def test_cli_lists_and_trains_with_per_algorithm_numbers(db_path, capsys):
    code, out, _ = run(db_path, "versions", "train", "--algorithm", "item_knn", capsys=capsys)
    assert code == 0 and out.startswith("item_knn: v2 trained on ")
    code, out, _ = run(
        db_path, "versions", "list", "--algorithm", "item_knn", "--json", capsys=capsys
    )
    listed = json.loads(out)
    assert [(v["version"], v["parent"]) for v in listed] == [(2, 1), (1, None)]
    code, out, _ = run(db_path, "versions", "list", "--algorithm", "item_knn", capsys=capsys)
    header, *rows = out.splitlines()
    assert header.split()[:2] == ["version", "algorithm"]
    assert [r.split()[0] for r in rows] == ["v2", "v1"] and "version_id" not in header
