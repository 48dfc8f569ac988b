import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from recsys.choice import ChoiceModel, true_utilities
from recsys.errors import RecsysError
from recsys.world import generate_world

SMALL = {"n_users": 30, "sessions_per_user": 10}


def fingerprint(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_json(orient="split", double_precision=15).encode()).hexdigest()


def test_same_seed_same_world_byte_for_byte():
    a, b = generate_world("movies", 3, **SMALL), generate_world("movies", 3, **SMALL)
    for name in ("items", "personas", "users", "events"):
        assert fingerprint(getattr(a, name)) == fingerprint(getattr(b, name)), name
    assert a.meta == b.meta


def test_another_seed_another_world():
    a, b = generate_world("movies", 3, **SMALL), generate_world("movies", 4, **SMALL)
    assert fingerprint(a.items) != fingerprint(b.items)
    assert fingerprint(a.events) != fingerprint(b.events)


@pytest.mark.parametrize(("pack", "minimum"), [("movies", 1500), ("destinations", 300)])
def test_catalogs_read_like_real_ones(pack, minimum):
    world = generate_world(pack, 1, **SMALL)
    items = world.items
    assert len(items) >= minimum
    assert items["title"].is_unique
    assert not items["title"].str.contains(r"\bItem\s*\d+", flags=re.I).any()
    assert items["genres"].map(len).between(1, 3).all()
    assert items["tags"].map(len).ge(1).all()
    assert np.array_equal(items["item_id"], np.arange(len(items)))
    if pack == "movies":
        assert items["year"].between(1950, 2025).all()
    else:
        assert items["region"].notna().all()


def test_titles_articles_agree_with_the_words_after_them():
    titles = pd.concat([generate_world("movies", seed, **SMALL).items["title"] for seed in (1, 42)])
    starts = titles.str.extract(r"^(A|An) (\S+) .*?(\S+)$").dropna()
    assert len(starts) > 50  # the template is common: the check sees many titles
    vowel = starts[1].str.match(r"[AEIO]|U(?!ni|se|su)")
    assert ((starts[0] == "An") == vowel).all(), starts[(starts[0] == "An") != vowel]
    ordinal = starts[1].isin(["Best", "Last", "Final", "First", "Second", "Seventh", "Twelfth"])
    assert not ordinal.any()  # "The Best Snow Day", never "A Best Snow Day"
    plural = starts[2].str.match(r".*[^su]s$") & ~starts[2].str.endswith("as")
    assert not plural.any(), starts[plural]  # "Lost Letters", never "A Lost Letters"
    assert {"An Iron Front", "A Iron Front"} & set(titles) <= {"An Iron Front"}
    assert titles.groupby(level=0).size().sum() == len(titles)


@pytest.mark.parametrize("pack", ["movies", "destinations"])
def test_personas_have_hidden_tastes_over_the_item_space(pack):
    world = generate_world(pack, 1, **SMALL)
    assert len(world.personas) >= 6
    assert world.personas["name"].is_unique
    width = len(world.items["features"].iloc[0]) + 1  # + the quality weight
    assert all(len(t) == width for t in world.personas["taste"])


def test_personas_prefer_their_genres():
    world = generate_world("movies", 1, **SMALL)
    features = np.stack(world.items["features"].to_numpy())
    quality = world.items["quality"].to_numpy()
    taste = world.personas.set_index("name").loc["sci-fi-fan", "taste"]
    utility = true_utilities(features, quality, np.array(taste))[0]
    top = world.items.iloc[np.argsort(-utility)[:50]]
    assert top["genres"].map(lambda g: "Sci-Fi" in g).mean() > 0.6


def test_default_world_has_tens_of_thousands_of_events_from_hundreds_of_users():
    world = generate_world()
    assert 20_000 <= len(world.events) <= 200_000
    assert world.events["user_id"].nunique() >= 300
    assert np.array_equal(world.events["seq"], np.arange(1, len(world.events) + 1))
    assert world.events["ts"].is_monotonic_increasing
    assert set(world.events["kind"]) == {
        "view",
        "click",
        "like",
        "dislike",
        "favorite",
        "rating",
        "skip",
    }
    ratings = world.events.loc[world.events["kind"] == "rating", "value"]
    assert ratings.between(0.5, 5.0).all() and ((ratings * 2) % 1 == 0).all()


def test_history_ratings_follow_hidden_utility():
    world = generate_world("movies", 5)
    features = np.stack(world.items["features"].to_numpy())
    quality = world.items["quality"].to_numpy()
    tastes = world.users.set_index("user_id")["taste"]
    ratings = world.events[world.events["kind"] == "rating"]
    utility = [
        true_utilities(features[[i]], quality[[i]], np.array(tastes[u]))[0, 0]
        for u, i in zip(ratings["user_id"], ratings["item_id"], strict=True)
    ]
    assert np.corrcoef(utility, ratings["value"])[0, 1] > 0.5


def test_choice_model_is_a_multinomial_logit_with_position_bias():
    model = ChoiceModel(temperature=1.5, no_click=0.7, position_decay=0.8)
    utility = np.array([[1.0, 0.2, -0.5, 1.0]])
    expected = softmax(
        np.concatenate([utility[0] / 1.5 - 0.8 * np.log1p(np.arange(4)), [0.7 / 1.5]])
    )
    assert model.probabilities(utility)[0] == pytest.approx(expected)
    # equal utility, earlier position: more likely
    assert expected[0] > expected[3]
    picks = model.choose(np.repeat(utility, 20_000, axis=0), np.random.default_rng(0))
    observed = np.bincount(np.where(picks < 0, 4, picks), minlength=5) / len(picks)
    assert observed == pytest.approx(expected, abs=0.015)


def test_unknown_world_is_a_clear_error():
    with pytest.raises(RecsysError, match="unknown world"):
        generate_world("wines")


def test_same_seed_gives_byte_identical_database_tables(tmp_path):
    from recsys.engine import Engine

    exports = []
    for name in ("a", "b"):
        engine = Engine.create(tmp_path / f"{name}.duckdb", "destinations", 11, **SMALL)
        frames = [
            engine.store.db.frame(f"SELECT * FROM {table} ORDER BY 1")
            for table in ("items", "personas", "events")
        ]
        exports.append([frame.to_csv(index=False).encode() for frame in frames])
        engine.close()
    assert exports[0] == exports[1]
