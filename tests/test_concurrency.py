import threading

import numpy as np

from recsys.engine import Engine


def test_eight_threads_of_200_interactions_give_1600_gap_free_events(db_path):
    engine = Engine.open(db_path)
    start = engine.last_seq
    errors: list[BaseException] = []
    kinds = ["view", "click", "like", "dislike", "favorite", "skip", "rating"]

    def worker(t: int) -> None:
        rng = np.random.default_rng(t)
        try:
            for i in range(200):
                kind = kinds[(t + i) % len(kinds)]
                user = f"thread{t}-{i % 5}" if i % 3 else "alice"
                step = engine.interact(
                    user,
                    int(rng.integers(engine.catalog.n)),
                    kind,
                    4.0 if kind == "rating" else None,
                )
                assert step.after.seq == step.event.seq
                engine.recommend(f"thread{(t + 1) % 8}-0", 5)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = engine.store.db.query(f"SELECT seq FROM events WHERE seq > {start} ORDER BY seq")
    assert [s for (s,) in seqs] == list(range(start + 1, start + 1601))
    assert engine.last_seq == start + 1600
    engine.catch_up()  # the other algorithms learn the events when next used
    log = engine.store.learning_log(limit=100_000)
    assert (log["seq"] > start).sum() == 1600 * len(engine.models)
    engine.close()
    # and the concurrent history replays to the same state
    live = Engine.open(db_path)
    assert live.last_seq == start + 1600
    live.close()
