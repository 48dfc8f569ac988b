"""A new lab fits only what its first page shows; the other seed versions are fitted when first
used, and must end up exactly what fitting everything at once stores and serves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.algorithms import DEFAULT_ALGORITHM, REGISTRY
from recsys.data.export import export_lab
from recsys.engine import Engine
from recsys.lifecycle.seeding import FIRST_PAGE

SIZES = {"n_items": 120, "n_users": 40, "sessions_per_user": 8}


def _eager(path) -> Engine:
    """The same lab with every seed version fitted at creation (the code before deferral)."""
    return Engine.create(path, "movies", 11, eager=True, **SIZES)


@pytest.fixture
def labs(tmp_path):
    lazy = Engine.create(tmp_path / "lazy.duckdb", "movies", 11, **SIZES)
    eager = _eager(tmp_path / "eager.duckdb")
    yield lazy, eager
    lazy.close()
    eager.close()


def _versions(engine: Engine) -> list[tuple]:
    """Every version as (id, algorithm, config, seed, trained through, events, trigger)."""
    store = engine.version_store
    ids = sorted(int(v) for v in store.versions()["version_id"])
    keys = ("version_id", "algorithm", "config", "seed", "trained_through_seq", "n_events")
    return [tuple(store.version(v)[k] for k in (*keys, "trigger")) for v in ids]


def _ranked(ranking) -> list[tuple[int, float]]:
    """A ranking's items and scores, to compare bit for bit."""
    return [(r.item, r.score) for r in ranking.items]


def test_a_new_lab_fits_only_the_first_pages_models(labs):
    lazy, eager = labs
    assert DEFAULT_ALGORITHM in FIRST_PAGE
    deferred = {lazy.version_store.version(v)["algorithm"] for v in lazy.version_store.deferred()}
    assert deferred == set(REGISTRY) - set(FIRST_PAGE)
    assert eager.version_store.deferred() == []
    assert _versions(lazy) == _versions(eager)  # same ids, configs, seeds, watermarks


def test_deferred_versions_are_fitted_bit_for_bit_as_at_creation(labs):
    lazy, eager = labs
    user = min(lazy.users())
    for name in REGISTRY:
        assert _ranked(lazy.recommend(user, algorithm=name)) == _ranked(
            eager.recommend(user, algorithm=name)
        )
    assert lazy.version_store.deferred() == []  # each was stored when first used
    for version_id, *_ in _versions(eager):
        a = lazy.version_store.version(version_id, params=True)
        b = eager.version_store.version(version_id, params=True)
        assert a["params"].keys() == b["params"].keys(), a["algorithm"]
        for key in a["params"]:
            np.testing.assert_array_equal(a["params"][key], b["params"][key], err_msg=key)
        assert a["fit_seconds"] is not None


def test_a_model_first_used_after_events_serves_what_an_early_one_does(labs):
    lazy, eager = labs
    users = sorted(lazy.users())[:3]
    for engine in labs:  # the same events in both labs, learned by mf at once
        for i, user in enumerate(users):
            item = engine.recommend(user).items[i].item
            engine.interact(user, item, "like", ts=engine.host.last_ts + 60 * (i + 1))
    for name in REGISTRY:
        for user in users:
            assert _ranked(lazy.recommend(user, algorithm=name)) == _ranked(
                eager.recommend(user, algorithm=name)
            )


def test_a_reopened_lab_keeps_the_states_fitted_late_and_fits_the_rest(tmp_path):
    path = tmp_path / "lab.duckdb"
    with_first = Engine.create(path, "movies", 11, **SIZES)
    user = min(with_first.users())
    item_knn = with_first.recommend(user, algorithm="item_knn")
    with_first.close()
    reopened = Engine.open(path)
    try:
        store = reopened.version_store
        left = {store.version(v)["algorithm"] for v in store.deferred()}
        assert "item_knn" not in left and "content" in left
        assert _ranked(reopened.recommend(user, algorithm="item_knn")) == _ranked(item_knn)
        assert export_lab(reopened, tmp_path / "export", "parquet")["files"][
            "model_versions.parquet"
        ]
        assert store.deferred() == []  # an export writes every version's parameters
        params = pd.read_parquet(tmp_path / "export" / "model_versions.parquet")["params"]
        assert params.notna().all()
    finally:
        reopened.close()


