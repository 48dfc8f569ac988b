"""The holdout split (`recsys.world.set_aside`) computed from integer codes picks exactly the
pairs the string version picked: the same draw over the pairs in order of first appearance,
only people with at least HOLDOUT_MIN_ITEMS items giving any away."""

import numpy as np
import pandas as pd

from recsys.world import HOLDOUT_MIN_ITEMS, set_aside


def _by_strings(events: pd.DataFrame, share: float, seed: int) -> np.ndarray:
    """The definition, as the lab first wrote it: "user/item" strings, pd.unique, a set."""
    items_per_user = events.groupby("user_id")["item_id"].transform("nunique")
    pair = events["user_id"].astype(str) + "/" + events["item_id"].astype(str)
    pairs = pd.unique(pair)
    chosen = np.random.default_rng([seed, 7]).random(len(pairs)) < share
    return (pair.isin(set(pairs[chosen])) & (items_per_user >= HOLDOUT_MIN_ITEMS)).to_numpy()


def _log(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.array([f"u{i}" for i in rng.integers(0, 40, n)], dtype=object)
    users[:3] = "loner"  # one person with too few items to give any away
    return pd.DataFrame(
        {
            "seq": np.arange(1, n + 1),
            "user_id": users,
            "item_id": rng.integers(0, 30, n).astype(np.int32),  # repeated pairs too
            "kind": "click",
        }
    )


def test_the_coded_split_holds_out_the_same_events_as_the_string_split():
    for seed in (0, 1, 2):
        events = _log(3_000, seed)
        events.loc[events["user_id"] == "loner", "item_id"] = 5
        kept, held = set_aside(events, 0.2, seed)
        expected = _by_strings(events, 0.2, seed)
        assert len(held) == int(expected.sum()) > 0
        assert held["user_id"].tolist() == events.loc[expected, "user_id"].tolist()
        assert held["item_id"].tolist() == events.loc[expected, "item_id"].tolist()
        assert kept["seq"].tolist() == list(range(1, len(events) - len(held) + 1))
        assert "loner" not in set(held["user_id"])  # one item: below HOLDOUT_MIN_ITEMS
        # every event of a held-out pair goes: no pair is both kept and held
        kept_pairs = set(zip(kept["user_id"], kept["item_id"], strict=True))
        assert not kept_pairs & set(zip(held["user_id"], held["item_id"], strict=True))
