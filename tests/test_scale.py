"""Ratings on their own scale (issue 16, kind 4): 1-10 is learned and reported on 1-10, 0/1 and
counts are implicit feedback evaluated by ranking, and `--scale LOW:HIGH` overrides."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from recsys.cli.main import main
from recsys.data.importer import read_dataset
from recsys.data.scale import Scale, choose, detect, parse_scale
from recsys.errors import RecsysError
from tests.datafiles import write_lab, write_movielens


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.5, 3.5, 5.0], Scale(0.5, 5.0)),  # the lab's stars, as they are
        ([1, 2, 5], Scale(1.0, 5.0)),
        ([2, 7, 10], Scale(1.0, 10.0)),  # whole numbers: a scale starts at 1, not at 2
        ([0, 4, 10], Scale(0.0, 10.0)),
        ([1, 4, 7], Scale(1.0, 7.0)),
        ([12.5, 80, 99], Scale(0.0, 100.0)),  # a percentage
        ([-2, 0, 2], Scale(-2.0, 5.0)),
        ([0, 1, 1, 0], Scale(0.0, 1.0, "0/1")),
        ([1, 3, 250], Scale(1.0, 250.0, "counts")),
    ],
)
def test_a_scale_is_read_off_the_values(values, expected):
    assert detect(np.array(values, dtype=float)) == expected


def test_rescaling_maps_the_ends_to_the_stars_and_back():
    scale = Scale(1.0, 10.0)
    stars = scale.to_stars(np.array([1.0, 5.5, 10.0]))
    assert stars.tolist() == [0.5, 2.75, 5.0]
    assert scale.from_stars(stars).tolist() == pytest.approx([1.0, 5.5, 10.0])
    assert Scale(1.0, 5.0).to_stars(np.array([1.0, 5.0])).tolist() == [1.0, 5.0]  # native


@pytest.mark.parametrize("text", ["10", "10:1", "a:b", "1:2:3", "5:5", ""])
def test_a_bad_scale_is_one_line(text):
    with pytest.raises(RecsysError, match="give LOW:HIGH"):
        parse_scale(text)


def test_a_given_scale_must_hold_the_values():
    assert choose(np.array([1.0, 9.0]), parse_scale("0:10")) == Scale(0.0, 10.0, detected=False)
    with pytest.raises(RecsysError, match="rating 12 is outside --scale 1:10"):
        choose(np.array([1.0, 12.0]), parse_scale("1:10"))
    counts = choose(np.array([0.0, 3.0, 40.0]), parse_scale("implicit"))
    assert counts.implicit == "counts" and not counts.detected


def ratings(path, rows, header=True):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(["user_id", "item_id", "rating"])
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def ten_point_rows(seed=0):
    """Two tastes on a 1-10 scale: fans of the first 15 items give 8-10, others 1-3."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(40):
        for item in rng.choice(30, 12, replace=False):
            liked = (item < 15) == (user % 2 == 0)
            rows.append(
                [f"u{user}", f"m{item}", int(rng.integers(8, 11) if liked else rng.integers(1, 4))]
            )
    return rows


