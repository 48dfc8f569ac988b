"""Offline evaluation: metrics cross-checked against scikit-learn, splits, external files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, ndcg_score

from recsys.algorithms import Catalog
from recsys.cli.main import main
from recsys.data.ratings import catalog_for, rating_events, read_ratings
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.evaluation import (
    average_precision_at_k,
    evaluate,
    intra_list_diversity,
    list_metrics,
    measure,
    ndcg_at_k,
    precision_at_k,
    random_split,
    recall_at_k,
    temporal_split,
)
from recsys.events import DEFAULT_WEIGHTS

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small"


def test_ranking_metrics_by_hand_and_against_sklearn():
    ranked, relevant = [7, 3, 9, 1, 5], {3, 5, 8}
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(2 / 5)
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert average_precision_at_k(ranked, relevant, 5) == pytest.approx((1 / 2 + 2 / 5) / 3)
    # sklearn: true relevance and our ranking as descending scores over the same items
    items = sorted(set(ranked) | relevant)
    truth = np.array([[1.0 if i in relevant else 0.0 for i in items]])
    scores = np.array([[len(ranked) - ranked.index(i) if i in ranked else -1 for i in items]])
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(ndcg_score(truth, scores, k=5))


def test_diversity_is_mean_pairwise_genre_distance():
    genres = (("A",), ("A",), ("B",), ("A", "B"))
    assert intra_list_diversity([0, 1], genres) == 0.0
    assert intra_list_diversity([0, 2], genres) == 1.0
    assert intra_list_diversity([0, 3], genres) == pytest.approx(0.5)


def one_by_one(ranked: list[int], relevant: set[int], k: int, share, genres) -> list[float]:
    """A list's metrics by the per-list definitions (the loop `measure` ran before)."""
    return [
        precision_at_k(ranked, relevant, k),
        recall_at_k(ranked, relevant, k),
        ndcg_at_k(ranked, relevant, k),
        average_precision_at_k(ranked, relevant, k),
        float(bool(relevant.intersection(ranked))),
        float(np.mean(-np.log2(share[ranked]))) if ranked else 0.0,
        intra_list_diversity(ranked, genres),
    ]


def test_list_metrics_equal_the_per_list_definitions_bit_for_bit():
    rng = np.random.default_rng(5)
    names = ("A", "B", "C", "D")
    genres = tuple(tuple(rng.choice(names, rng.integers(0, 3), replace=False)) for _ in range(30))
    catalog = Catalog(titles=tuple(f"t{i}" for i in range(30)), genres=genres)
    share = rng.dirichlet(np.ones(30))
    lists, relevant = [], []
    for length in [10] * 40 + [3, 3, 1, 0]:  # short lists: few unseen items left
        lists.append(rng.choice(30, length, replace=False))
        relevant.append({int(i) for i in rng.choice(30, rng.integers(0, 12), replace=False)})
    rows = list_metrics(lists, relevant, 10, share, catalog)
    expected = [
        one_by_one(r.tolist(), rel, 10, share, genres)
        for r, rel in zip(lists, relevant, strict=True)
    ]
    assert rows.tolist() == expected  # exactly: the same sums in the same order
    assert rows[:40, 6].min() < rows[:40, 6].max() and rows[:, 2].max() > 0  # not all trivial


def test_measure_equals_the_loop_over_users(engine):
    split = random_split(engine.store.events(), 0.2, 2)
    model = engine.model("item_knn").__class__(catalog=engine.catalog)
    model.fit(split.train, engine.catalog)
    metrics = measure(model, split.test, split.train.item, engine.catalog, 10, max_users=40)
    weights = split.test.weights(DEFAULT_WEIGHTS)
    relevant: dict[str, set[int]] = {}
    for user, item, w in zip(split.test.user, split.test.item, weights, strict=True):
        if w >= 0.25:
            relevant.setdefault(user, set()).add(int(item))
    users = sorted(np.random.default_rng(0).choice(sorted(relevant), 40, replace=False))
    popularity = np.bincount(split.train.item, minlength=engine.catalog.n).astype(float)
    share = (popularity + 1) / (popularity.sum() + engine.catalog.n)
    lists = [model.recommend(user, 10)[0].tolist() for user in users]
    rows = [
        one_by_one(r, relevant[u], 10, share, engine.catalog.genres)
        for r, u in zip(lists, users, strict=True)
    ]
    means = np.mean(rows, axis=0).tolist()
    names = ["precision@10", "recall@10", "NDCG@10", "MAP@10", "hit rate@10"]
    assert [metrics[n] for n in [*names, "novelty (bits)", "diversity"]] == means
    assert metrics["coverage"] == len({i for r in lists for i in r}) / engine.catalog.n
    assert metrics["users"] == 40.0 and 0 < metrics["NDCG@10"] < 1


