"""Bad input on the lifecycle, experiment, import, download and scenario commands, and a
`--db` that is no lab (issue 17): one line, exit 2, nothing changed (`tests.badinput`)."""

from __future__ import annotations

import hashlib
import sqlite3

import duckdb
import pytest

from tests.badinput import assert_bad_input, case, refused
from tests.fingerprint import files_in

ALG = "unknown algorithm 'svd'; choose one of mf"
SEED = "--seed: give a whole number from 0 to 2147483647"
EXP = "experiment create t1 --arms mf,popularity"
SIM = "experiment simulate --arms mf,popularity"
SIZE = "experiment size --baseline"
IMP = "import --format lab {tmp}"
DRIFT = "scenario drift"

MORE = [
    case("versions-unknown-action", "versions explode", "invalid choice: 'explode'"),
    case("versions-promote-nothing", "versions promote", "takes 1 version(s), such as v3"),
    case("versions-promote-unknown", "versions promote 9999", "no algorithm has a version v9999"),
    case(
        "versions-promote-unknown-mf",
        "versions promote 9999 --algorithm mf",
        "mf has no version v9999",
    ),
    case("versions-promote-ambiguous", "versions promote 1", "v1 is ambiguous: content, "),
    case("versions-promote-text", "versions promote abc", "a version is a number such as 3"),
    case("versions-promote-negative", "versions promote -1", "got '-1'"),
    case("versions-promote-two", "versions promote 1 2", "takes 1 version(s), such as v3"),
    case("versions-promote-huge", f"versions promote {'9' * 30}", "has a version v9999"),
    case("versions-rollback-unknown-algorithm", "versions rollback --algorithm svd", ALG),
    case(
        "versions-rollback-nothing-before",
        "versions rollback --algorithm mf",
        "no previous production version",
    ),
    case("versions-compare-one", "versions compare 1", "takes 2 version(s), such as v3"),
    case("versions-compare-same", "versions compare 2 2", "two different versions"),
    case("versions-compare-unknown", "versions compare mf@v1 mf@v999", "mf has no version v999"),
    case("versions-compare-users-0", "versions compare 1 2 --users 0", "--users 0: give"),
    case("versions-compare-users-negative", "versions compare 1 2 --users -4", "--users -4"),
    case("versions-delete-production", "versions delete mf@v1", "v1 is production for mf"),
    case("versions-delete-unknown", "versions delete 999", "no algorithm has a version v999"),
    case("versions-train-unknown-algorithm", "versions train --algorithm svd", ALG),
    case("versions-list-with-ids", "versions list 1", "takes 0 version(s)"),
    case("history-negative-range", "history --since -10 --until -20", "--until at or after"),
    case("history-until-before-since", "history --since 30 --until 20", "--until at or after"),
    case("history-limit-0", "history --limit 0", "--limit must be from 1 to 100000"),
    case("history-limit-negative", "history --limit -1", "--limit must be from 1"),
    case("history-limit-huge", "history --limit 10000000", "--limit must be from 1"),
    case("history-limit-text", "history --limit many", "invalid int value: 'many'"),
    case("history-unknown-kind", "history --kind explosion", "invalid choice: 'explosion'"),
    case("history-since-text", "history --since yesterday", "invalid int value"),
    case("history-tab-user", ["history", "--user", "a\tb"], "control character"),
    case("history-unknown-user", "history --user nobody-here", "no user 'nobody-here'"),
    case("policy-unknown", "policy --set colour=1", "unknown parameter 'colour'"),
    case("policy-share-negative", "policy --set canary_share=-0.1", "canary_share must be"),
    case("policy-share-nan", "policy --set canary_share=NaN", "got nan"),
    case("policy-share-list", "policy --set canary_share=[0.1]", "must be a number"),
    case("policy-unknown-detector", "policy --set drift_detector=magic", "must be one of off"),
    case("policy-text-number", "policy --set ph_delta=abc", "ph_delta must be a number"),
    case("policy-flag-maybe", "policy --set auto_promote=maybe", "must be true or false"),
    case("policy-window-negative", "policy --set rollback_window=-1", "between 10 and 100000"),
    case("policy-no-equals", "policy --set canary_share", "write NAME=VALUE"),
    case("policy-threshold-inf", "policy --set ph_threshold=Infinity", "got inf"),
    case("policy-unknown-metric", "policy --set gate_metric=accuracy", "gate_metric must be"),
    case("policy-fraction", "policy --set retrain_ratings=2.5", "must be an integer"),
    case("policy-400-digits", f"policy --set retrain_ratings={'9' * 400}", "between 0 and"),
    case("policy-ratings-negative", "policy --set retrain_ratings=-5", "got -5"),
    case("policy-min-instances-0", "policy --set ph_min_instances=0", "between 1 and 10000"),
    case("policy-schedule-negative", "policy --set schedule_seconds=-1", "got -1"),
    case("experiment-unknown-action", "experiment launch", "invalid choice: 'launch'"),
    case(
        "experiment-create-no-name",
        "experiment create --arms mf,popularity",
        "needs the experiment's name",
    ),
    case("experiment-create-unknown-arm", "experiment create t1 --arms mf,svd", ALG),
    case("experiment-create-one-arm", "experiment create t1 --arms mf", "needs 2 to 10 arms"),
    case("experiment-split-110", f"{EXP} --split 50,60", "the split sums to 110 %"),
    case("experiment-split-text", f"{EXP} --split a,b", "cannot read split 'a,b'"),
    case("experiment-split-count", f"{EXP} --split 100", "1 shares for 2 arms"),
    case("experiment-split-negative", f"{EXP} --split 120,-20", "a share above 0 %"),
    case("experiment-split-nan", f"{EXP} --split nan,nan", "a share above 0 %"),
    case("experiment-slate-0", f"{EXP} --slate 0", "slate must be a whole number"),
    case("experiment-slate-huge", f"{EXP} --slate 100000", "from 1 to 50"),
    case("experiment-explore-2", f"{EXP} --explore 2", "explore must be a share from 0 to 1"),
    case("experiment-explore-negative", f"{EXP} --explore -0.5", "got -0.5"),
    case("experiment-explore-nan", f"{EXP} --explore nan", "got nan"),
    case("experiment-seed-negative", f"{EXP} --seed -1", SEED),
    case(
        "experiment-arm-parameters-off",
        "experiment create t1 --arms mf(factors=0),popularity",
        "factors must be between 2 and 256",
    ),
    case(
        "experiment-arm-unreadable",
        "experiment create t1 --arms mf(factors=,popularity",
        "cannot read arm",
    ),
    case("experiment-same-arm-twice", "experiment create t1 --arms mf,mf", "two arms are the"),
    case(
        "experiment-unknown-version",
        "experiment create t1 --arms v999,popularity",
        "unknown version v999",
    ),
    case(
        "experiment-control-name",
        ["experiment", "create", "t\x01x", "--arms", "mf,ucb1"],
        "name the experiment with 1 to 60",
    ),
    case(
        "experiment-long-name",
        ["experiment", "create", "t" * 500, "--arms", "mf,ucb1"],
        "name the experiment with 1 to 60",
    ),
    case("experiment-create-no-arms", "experiment create t1", "needs --arms"),
    case("experiment-show-unknown", "experiment show ghost", "unknown experiment 'ghost'"),
    case("experiment-stop-unknown", "experiment stop ghost", "unknown experiment 'ghost'"),
    case("experiment-show-no-name", "experiment show", "needs the experiment's name"),
    case("experiment-offpolicy-no-target", "experiment offpolicy ghost", "needs --target"),
    case("experiment-unknown-unit", "experiment list --unit team", "invalid choice: 'team'"),
    case("experiment-unknown-mode", f"{EXP} --mode both", "invalid choice: 'both'"),
    case("experiment-simulate-users-0", f"{SIM} --users 0", "users must be from 1 to 1,000,000"),
    case("experiment-simulate-sessions-0", f"{SIM} --sessions 0", "sessions must be from 1"),
    case("experiment-simulate-sessions-huge", f"{SIM} --sessions 1000000000", "got 1000000000"),
    case("experiment-simulate-alpha-0", f"{SIM} --alpha 0", "--alpha must be between 0 and 1"),
    case("experiment-simulate-alpha-1", f"{SIM} --alpha 1", "--alpha must be between 0 and 1"),
    case("experiment-aa-runs-0", "experiment aa --runs 0", "runs must be a whole number"),
    case("experiment-aa-runs-huge", "experiment aa --runs 100000000", "from 1 to 2000"),
    case("experiment-aa-unknown-algorithm", "experiment aa --algorithm svd", ALG),
    case("experiment-size-nothing", "experiment size", "needs --baseline and --mde"),
    case("experiment-size-baseline-0", f"{SIZE} 0 --mde 0.1", "baseline must be a rate"),
    case("experiment-size-baseline-1.5", f"{SIZE} 1.5 --mde 0.1", "not 1.5"),
    case("experiment-size-mde-0", f"{SIZE} 0.1 --mde 0", "mde must be non-zero"),
    case("experiment-size-power-1.5", f"{SIZE} 0.1 --mde 0.1 --power 1.5", "power must be"),
    case("experiment-size-baseline-nan", f"{SIZE} nan --mde 0.1", "a finite number, not nan"),
    case("experiment-size-rate-beyond-1", f"{SIZE} 0.5 --mde 5", "outside (0, 1)"),
    case("experiment-size-alpha-negative", f"{SIZE} 0.1 --mde 0.1 --alpha -1", "--alpha must"),
    case("experiment-analytics-days-0", "experiment analytics --days 0", "days must be above 0"),
    case("experiment-analytics-days-negative", "experiment analytics --days -3", "above 0"),
    case("experiment-analytics-days-nan", "experiment analytics --days nan", "above 0"),
    case("import-unknown-format", "import --format excel {tmp}", "invalid choice: 'excel'"),
    case("import-missing-path", "import --format lab {tmp}/nope", "nope does not exist"),
    case("import-not-a-zip", "import --format lab {tmp}/lab.duckdb", "neither a folder nor"),
    case("import-map-without-file", f"{IMP} --map user_id=customer", "write FILE:COLUMN=THEIRS"),
    case("import-holdout-0.9", f"{IMP} --holdout 0.9", "--holdout 0.9: give a share from 0"),
    case("import-holdout-nan", f"{IMP} --holdout nan", "--holdout nan"),
    case("import-holdout-negative", f"{IMP} --holdout -0.1", "--holdout -0.1"),
    case("import-scale-text", f"{IMP} --scale five", "--scale 'five': give LOW:HIGH"),
    case("import-scale-reversed", f"{IMP} --scale 5:1", "--scale '5:1'"),
    case("import-scale-nan", f"{IMP} --scale nan:inf", "--scale 'nan:inf'"),
    case("import-seed-40-bits", f"{IMP} --seed {2**40}", SEED),
    case("download-unknown", "download imagenet", "unknown dataset 'imagenet'"),
    case("download-into-a-file", "download movielens-small --dir {tmp}/lab.duckdb", "cannot write"),
    case("scenario-unknown-action", "scenario destroy", "invalid choice: 'destroy'"),
    case("scenario-load-nothing", "scenario load", "needs a scenario name or a .json file"),
    case("scenario-load-unknown", "scenario load ghost", "unknown scenario 'ghost'"),
    case("scenario-load-missing-file", "scenario load {tmp}/none.json", "No such file"),
    case("scenario-show-unknown", "scenario show ghost", "unknown scenario 'ghost'"),
    case("scenario-delete-unknown", "scenario delete ghost", "unknown scenario 'ghost'"),
    case("scenario-delete-builtin", "scenario delete cold-start", "built in and cannot be"),
    case("scenario-save-bad-name", ["scenario", "save", "Bad Name"], "a scenario name is"),
    case("scenario-save-builtin-name", "scenario save cold-start", "is a built-in scenario"),
    case(
        "scenario-save-nul-title",
        ["scenario", "save", "mine", "--title", "a\x00b"],
        "title holds a control character",
    ),
    case(
        "scenario-save-escape-description",
        ["scenario", "save", "mine", "--description", "a\x1bb"],
        "description holds a control character",
    ),
    case(
        "scenario-save-long-title",
        ["scenario", "save", "mine", "--title", "t" * 100_000],
        "keep it to 200",
    ),
    case("scenario-save-long-name", ["scenario", "save", "m" * 1000], "a scenario name is"),
    case(
        "scenario-save-output-missing-folder",
        "scenario save mine --output {tmp}/no/mine.json",
        "No such file or directory",
    ),
    case(
        "scenario-show-output-missing-folder",
        "scenario show cold-start --output {tmp}/no/x.json",
        "No such file",
    ),
    case(
        "scenario-save-output-folder",
        "scenario save mine --output {tmp}",
        "is a folder; give the .json file",
    ),
    case("scenario-check-unknown", "scenario check ghost", "nothing to check for 'ghost'"),
    case("scenario-check-no-scenario", "scenario check", "the lab (no scenario)"),
    case("scenario-list-with-name", "scenario list extra", "scenario list takes no name"),
    case("scenario-drift-with-name", f"{DRIFT} extra", "scenario drift takes no name"),
    case(
        "scenario-drift-unknown-persona",
        f"{DRIFT} --personas ghost,sci-fi-fan",
        "unknown persona 'ghost'",
    ),
    case(
        "scenario-drift-persona-twice",
        f"{DRIFT} --personas sci-fi-fan,sci-fi-fan",
        "'sci-fi-fan' is named twice",
    ),
    case("scenario-drift-before-0", f"{DRIFT} --before 0", "before must be a whole number"),
    case("scenario-drift-after-negative", f"{DRIFT} --after -1", "after must be"),
    case("scenario-drift-before-huge", f"{DRIFT} --before 100000000", "from 1 to 10000"),
    case("scenario-drift-unknown-algorithm", f"{DRIFT} --algorithm svd", ALG),
    case("scenario-drift-seed-text", f"{DRIFT} --seed x", SEED),
]


