"""Exporting the log as Parquet and CSV, read back by DuckDB and pandas."""

from __future__ import annotations

import io
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from recsys.cli.main import main
from recsys.data.export import export_lab
from recsys.errors import RecsysError
from recsys.experiments.simulation import simulate

NAMES = (
    "events",
    "impressions",
    "learning_log",
    "model_versions",
    "experiments",
    "update_log",
    "alias_history",
)


@pytest.fixture
def busy(engine):
    """A lab with live events (and so learning-log rows) and a simulated experiment."""
    for item in (3, 8, 13):
        engine.interact("ada", item, "like")
    engine.interact("ada", 21, "rating", 4.5)
    simulate(engine, "mf,popularity", users=30, sessions=3, seed=1, name="exported")
    return engine


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_round_trips_through_duckdb_and_pandas(busy, tmp_path, fmt):
    info = export_lab(busy, tmp_path / "out", fmt)
    # The log tables, plus the lab as a dataset in the lab CSV format (issue 16: it imports back).
    assert set(info["files"]) == {f"{n}.{fmt}" for n in NAMES} | {"items.csv", "interactions.csv"}
    store = busy.store
    for name in NAMES:
        path = tmp_path / "out" / f"{name}.{fmt}"
        rows = store.db.query(f"SELECT count(*) FROM {name}")[0][0]
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        assert duckdb.sql(f"SELECT count(*) FROM {reader}('{path}')").fetchall()[0][0] == rows
        assert info["files"][path.name] == rows
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    events = read(tmp_path / "out" / f"events.{fmt}")
    log = store.events()
    assert events["seq"].tolist() == log.seq.tolist()
    assert events["kind"].tolist() == log.kind.tolist()
    assert events["user_id"].tolist() == log.user.tolist()
    assert read(tmp_path / "out" / f"learning_log.{fmt}")["user_id"].eq("ada").sum() >= 4
    impressions = read(tmp_path / "out" / f"impressions.{fmt}")
    assert impressions["experiment_id"].nunique() == 1 and impressions["clicked"].any()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_update_log_and_the_alias_history_are_exported(busy, tmp_path, fmt):
    """What the Model versions page's "Updates and alias moves" shows leaves the lab too: a
    retrain's row in the update log, and the alias moves of its promotion and of a rollback."""
    busy.lifecycle.train("popularity", "manual", "always")
    busy.lifecycle.rollback("popularity")
    export_lab(busy, tmp_path, fmt)
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    updates, moves = (read(tmp_path / f"{name}.{fmt}") for name in ("update_log", "alias_history"))
    expected = busy.store.db.query(
        "SELECT update_type, trigger, status, version_id FROM update_log ORDER BY update_id"
    )
    assert expected and expected[-1][:2] == ("full retrain", "manual")
    got = updates[["update_type", "trigger", "status", "version_id"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == [tuple(r) for r in expected]
    popularity = moves[moves["algorithm"] == "popularity"]
    assert popularity["reason"].str.startswith("rollback").iloc[-1]
    assert popularity["to_version"].iloc[-1] == popularity["from_version"].iloc[-2]


def test_parquet_keeps_model_parameters_loadable_without_pickle(busy, tmp_path):
    export_lab(busy, tmp_path, "parquet")
    versions = pd.read_parquet(tmp_path / "model_versions.parquet")
    row = versions.iloc[0]
    with np.load(io.BytesIO(row["params"]), allow_pickle=False) as arrays:
        stored = busy.version_store.version(int(row["version_id"]), params=True)["params"]
        assert set(arrays.files) == set(stored)
        for name in arrays.files:
            np.testing.assert_array_equal(arrays[name], stored[name])
    csv = pd.read_csv(
        export_lab(busy, tmp_path / "csv", "csv")["directory"] + "/model_versions.csv"
    )
    assert "params" not in csv.columns and json.loads(csv["config"].iloc[0])


def test_an_earlier_export_is_not_overwritten_by_accident(busy, tmp_path):
    export_lab(busy, tmp_path, "csv")
    before = (tmp_path / "events.csv").read_bytes()
    with pytest.raises(RecsysError, match=r"already has events\.csv"):
        export_lab(busy, tmp_path, "csv")
    assert (tmp_path / "events.csv").read_bytes() == before
    busy.interact("ada", 30, "like")
    export_lab(busy, tmp_path, "csv", overwrite=True)
    assert len(pd.read_csv(tmp_path / "events.csv")) == busy.last_seq
    assert not (tmp_path / ".export-partial").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "{tmp}/x", "--format", "xlsx"], "invalid choice"),
        (["export", "{db}"], "is a file"),
    ],
)
def test_bad_export_input_exits_2_with_one_line(db_path, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, db=db_path) for a in args]
    assert main(["--db", str(db_path), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "x").exists()


def test_export_from_the_command_line(db_path, tmp_path, capsys):
    assert main(["--db", str(db_path), "export", str(tmp_path / "o"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "parquet" and info["files"]["events.parquet"] > 0
