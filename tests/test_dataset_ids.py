"""A dataset's own ids everywhere (issue 16, kind 1): the CLI takes and prints MovieLens'
movieIds after an import, and an export imports back as the same lab (ids, times, holdout)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from recsys.cli.main import main
from tests.datafiles import write_movielens


def run(capsys, db, *args):
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def movielens_lab(tmp_path, capsys):
    folder = write_movielens(tmp_path / "ml")
    db = tmp_path / "a.duckdb"
    code, _, err = run(capsys, db, "import", "--format", "movielens", str(folder))
    assert code == 0, err
    movies = {
        row["movieId"]: row["title"] for row in csv.DictReader((folder / "movies.csv").open())
    }
    return db, movies


def test_the_cli_speaks_movielens_ids(movielens_lab, capsys):
    db, movies = movielens_lab
    code, out, _ = run(capsys, db, "recommend", "--user", "1", "--k", "5", "--json")
    assert code == 0
    shown = [r["item"] for r in json.loads(out)["items"]]
    assert len(shown) == 5 and set(shown) <= set(movies)  # movieIds, not rows 0..59
    target = sorted(set(movies) - set(shown), key=int)[-1]  # the largest movieId: > the rows
    assert int(target) >= 60
    code, out, _ = run(
        capsys, db, "interact", "--user", "1", "--item", target, "--kind", "like", "--json"
    )
    step = json.loads(out)
    assert code == 0 and step["event"]["item"] == target
    assert movies[target].startswith(step["title"])  # the title without its "(year)"
    assert all(r["item"] in movies for r in step["after"]["items"])
    code, out, _ = run(capsys, db, "recommend", "--user", "1", "--k", "3")
    first = out.splitlines()[1]
    assert first.split("[")[1].split("]")[0].strip() in movies
    code, out, _ = run(capsys, db, "explain", "--user", "1", "--item", target, "--json")
    explained = json.loads(out)  # the score breakdown names items by movieId too
    assert (
        code == 0 and explained["item"] == target and movies[target].startswith(explained["title"])
    )
    assert explained["related"] and all(r["item"] in movies for r in explained["related"])


def test_an_id_the_dataset_does_not_have_is_one_line(movielens_lab, capsys):
    db, movies = movielens_lab
    missing = "2"  # a row number of the lab, but no movieId of this dataset
    assert missing not in movies
    code, out, err = run(capsys, db, "interact", "--user", "1", "--item", missing, "--kind", "like")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: unknown item '2': not an item id of this lab's 60 items")
    code, out, err = run(capsys, db, "explain", "--user", "1", "--item", missing)
    assert code == 2 and out == "" and err.startswith("error: unknown item '2'")


def exported(capsys, db, folder: Path) -> dict[str, str]:
    code, _, err = run(capsys, db, "export", str(folder), "--format", "csv")
    assert code == 0, err
    return {name: (folder / name).read_text() for name in ("items.csv", "interactions.csv")}


def test_an_export_imports_back_as_the_same_lab(movielens_lab, tmp_path, capsys):
    db, movies = movielens_lab
    for item in ("1", "10"):
        run(capsys, db, "interact", "--user", "7", "--item", item, "--kind", "like")
    first = exported(capsys, db, tmp_path / "export-a")
    rows = list(csv.DictReader(first["interactions.csv"].splitlines()))
    assert {r["item_id"] for r in rows} <= set(movies)
    assert min(float(r["timestamp"]) for r in rows) >= 1_600_000_000  # Unix time, not 0.0
    held = sum(r["holdout"] == "1" for r in rows)
    assert held > 0
    again = tmp_path / "b.duckdb"
    code, out, err = run(capsys, again, "import", "--format", "lab", str(tmp_path / "export-a"))
    assert code == 0, err
    assert f"are the lab's log and {held:,}" in out  # the same holdout, not a new draw
    second = exported(capsys, again, tmp_path / "export-b")
    assert second == first  # items, users, events, times, ratings and holdout


@pytest.mark.parametrize(("share", "held"), [("0", 0), ("0.3", None)])
def test_the_holdout_share_is_a_choice(tmp_path, capsys, share, held):
    folder = write_movielens(tmp_path / "ml")
    db = tmp_path / "lab.duckdb"
    code, out, err = run(
        capsys, db, "import", "--format", "movielens", str(folder), "--holdout", share, "--json"
    )
    assert code == 0, err
    info = json.loads(out)
    if held is not None:
        assert info["held_out"] == held and "no holdout" in info["accounting"]
    else:
        assert info["held_out"] > 0.2 * info["summary"]["interactions"]
    code, _, err = run(
        capsys, db, "import", "--format", "movielens", str(folder), "--holdout", "0.9"
    )
    assert code == 2 and "--holdout 0.9: give a share from 0 to 0.5" in err


def test_analytics_names_the_best_recommendations_by_movieid(movielens_lab, capsys):
    db, movies = movielens_lab
    code, _, err = run(capsys, db, "experiment", "simulate", "--arms", "mf,popularity",
                       "--users", "30", "--sessions", "5", "--seed", "1")  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, db, "experiment", "analytics", "--days", "3650", "--json")
    assert code == 0, err
    top = json.loads(out)["top_items"]
    assert top and all(r["item_id"] in movies for r in top)