@pytest.mark.parametrize("args, expected", MORE)
def test_more_commands_refuse_bad_input(capsys, db_path, small_world_print, args, expected):
    assert_bad_input(capsys, args, expected, db_path, small_world_print)


# A --db that is no lab: refused before anything is written to it, and left byte for byte.


def truncated(tmp, lab):
    (tmp / "x.duckdb").write_bytes(lab.read_bytes()[:20_000])


def foreign(tmp, lab):
    con = duckdb.connect(str(tmp / "x.duckdb"))
    con.execute("CREATE TABLE events (a INTEGER); INSERT INTO events VALUES (7)")
    con.close()


def sqlite(tmp, lab):
    with sqlite3.connect(tmp / "x.duckdb") as con:
        con.execute("CREATE TABLE t (a)")


NOT_A_LAB = [
    case("truncated-lab", truncated, "cannot open the lab database"),
    case("empty-file", lambda t, lab: (t / "x.duckdb").write_bytes(b""), "cannot open the lab"),
    case(
        "random-bytes",
        lambda t, lab: (t / "x.duckdb").write_bytes(bytes(range(256)) * 20),
        "cannot open the lab database",
    ),
    case("text-file", lambda t, lab: (t / "x.duckdb").write_text("hello\n"), "not a valid"),
    case("foreign-duckdb-with-events", foreign, "a DuckDB database of another program"),
    case("sqlite-file", sqlite, "it looks like a sqlite file"),
]
PATHS = [
    case("db-a-folder", "{tmp}", "is a directory; give a database file path"),
    case("db-empty", "", "--db '': give the lab database's file path"),
    case("db-nul-byte", "{tmp}/a\x00b.duckdb", "give the lab database's file path"),
    case("db-under-a-file", "{tmp}/lab.duckdb/x.duckdb", "cannot open the lab database"),
    case("db-folder-not-creatable", "/proc/no/such/lab.duckdb", "cannot create the folder"),
]


@pytest.mark.parametrize("make, expected", NOT_A_LAB)
def test_a_db_that_is_not_a_lab_is_left_byte_for_byte(capsys, db_path, make, expected):
    tmp = db_path.parent
    make(tmp, db_path)
    target = tmp / "x.duckdb"
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    before = files_in(tmp)
    refused(capsys, ["--db", str(target), "recommend", "--user", "alice"], expected)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert files_in(tmp) == before


@pytest.mark.parametrize("path, expected", PATHS)
@pytest.mark.parametrize("command", ["personas", "init"])
def test_a_db_path_that_cannot_be_a_lab_writes_nothing(capsys, tmp_path, path, expected, command):
    (tmp_path / "lab.duckdb").write_text("not a lab")  # a file where a folder would be
    before = files_in(tmp_path)
    refused(capsys, ["--db", path.replace("{tmp}", str(tmp_path)), command], expected)
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("seed", ["-1", str(2**31), str(2**32), "99999999999999", "abc", "1e3"])
def test_init_with_a_seed_out_of_range_leaves_no_file(capsys, tmp_path, seed):
    refused(capsys, ["--db", str(tmp_path / "new.duckdb"), "init", "--seed", seed], "--seed")
    assert files_in(tmp_path) == set()
