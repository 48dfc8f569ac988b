"""The README's command table and the parser say the same thing: every command, action and
option the parser offers is in the table, and everything the table names exists (issue 18)."""

from __future__ import annotations

import argparse
import re

import pytest

from recsys.cli.main import build_parser
from tests.conftest import ROOT

ALWAYS = {"--help", "--json"}  # every command has them; the section's first line says --json


def parser_commands() -> dict[str, tuple[set[str], set[str]]]:
    """Command -> (its options, the choices of its positional action if it has one)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for name, sub in commands.choices.items():
        options = {o for a in sub._actions for o in a.option_strings if o.startswith("--")}
        actions = {c for a in sub._actions if not a.option_strings for c in (a.choices or ())}
        found[name] = (options - ALWAYS, actions)
    return found


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## The command line")
    return text[start : text.index("\n## ", start + 1)]


def readme_rows() -> dict[str, list[str]]:
    """Command -> the first cells of the table rows about it (escaped pipes unescaped)."""
    rows: dict[str, list[str]] = {}
    for line in readme_section().splitlines():
        if not line.startswith("| `"):
            continue
        cell = re.split(r"(?<!\\)\|", line)[1].replace("\\|", "|").strip()
        rows.setdefault(cell.strip("`").split()[0], []).append(cell)
    return rows


def test_the_section_names_the_global_options():
    parser = build_parser()
    globals_ = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
    assert "`python -m recsys [--db PATH] [--plugin PATH] [--json] COMMAND ...`" in readme_section()
    assert globals_ - {"--help"} == {"--db", "--plugin", "--json"}


def test_every_command_of_the_parser_has_a_row_and_every_row_a_command():
    assert set(readme_rows()) == set(parser_commands())


@pytest.mark.parametrize("command", sorted(parser_commands()))
def test_a_commands_options_and_actions_are_the_readmes(command):
    options, actions = parser_commands()[command]
    cells = " ".join(readme_rows().get(command, []))
    documented = set(re.findall(r"--[a-z][a-z-]*", cells))
    assert sorted(options - documented) == [], "in the parser, missing from the README"
    assert sorted(documented - options - ALWAYS) == [], "in the README, not in the parser"
    words = set(re.findall(r"[a-z]+(?:-[a-z]+)*", cells)) | set(re.findall(r"[a-z]+", cells))
    assert sorted(actions - words) == [], "actions missing from the README"