def test_the_seed_versions_serve_from_the_worlds_own_transaction(tmp_path):
    """Each seed version is production from the event after its watermark, moved by the system
    once, as the first open of the lab used to write it: opening again moves nothing."""
    path = tmp_path / "lab.duckdb"
    Engine.create(path, "movies", 11, **SIZES).close()
    engine = Engine.open(path)
    try:
        last_seq, last_ts = engine.last_seq, engine.host.last_ts
        moves = engine.version_store.alias_history().sort_values("move_id")
        lineages = engine.store.db.query(
            "SELECT algorithm, arm, effective_seq, version_id, checkpoint_id, reason "
            "FROM lineage ORDER BY lineage_id"
        )
        expected = []
        for version_id, algorithm, _, _, through, *_ in _versions(engine):
            assert engine.version_store.alias(algorithm, "production") == version_id
            assert through == last_seq
            expected.append((algorithm, "production", through + 1, version_id, None))
        reason = "first production: the newest version"
        assert lineages == [(*row, reason) for row in expected]
        assert len(moves) == len(REGISTRY)
        assert list(moves["algorithm"]) == list(REGISTRY)
        assert set(moves["at_seq"]) == {last_seq} and set(moves["ts"]) == {last_ts}
        assert moves["from_version"].isna().all()
        assert set(moves["actor"]) == {"system"} and set(moves["reason"]) == {reason}
    finally:
        engine.close()


def test_the_first_page_of_a_new_lab_shows_the_list_of_a_fully_fitted_one(tmp_path, monkeypatch):
    """The app on a file that does not exist yet: the default world is created with only the
    first page's models, and the page shows exactly the list a lab with every seed version
    fitted serves (nothing the person sees changes when the rest is fitted later)."""
    import streamlit as st

    from recsys.ui.state import engine_for
    from tests.apptest import lab_app_test

    path = tmp_path / "new.duckdb"
    monkeypatch.setenv("RECSYS_DB", str(path))
    st.cache_resource.clear()
    try:
        app = lab_app_test()
        app.query_params["user"] = "alice"
        app.run()
        assert not app.exception
        shown = [int(b.key.split("-")[1]) for b in app.button if b.key.startswith("like-")]
        heading = next(h.value for h in app.subheader if h.value.startswith("Top "))
        assert engine_for(str(path)).host.built() == list(FIRST_PAGE)
    finally:
        st.cache_resource.clear()  # closes the app's engine
    eager = Engine.create(tmp_path / "eager.duckdb", eager=True)
    try:
        expected = eager.recommend("alice", 10)
        assert sorted(shown) == sorted(expected.item_ids()) and len(shown) == 10
        assert heading == f"Top 10 for alice · {DEFAULT_ALGORITHM} v1"
    finally:
        eager.close()


def test_an_import_fits_the_first_page_and_the_rest_bit_for_bit_when_first_used(tmp_path):
    """An imported dataset defers the same versions as a new lab (a 25M-event import would
    otherwise wait for all ten fits) and each ends up what fitting it at once gives."""
    from recsys.data.importer import read_path
    from recsys.data.lab import dataset_lab
    from recsys.lifecycle.seeding import install_world
    from recsys.store.database import Store
    from tests.datafiles import write_movielens

    folder = write_movielens(tmp_path / "ml")
    report = read_path("movielens", folder)
    lazy = Engine.open(tmp_path / "lazy.duckdb", world=dataset_lab(report, folder, None, 42))
    store = Store.open(str(tmp_path / "eager.duckdb"))
    install_world(store, dataset_lab(report, folder, None, 42), fit=None)
    store.close()
    eager = Engine.open(tmp_path / "eager.duckdb")
    try:
        deferred = {
            lazy.version_store.version(v)["algorithm"] for v in lazy.version_store.deferred()
        }
        assert deferred == set(REGISTRY) - set(FIRST_PAGE) and eager.version_store.deferred() == []
        user = min(lazy.users())
        for name in REGISTRY:
            assert _ranked(lazy.recommend(user, algorithm=name)) == _ranked(
                eager.recommend(user, algorithm=name)
            ), name
        assert lazy.version_store.deferred() == []
    finally:
        lazy.close()
        eager.close()