def test_splits_keep_each_user_item_pair_on_one_side(engine):
    events = engine.store.events()
    for split in (random_split(events, 0.2, 3), temporal_split(events, 2)):
        train = set(zip(split.train.user, split.train.item, strict=True))
        test = set(zip(split.test.user, split.test.item, strict=True))
        assert not train & test and len(split.train) + len(split.test) == len(events)
    split = random_split(events, 0.2, 3)
    assert 0.1 < len(split.test) / len(events) < 0.3
    assert np.array_equal(random_split(events, 0.2, 3).test.seq, split.test.seq)  # seeded
    last = temporal_split(events, 1)
    for user in set(last.test.user.tolist()[:20]):
        mine = events.seq[events.user == user]
        assert last.test.seq[last.test.user == user].max() == mine.max()  # the newest item


def test_evaluate_reports_every_metric_and_rmse_only_for_rating_predictors(engine):
    split = random_split(engine.store.events(), 0.2, 0)
    results = {
        r.algorithm: r.metrics
        for r in evaluate(
            ["mf", "item_knn", "popularity", "ucb1"], split, engine.catalog, k=10, max_users=150
        )
    }
    for metrics in results.values():
        assert 0 <= metrics["precision@10"] <= 1 and 0 <= metrics["coverage"] <= 1
        assert metrics["fit seconds"] > 0 and metrics["users"] > 0
    assert results["mf"]["RMSE"] is not None and results["item_knn"]["RMSE"] is None
    assert results["item_knn"]["NDCG@10"] > results["ucb1"]["NDCG@10"]
    assert results["popularity"]["coverage"] < results["mf"]["coverage"]


def test_rating_errors_match_sklearn(engine):
    from recsys.evaluation import _rating_errors, predict

    split = random_split(engine.store.events(), 0.2, 1)
    model = engine.model("mf").__class__(catalog=engine.catalog)
    model.fit(split.train, engine.catalog)
    rated = split.test.kind == "rating"
    guess = predict(model, split.test.user[rated], split.test.item[rated])
    errors = _rating_errors(model, split.test)
    assert errors["RMSE"] == pytest.approx(
        np.sqrt(mean_squared_error(split.test.value[rated], guess))
    )
    assert errors["MAE"] == pytest.approx(mean_absolute_error(split.test.value[rated], guess))


def write(path: Path, rows, header=True):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        writer.writerows(rows)
    return path


def planted_ratings(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(40):
        fan = user % 2
        for item in rng.choice(30, 12, replace=False):
            liked = (item < 15) == (fan == 0)
            rows.append([f"u{user}", f"m{item}", 4.5 if liked else 1.5, int(rng.integers(1e6))])
    return [rows[i] for i in rng.permutation(len(rows))]  # every user on both sides


def test_ratings_files_with_and_without_header(tmp_path):
    rows = planted_ratings()
    with_header = read_ratings(write(tmp_path / "a.csv", rows))
    without = read_ratings(write(tmp_path / "b.csv", rows, header=False))
    assert with_header.users == without.users and len(with_header.users) == len(rows)
    catalog, index = catalog_for(with_header)
    events = rating_events(with_header, index)
    assert catalog.n == len(index) and np.all(np.diff(events.ts) >= 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("u1,m1\n", "expected user_id,item_id,rating"),
        ("u1,m1,4\nu2,m2,lots\n", "not a number"),
        ("", "holds no ratings"),
    ],
)
def test_bad_ratings_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(RecsysError, match=message):
        read_ratings(path)


def test_ratings_files_are_read_by_the_importers_reader(tmp_path):
    """A byte-order mark, quotes, CRLF and blank lines read as an import reads them; a row may
    leave out its timestamp, and a timestamp that is not a number reads as the line number."""
    path = tmp_path / "r.csv"
    path.write_bytes(
        b'\xef\xbb\xbfu1,"m,1",4\r\n\r\n  \r\n"u2", m2 ,3.5,1700000000\r\nu3,m3,2,2024-05-01\r\n'
    )
    got = read_ratings(path)
    assert got.users == ["u1", "u2", "u3"] and got.items == ["m,1", "m2", "m3"]
    assert got.ratings.tolist() == [4.0, 3.5, 2.0]
    assert got.timestamps.tolist() == [1.0, 1_700_000_000.0, 5.0]
    side = got.take(np.array([2, 0]))
    assert side.users == ["u3", "u1"] and side.ratings.tolist() == [2.0, 4.0]
    path.write_bytes(b"user,item,rating\nu1,m1,4\nu\xe9,m2,5\n")
    with pytest.raises(RecsysError, match=r"r\.csv line 3: byte 0xe9 is not UTF-8"):
        read_ratings(path)
    path.write_bytes(b"u1,m1,4\nu2,m2\nu3,m3,x\n")
    with pytest.raises(RecsysError, match=r"r\.csv line 2: 2 fields.*\(and 1 more problem\)"):
        read_ratings(path)


