"""What every bad-input case of tests/test_bad_inputs_*.py asserts (issue 17): the command is
refused with exactly one line on stderr and exit status 2, no traceback, nothing on stdout (an
import's rejection report excepted: it goes to stdout by design, the one line to stderr), the
lab database unchanged table by table, and no file left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recsys.cli.main import main
from tests.fingerprint import files_in, fingerprint

Args = list[str] | str | Callable[[Path], list[str]]


def case(name: str, args: Args, expected: str):
    """One parametrised case: `args` (split on spaces when a str; "{tmp}" is the test's
    folder, which holds the lab as lab.duckdb) or a function of the folder that writes the
    files the case needs and returns the args; `expected`, a part of the one error line (or,
    for a rejected import, of its report)."""
    return pytest.param(args, expected, id=name)


def arguments(args: Args, tmp: Path) -> list[str]:
    if callable(args):
        return args(tmp)
    parts = args.split(" ") if isinstance(args, str) else args
    return [part.replace("{tmp}", str(tmp)) for part in parts]


def refused(capsys, argv: list[str], expected: str) -> tuple[str, str]:
    """Run `main(argv)` in this process; assert the one-line refusal naming `expected`."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err + out
    if out:  # only an import's report: "Rejected: N problems" and one line per problem
        assert out.startswith("Rejected: ") and "nothing was imported" in err, out
    assert expected in err + out, (expected, err, out)
    return out, err


def assert_bad_input(capsys, args: Args, expected: str, lab: Path, lab_print) -> None:
    """The case on a copy of the small world (`lab`, whose fingerprint was `lab_print`)."""
    tmp = lab.parent
    argv = arguments(args, tmp)
    if "--db" not in argv[:1]:
        argv = ["--db", str(lab), *argv]
    before = files_in(tmp)
    refused(capsys, argv, expected)
    assert fingerprint(lab) == lab_print
    assert files_in(tmp) == before
