"""The canary: one version of an algorithm serves a share of its users beside production.

The candidate alias names the version; the lab's `canary_share` (a policy value, percent of
users, split by a hash of the user id: `policies.canary_bucket`) says how many it serves, for
every algorithm that has a candidate. Every change (set, a new share, another version, cleared,
ended by a promotion) is a row of alias `canary` in the alias history, written in the same
transaction as the alias move and the share: the audit trail says who served whom, when.

`Lifecycle.set_canary`, `clear_canary` and `canary_status` are the engine's door to these;
the functions here take that `Lifecycle` as `life` (not imported: it imports this module).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from recsys.algorithms import algorithm_class
from recsys.errors import RecsysError
from recsys.lifecycle.measures import live_metrics
from recsys.lifecycle.policies import Policy


def set_canary(life, algorithm: str, version: int, share: float, actor: str) -> dict:
    """Serve version key `version` of `algorithm` to `share` percent of its users (0 < share
    <= 100). Raises `RecsysError`, changing nothing, for a version of another algorithm, the
    production version, or a share out of range. Returns `canary_status`."""
    h, store = life.host, life.version_store
    name = algorithm_class(algorithm).name
    try:
        share = float(share)
    except (TypeError, ValueError):
        raise RecsysError(f"the canary share is a percent of users, got {share!r}") from None
    if not 0 < share <= 100:
        raise RecsysError(
            f"the canary share is a percent of users above 0 and at most 100, got {share:g}; "
            "clear the canary to stop it"
        )
    with h.lock:
        target = store.version(version)
        label = life.label(version)
        if target["algorithm"] != name:
            raise RecsysError(f"{label} is a {target['algorithm']} version, not {name}'s")
        if store.alias(name, "production") == version:
            raise RecsysError(
                f"{label} is {name}'s production already: pick another version for the canary"
            )
        candidate, old_share = store.alias(name, "candidate"), life.policy.canary_share
        before = candidate if old_share > 0 else None
        if before == version and old_share == share:
            return canary_status(life, name)  # nothing changes: nothing to record
        if before is None:
            reason = f"canary set: {label} serves {share:g} % of {name}'s users"
        elif before == version:
            reason = f"canary share {old_share:g} % → {share:g} % ({label})"
        else:
            reason = f"canary moved from {life.label(before)} to {label} at {share:g} %"
        others = _other_candidates(life, name) if old_share != share else []
        policy = Policy.from_dict(life.policy.to_dict() | {"canary_share": share})
        with life.store.db.batch():  # the alias, the share and the audit rows: all or nothing
            if candidate != version:
                life._move(name, "candidate", version, actor, reason, h.last_seq + 1)
            life.store.set_meta("policy", json.dumps(policy.to_dict(), sort_keys=True))
            _record(life, name, before, version, actor, reason)
            for other, serving in others:  # the share is the lab's: theirs changed too
                why = f"canary share {old_share:g} % → {share:g} % (set for {name})"
                _record(life, other, serving if old_share > 0 else None, serving, actor, why)
        _adopt(life, policy)
        return canary_status(life, name)


def clear_canary(life, algorithm: str, actor: str) -> dict:
    """Stop `algorithm`'s canary: its candidate alias is removed (the version stays in the
    registry) and production serves all its users. The lab's share drops to 0 when no other
    algorithm has a candidate. Without a canary it changes and records nothing."""
    h, store = life.host, life.version_store
    name = algorithm_class(algorithm).name
    with h.lock:
        candidate = store.alias(name, "candidate")
        if candidate is None or life.policy.canary_share == 0:
            return canary_status(life, name)  # no canary: a candidate alone serves nobody
        label = life.label(candidate)
        reason = f"canary cleared: production serves all of {name}'s users, {label} stays a version"
        policy = life.policy
        if not _other_candidates(life, name):
            policy = Policy.from_dict(policy.to_dict() | {"canary_share": 0.0})
        with life.store.db.batch():
            life._move(name, "candidate", None, actor, reason, h.last_seq + 1)
            life.store.set_meta("policy", json.dumps(policy.to_dict(), sort_keys=True))
            _record(life, name, candidate, None, actor, reason)
        _adopt(life, policy)
        return canary_status(life, name)


def canary_status(life, algorithm: str) -> dict[str, Any]:
    """What the canary of `algorithm` is now: share (percent; 0 when off), candidate and
    production (keys, None when absent) and their labels, `serving` (whether the candidate
    gets traffic), since_seq (the event the canary started after: the newest set that did not
    follow another canary) and `live`: per version the traffic each served since then
    (`measures.live_metrics`: users, events, views, clicks, CTR, likes, like rate, rewards)."""
    store = life.version_store
    name = algorithm_class(algorithm).name
    candidate, production = store.alias(name, "candidate"), store.alias(name, "production")
    share = life.policy.canary_share if candidate is not None else 0.0
    moves = store.alias_history(name)
    started = moves[(moves["alias"] == "canary") & moves["from_version"].isna()]
    started = started[started["to_version"].notna()]
    since = int(started["at_seq"].iloc[0]) if len(started) else 0
    events = life.store.served_events(name)
    live = live_metrics(events[events["seq"] > since])
    shown = {v for v in (production, candidate) if v is not None}
    live = live[live["version"].isin(shown)].reset_index(drop=True)
    live.insert(2, "label", [life.label(v) for v in live["version"]])
    return {
        "algorithm": name,
        "share": share,
        "serving": bool(share > 0 and candidate is not None),
        "candidate": candidate,
        "candidate_label": life.label(candidate),
        "production": production,
        "production_label": life.label(production),
        "since_seq": since,
        "live": live,
    }


def record_share_change(life, old: float, new: float, actor: str) -> None:
    """The policy's canary share changed from `old` to `new` (the policy form, `policy --set`):
    a row per algorithm whose candidate it serves, or served."""
    if old == new:
        return
    for name, candidate in _other_candidates(life, None):
        if new == 0:
            reason = f"canary share {old:g} % → 0 %: production serves everyone"
        else:
            reason = f"canary share {old:g} % → {new:g} % ({life.label(candidate)})"
        _record(
            life,
            name,
            candidate if old > 0 else None,
            candidate if new > 0 else None,
            actor,
            reason,
        )


def _other_candidates(life, name: str | None) -> list[tuple[str, int]]:
    aliases: pd.DataFrame = life.version_store.aliases()
    rows = aliases[(aliases["alias"] == "candidate") & (aliases["algorithm"] != name)]
    return list(zip(rows["algorithm"], rows["version_id"].astype(int), strict=True))


def _record(life, name, before, after, actor, reason) -> None:
    h = life.host
    life.version_store.record_canary(
        name, before, after, actor=actor, reason=reason, at_seq=h.last_seq, ts=h.last_ts
    )


def _adopt(life, policy: Policy) -> None:
    """Serve under `policy` once it is stored (only its canary share changed: the watcher's
    counters and detectors go on)."""
    life.policy = policy
    life.watcher.policy = policy
    life._sync_canary()
