"""Bring your own algorithm: the example plugin passes the contract checks, broken plugins are one
line each, discovery (folder, file, entry point) registers plugins, and a lab serves, retrains,
stores (as arrays) and time-travels a plugin like a built-in."""

from __future__ import annotations

import importlib
import sys
from contextlib import closing

import numpy as np
import pytest

from recsys.algorithms import REGISTRY
from recsys.algorithms.checks import CATALOG, check_algorithm, planted_events
from recsys.algorithms.discovery import discover, folder_files, load_file, register
from recsys.algorithms.plugin import PluginError
from recsys.engine import Engine
from recsys.errors import RecsysError
from recsys.events import Event
from recsys.lifecycle.timetravel import recommend_as_of
from tests.plugin_files import EXAMPLE, broken, clean_registry, example_text, write

__all__ = ["clean_registry"]  # a fixture used by name


def test_the_example_plugin_passes_every_contract_check():
    [cls] = load_file(EXAMPLE)
    report = check_algorithm(cls)
    assert cls.name == "neighbours" and report.passed, report.text()
    assert [c.name for c in report.checks] == [
        "planted answer recovered",
        "unknown user and item",
        "config round trip",
        "same seed, same ranking",
        "state round trip",
        "a like raises the liked item's neighbours",
        "a dislike lowers the item or its neighbours",
    ]
    assert report.learn_one_ms > 0 and report.score_ms > 0
    assert cls.config_class.bounds()[0]["name"] == "shrink"  # drawn from its dataclass


def test_a_plugin_that_learns_backwards_fails_the_feedback_checks(tmp_path):
    path = write(
        tmp_path,
        "backwards.py",
        example_text("backwards").replace(
            "self.weights[user, item] += weight", "self.weights[user, item] -= weight"
        ),
    )
    report = check_algorithm(load_file(path)[0])
    failed = {c.name for c in report.checks if not c.passed}
    assert "a like raises the liked item's neighbours" in failed
    assert not report.passed and "FAIL" in report.text()


@pytest.mark.parametrize("how", ["syntax error", "missing dependency", "constructor exception"])
def test_a_broken_plugin_is_one_line_naming_its_file_and_line(tmp_path, how, clean_registry):
    path, line = broken(tmp_path, how)
    with pytest.raises(PluginError) as raised:
        load_file(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path.resolve()}:{line}:")
    assert {"missing dependency": "no_such_lib_xyz", "constructor exception": "no GPU here"}.get(
        how, "syntax error"
    ) in message
    # The lab goes on without it: the good plugin beside it is registered.
    good = write(tmp_path, "good.py", example_text("good_one"))
    loaded = discover([path, good], folder=None, entry_points=False)
    assert loaded.names == ["good_one"] and len(loaded.problems) == 1
    assert "good_one" in REGISTRY and not any("neighbours" in n for n in REGISTRY)


def test_the_folder_skips_the_example_and_private_files(tmp_path):
    for name in ("example_plugin.py", "_helpers.py", "mine.py", "notes.txt"):
        write(tmp_path, name, "")
    assert [p.name for p in folder_files(tmp_path)] == ["mine.py"]


def test_a_plugin_cannot_take_a_built_ins_name_nor_store_objects(tmp_path, clean_registry):
    with pytest.raises(PluginError, match="'mf' is a built-in"):
        load_file(write(tmp_path, "clash.py", example_text("mf")))
    text = example_text("dicts").replace(
        "        self.weights[user, item] += weight",
        "        self.weights[user, item] += weight\n        self.seen = {user: item}",
    )
    [cls] = load_file(write(tmp_path, "dicts.py", text))
    model = cls(catalog=CATALOG)
    model.fit(planted_events())
    model.learn_one(Event("u0", 1, "like", seq=99_999, ts=1e9))
    assert all(v.dtype != object for v in model.state().values())  # the dict is not state
    register(cls)
    with pytest.raises(PluginError, match="taken"):
        register(load_file(write(tmp_path, "other.py", example_text("dicts")))[0])


def test_an_installed_package_is_found_by_its_entry_point(tmp_path, monkeypatch, clean_registry):
    site = tmp_path / "site"
    (site / "tinyplug").mkdir(parents=True)
    write(site / "tinyplug", "__init__.py", example_text("tiny_neighbours"))
    dist = site / "tinyplug-0.1.dist-info"
    dist.mkdir()
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: tinyplug\nVersion: 0.1\n")
    write(dist, "entry_points.txt", "[recsys_lab.algorithms]\ntiny = tinyplug:Neighbours\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    loaded = discover(folder=None)
    assert loaded.names == ["tiny_neighbours"] and not loaded.problems
    assert REGISTRY["tiny_neighbours"].source == str(site / "tinyplug" / "__init__.py")
    sys.modules.pop("tinyplug", None)


def test_a_lab_serves_retrains_stores_and_time_travels_a_plugin(db_path, clean_registry):
    register(load_file(EXAMPLE)[0])
    with closing(Engine.open(db_path)) as engine:
        versions = engine.version_store.versions("neighbours")
        assert versions["trigger"].tolist() == ["first-load"]  # deferred: not fitted on open
        assert engine.host.built() == []
        before = engine.recommend("alice", 5, "neighbours")
        assert before.algorithm == "neighbours" and len(before.items) == 5
        liked = before.items[0].item
        step = engine.interact("alice", liked, "like", algorithm="neighbours")
        seq = engine.last_seq
        after = engine.recommend("alice", 5, "neighbours")
        assert liked not in [r.item for r in after.items]  # learned online: seen, excluded
        replayed = recommend_as_of(engine, "alice", seq, 5, "neighbours")
        assert [r.item for r in replayed.items] == [r.item for r in after.items]
        assert step is not None
        info = engine.retrain("neighbours")
        scores = engine.model("neighbours").score("alice")
    with closing(Engine.open(db_path)) as engine:  # the state comes back from its arrays
        assert np.allclose(engine.model("neighbours").score("alice"), scores)
        assert engine.version_store.version(info["version"])["algorithm"] == "neighbours"


def test_a_lab_whose_plugin_is_gone_still_opens_and_says_so_where_needed(db_path, clean_registry):
    register(load_file(EXAMPLE)[0])
    with closing(Engine.open(db_path)) as engine:
        engine.retrain("neighbours")
    del REGISTRY["neighbours"]
    with closing(Engine.open(db_path)) as engine:
        assert len(engine.recommend("alice", 3, "mf").items) == 3
        with pytest.raises(RecsysError, match="plugin this lab used that is not loaded"):
            engine.recommend("alice", 3, "neighbours")
