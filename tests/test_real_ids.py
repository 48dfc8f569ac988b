"""Ids people really have (issue 16, kind 5): accents, spaces, a leading dash, any script.

Refused are only ids that cannot be one field: control characters and more than 128
characters (`recsys.events.USER_ID_RULE`); the tests there cover the refusals.
"""

from __future__ import annotations

import json
from pathlib import Path

from recsys.cli.main import main
from recsys.data.importer import read_dataset
from tests.datafiles import write_lab

REAL_IDS = ["José", "ana maria", "-7", "ユーザー", "'; DROP TABLE events; --", "**bold**"]


def test_an_import_keeps_real_user_ids(tmp_path: Path):
    folder = write_lab(tmp_path / "lab")
    rows = (folder / "interactions.csv").read_text().splitlines()
    old = sorted({row.split(",")[0] for row in rows[1:]})
    rename = dict(zip(old, REAL_IDS, strict=False))
    edited = [rows[0]]
    for row in rows[1:]:
        user, rest = row.split(",", 1)
        name = rename.get(user, user)
        quoted = f'"{name}"' if "," in name or '"' in name else name
        edited.append(f"{quoted},{rest}")
    (folder / "interactions.csv").write_bytes("\n".join(edited).encode("utf-8"))
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    report = read_dataset("lab", files)
    assert report.ok, report.text()
    assert set(REAL_IDS) <= set(report.dataset.interactions["user_id"])


def test_the_engine_and_cli_take_real_user_ids(engine, db_path, capsys):
    for user in REAL_IDS:
        step = engine.interact(user, 1, "like")
        assert step.event.user == user
    assert engine.store.count_events() >= len(REAL_IDS)  # the events table is still there
    engine.close()
    # A leading dash needs the --user=VALUE form on any command line (argparse reads "-7" as
    # an option otherwise); the id itself is accepted.
    command = ["--db", str(db_path), "interact", "--user=-8", "--item", "2", "--kind", "like"]
    assert main(command) == 0
    capsys.readouterr()
    assert main(["--db", str(db_path), "history", "--user", "José", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"user_id": "José"' in out  # JSON as UTF-8 text, not \u escapes
    rows = [row for row in json.loads(out) if row["kind"] == "interaction"]
    assert rows and all(row["user_id"] == "José" for row in rows)