def test_evaluate_learns_a_ten_point_scale_and_predicts_on_it(tmp_path, capsys):
    rows = ten_point_rows()
    train = ratings(tmp_path / "train.csv", rows[:400])
    test = ratings(tmp_path / "test.csv", rows[400:])
    out = tmp_path / "p.csv"
    args = ["evaluate", "--train", str(train), "--test", str(test), "--algorithms", "mf"]
    assert main([*args, "--predictions-out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scale"] == {"low": 1.0, "high": 10.0, "implicit": None}
    predicted = np.array([float(r["prediction"]) for r in csv.DictReader(out.open())])
    assert predicted.max() > 5.0  # the old reader never predicted above the stars' 5
    assert predicted.min() >= 1.0 and predicted.max() <= 10.0
    truth = np.array([r[2] for r in rows[400:]], dtype=float)
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    assert result["results"][0]["RMSE"] == pytest.approx(rmse, rel=1e-4)  # on 1-10, as written
    # The same ratings written as stars (r / 2: 1-10 maps onto 0.5-5 exactly so) learn the
    # same model; its errors are half the size, in stars.
    halves = [[u, i, r / 2] for u, i, r in rows]
    ratings(train, halves[:400]), ratings(test, halves[400:])
    assert main([*args, "--json"]) == 0
    stars = json.loads(capsys.readouterr().out)
    assert stars["scale"] == {"low": 0.5, "high": 5.0, "implicit": None}
    assert result["results"][0]["RMSE"] == pytest.approx(2 * stars["results"][0]["RMSE"])


def test_evaluate_on_zero_one_data_ranks_and_has_no_rmse(tmp_path, capsys):
    rows = [[u, i, 1 if v >= 8 else 0] for u, i, v in ten_point_rows()]
    train = ratings(tmp_path / "train.csv", rows[:400])
    test = ratings(tmp_path / "test.csv", rows[400:], header=False)
    args = ["evaluate", "--train", str(train), "--test", str(test), "--algorithms", "mf,popularity"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scale"]["implicit"] == "0/1"
    mf, popularity = result["results"]
    assert mf["RMSE"] is None and mf["MAE"] is None
    assert mf["users"] > 0 and mf["precision@10"] > 0  # once "users 0" and every metric 0.0
    assert mf["diversity"] is None  # the files name no genres: nothing to be diverse in
    assert mf["NDCG@10"] > popularity["NDCG@10"]  # the two tastes, learned from 0/1 alone
    assert any("implicit feedback" in note for note in result["notes"])


def lab_files(tmp_path, stars):
    """A lab CSV whose ratings are `stars(value)` of the written 0.5-5 stars."""
    folder = write_lab(tmp_path / "lab")
    text = (folder / "interactions.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    value = rows[0].index("value")
    for row in rows[1:]:
        if row[value]:
            row[value] = f"{stars(float(row[value])):g}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return {
        "items.csv": (folder / "items.csv").read_bytes(),
        "interactions.csv": out.getvalue().encode(),
    }


def test_an_import_on_ten_points_is_rescaled_to_stars_with_a_note(tmp_path):
    original = read_dataset("lab", lab_files(tmp_path, lambda v: v))
    report = read_dataset("lab", lab_files(tmp_path, lambda v: 2 * v))  # 1 to 10
    assert report.ok, report.text()
    stars = report.dataset.interactions["value"].dropna().to_numpy()
    expected = 0.5 + 4.5 * (2 * original.dataset.interactions["value"].dropna().to_numpy() - 1) / 9
    assert stars == pytest.approx(expected)
    assert (
        "interactions.csv: ratings on the scale 1 to 10 (detected) were rescaled" in report.text()
    )


def test_an_import_with_a_given_scale_refuses_a_value_off_it(tmp_path):
    files = lab_files(tmp_path, lambda v: 7.0 if v == 5.0 else v)
    report = read_dataset("lab", files, scale=parse_scale("0.5:5"))
    assert not report.ok
    assert report.problems[0].message == "rating 7 is off the scale 0.5 to 5 given by --scale"


def test_zero_one_ratings_import_as_likes_and_skips(tmp_path):
    report = read_dataset("lab", lab_files(tmp_path, lambda v: 1.0 if v >= 4 else 0.0))
    assert report.ok, report.text()
    kinds = report.dataset.interactions["kind"]
    assert "rating" not in set(kinds) and {"like", "skip"} <= set(kinds)


def test_movielens_keeps_its_own_scale_unless_told(tmp_path):
    folder = write_movielens(tmp_path / "ml")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    lines = files["ratings.csv"].decode().splitlines()
    fields = lines[1].split(",")
    fields[2] = "9"
    lines[1] = ",".join(fields)
    files["ratings.csv"] = ("\n".join(lines) + "\n").encode()
    assert (
        read_dataset("movielens", files).problems[0].message
        == "rating 9 is off the scale 0.5 to 5.0"
    )
    told = read_dataset("movielens", files, scale=parse_scale("0:10"))
    assert told.ok, told.text()
    assert any("given by --scale" in note for note in told.notes)


def test_evaluate_warns_when_test_rows_repeat_training_rows(tmp_path, capsys):
    rows = ten_point_rows()
    train = ratings(tmp_path / "train.csv", rows[:400])
    test = ratings(tmp_path / "test.csv", rows[390:])  # ten rows of the training file again
    assert main(["evaluate", "--train", str(train), "--test", str(test), "--algorithms", "mf"]) == 0
    out = capsys.readouterr().out
    assert "warning: 10 of 90 test rows repeat a (user, item) pair of the training file" in out
    honest = ratings(tmp_path / "honest.csv", rows[400:])
    assert (
        main(["evaluate", "--train", str(train), "--test", str(honest), "--algorithms", "mf"]) == 0
    )
    assert "repeat a (user, item) pair" not in capsys.readouterr().out


def test_no_relevant_test_item_is_undefined_not_zero(tmp_path, capsys):
    """Issue 16, kind 7: when no test user has a relevant item, ranking metrics, novelty,
    diversity and coverage are n/a (null in JSON), not 0.0, and `users` 0 says why."""
    rows = ten_point_rows()
    train = ratings(tmp_path / "train.csv", rows[:400])
    # One rating per user, the lowest: below the neutral 3 stars, so none is relevant (a second
    # low rating would be relevant again: ratings count relative to the user's own mean).
    first = {u: i for u, i, _ in reversed(rows[400:])}
    low = [[u, i, 1] for u, i in first.items()]
    test = ratings(tmp_path / "test.csv", low)
    args = ["evaluate", "--train", str(train), "--test", str(test), "--algorithms", "mf"]
    assert main([*args, "--json"]) == 0
    (mf,) = json.loads(capsys.readouterr().out)["results"]
    assert mf["users"] == 0
    for name in ("precision@10", "recall@10", "NDCG@10", "MAP@10", "hit rate@10",
                 "novelty (bits)", "diversity", "coverage"):  # fmt: skip
        assert mf[name] is None, name
    assert mf["RMSE"] is not None  # the ratings are still there to predict

    assert main(args) == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row[0] == "mf" and row.count("n/a") == 8