def test_evaluate_command_on_files_writes_one_prediction_per_test_row(tmp_path, capsys):
    rows = planted_ratings()
    train = write(tmp_path / "train.csv", rows[:380])
    test = write(tmp_path / "test.csv", rows[380:], header=False)
    out = tmp_path / "pred.csv"
    code = main(
        [
            "evaluate",
            "--train",
            str(train),
            "--test",
            str(test),
            "--algorithms",
            "mf,popularity",
            "--predictions-out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["algorithm"] for r in report["results"]] == ["mf", "popularity"]
    lines = list(csv.reader(out.open()))
    assert lines[0] == ["user_id", "item_id", "rating", "prediction"]
    assert len(lines) == 1 + len(rows) - 380
    predicted = np.array([float(r[3]) for r in lines[1:]])
    actual = np.array([float(r[2]) for r in lines[1:]])
    assert np.all((predicted >= 0.5) & (predicted <= 5))
    assert np.corrcoef(predicted, actual)[0, 1] > 0.5  # the planted taste is recovered


def test_evaluate_command_on_the_lab_and_bad_input(db_path, capsys):
    assert (
        main(
            [
                "--db",
                str(db_path),
                "evaluate",
                "--algorithms",
                "mf,trending",
                "--split",
                "temporal",
                "--last",
                "2",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "leave last 2" and len(report["results"]) == 2
    for bad in (["--algorithms", "nope"], ["--train", "x.csv"], ["--k", "0"]):
        assert main(["--db", str(db_path), "evaluate", *bad]) == 2
        assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.skipif(not MOVIELENS.exists(), reason="../shared/datasets/ml-latest-small absent")
def test_mf_on_movielens_predicts_ratings_well(tmp_path):
    rows = list(csv.reader((MOVIELENS / "ratings.csv").open()))[1:]
    order = np.random.default_rng(0).permutation(len(rows))
    cut = int(0.8 * len(rows))
    train = read_ratings(write(tmp_path / "train.csv", [rows[i] for i in order[:cut]]))
    test = read_ratings(write(tmp_path / "test.csv", [rows[i] for i in order[cut:]]))
    catalog, index = catalog_for(train, test)
    from recsys.evaluation import Split

    split = Split(rating_events(train, index), rating_events(test, index, cut + 1), "files")
    result = evaluate(["mf"], split, catalog, max_users=100)[0]
    assert result.metrics["RMSE"] < 0.88  # Surprise's SVD: 0.873 on this split


def test_sweep_changes_the_parameter(engine):
    from recsys.evaluation import sweep

    seen = []
    frame = sweep(
        "item_knn",
        "neighbours",
        [1, 30],
        random_split(engine.store.events()),
        engine.catalog,
        max_users=100,
        progress=lambda done, total, row: seen.append((done, total, row["neighbours"])),
    )
    assert frame["neighbours"].tolist() == [1, 30]
    assert seen == [(1, 2, 1), (2, 2, 30)]
    assert (frame["seconds"] >= frame["fit seconds"]).all()
    assert frame["coverage"].iloc[0] != frame["coverage"].iloc[1]
    with pytest.raises(RecsysError):
        sweep("item_knn", "neighbours", [0], random_split(engine.store.events()), engine.catalog)


def test_sweep_costs_grow_with_the_work_of_a_point():
    from recsys.evaluation import sweep_costs

    assert sweep_costs("factors", [8, 32, 128], 32, 2.0) == pytest.approx([1.0, 2.0, 4.0])
    assert sweep_costs("epochs", [4, 16], 8, 1.0) == pytest.approx([0.5, 2.0])
    assert sweep_costs("neighbours", [5, 500], 50, 0.3) == pytest.approx([0.3, 0.3])


def test_engine_is_untouched_by_evaluation(engine):
    before = engine.store.count_events(), engine.model("mf").state()["model.item_factors"]
    evaluate(["mf"], random_split(engine.store.events()), engine.catalog, max_users=50)
    assert engine.store.count_events() == before[0]
    assert np.array_equal(engine.model("mf").state()["model.item_factors"], before[1])
    assert isinstance(engine, Engine)
