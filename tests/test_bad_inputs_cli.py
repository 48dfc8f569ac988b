"""Bad input on every command and option of the CLI (issue 17): one line on stderr, exit 2,
nothing on stdout, the lab unchanged table by table, no file written (`tests.badinput`)."""

from __future__ import annotations

import pytest

from tests.badinput import assert_bad_input, case

K = "k must be a whole number from 1 to 100"
ALG = "unknown algorithm 'svd'; choose one of mf"
ID = "use 1 to 128 printable characters"
SEED = "--seed: give a whole number from 0 to 2147483647"
REC = "recommend --user alice"
INT = "interact --user alice --item 1"
SIM = "simulate --persona sci-fi-fan --steps 2"
CFG = "configure --algorithm mf --set"
EXP = "experiment create t1 --arms mf,popularity"
SIZE = "experiment size --baseline"

LAB = [
    case("no-command", [], "the following arguments are required: command"),
    case("unknown-command", "frobnicate", "invalid choice: 'frobnicate'"),
    case("init-unknown-world", "init --world mars", "invalid choice: 'mars'"),
    case("init-seed-float", "init --seed 1.5", SEED),
    case("init-unknown-weights", "init --weights heavy", "invalid choice: 'heavy'"),
    case("init-on-a-lab", "init", "already exists; add --reset to recreate it"),
    case("recommend-without-user", "recommend", "required: --user"),
    case("recommend-empty-user", ["recommend", "--user", ""], "(it is empty): " + ID),
    case("recommend-blank-user", ["recommend", "--user", "   "], "(it is only spaces)"),
    case("recommend-bell-user", ["recommend", "--user", "a\x07b"], "control character"),
    case("recommend-nul-user", ["recommend", "--user", "a\x00b"], "control character"),
    case("recommend-long-user", ["recommend", "--user", "u" * 5000], "5000 characters"),
    case("recommend-k-0", f"{REC} --k 0", K),
    case("recommend-k-negative", f"{REC} --k -1", K),
    case("recommend-k-101", f"{REC} --k 101", K),
    case("recommend-k-text", f"{REC} --k abc", "--k: invalid int value: 'abc'"),
    case("recommend-k-nan", f"{REC} --k nan", "--k: invalid int value: 'nan'"),
    case("recommend-k-huge", f"{REC} --k {'9' * 20}", K),
    case("recommend-unknown-algorithm", f"{REC} --algorithm svd", ALG),
    case("recommend-as-of-negative", f"{REC} --as-of -1", "time travel starts at seq"),
    case("recommend-as-of-future", f"{REC} --as-of 99999999", "time travel starts at seq"),
    case("recommend-as-of-text", f"{REC} --as-of abc", "--as-of: invalid int value"),
    case("recommend-as-of-huge", f"{REC} --as-of {'9' * 30}", "time travel starts at seq"),
    case("interact-unknown-kind", f"{INT} --kind love", "unknown event kind 'love'"),
    case(
        "interact-unknown-item",
        "interact --user alice --item 99999 --kind like",
        "unknown item '99999'",
    ),
    case(
        "interact-empty-item",
        ["interact", "--user", "alice", "--item", "", "--kind", "like"],
        "unknown item ''",
    ),
    case(
        "interact-negative-item", "interact --user alice --item -1 --kind like", "unknown item '-1'"
    ),
    case("interact-rating-without-value", f"{INT} --kind rating", "a rating needs a value"),
    case("interact-rating-6", f"{INT} --kind rating --value 6", "rating 6 is outside 0.5-5.0"),
    case("interact-rating-negative", f"{INT} --kind rating --value -1", "rating -1 is outside"),
    case("interact-rating-0", f"{INT} --kind rating --value 0", "rating 0 is outside"),
    case("interact-rating-nan", f"{INT} --kind rating --value nan", "rating nan is outside"),
    case("interact-rating-inf", f"{INT} --kind rating --value inf", "rating inf is outside"),
    case("interact-rating-step", f"{INT} --kind rating --value 3.3", "not a multiple of 0.5"),
    case("interact-rating-text", f"{INT} --kind rating --value abc", "'abc' is not a number"),
    case("interact-like-with-value", f"{INT} --kind like --value 3", "a like event takes no value"),
    case(
        "interact-empty-user",
        ["interact", "--user", "", "--item", "1", "--kind", "like"],
        "(it is empty)",
    ),
    case(
        "interact-nul-user",
        ["interact", "--user", "a\x00", "--item", "1", "--kind", "like"],
        "control character",
    ),
    case(
        "interact-newline-user",
        ["interact", "--user", "a\nb", "--item", "1", "--kind", "like"],
        "control character",
    ),
    case(
        "interact-long-user",
        ["interact", "--user", "u" * 500, "--item", "1", "--kind", "like"],
        "500 characters",
    ),
    case("interact-k-0", f"{INT} --kind like --k 0", K),
    case("interact-unknown-algorithm", f"{INT} --kind like --algorithm svd", ALG),
    case("interact-without-item", "interact --user alice --kind like", "required: --item"),
    case(
        "simulate-unknown-persona", "simulate --persona ghost --steps 3", "unknown persona 'ghost'"
    ),
    case("simulate-steps-0", "simulate --persona sci-fi-fan --steps 0", "steps must be"),
    case("simulate-steps-negative", "simulate --persona sci-fi-fan --steps -5", "got -5"),
    case(
        "simulate-steps-huge", "simulate --persona sci-fi-fan --steps 1000000000", "from 1 to 10000"
    ),
    case("simulate-steps-text", "simulate --persona sci-fi-fan --steps x", "invalid int value"),
    case("simulate-k-0", f"{SIM} --k 0", K),
    case("simulate-seed-negative", f"{SIM} --seed -3", SEED),
    case("simulate-empty-user", [*SIM.split(), "--user", ""], "(it is empty)"),
    case("simulate-escape-user", [*SIM.split(), "--user", "x\x1b[31m"], "control character"),
    case("simulate-unknown-algorithm", f"{SIM} --algorithm svd", ALG),
    case("configure-without-algorithm", "configure --set factors=8", "required: --algorithm"),
    case("configure-unknown-algorithm", "configure --algorithm svd --set factors=8", ALG),
    case("configure-unknown-parameter", f"{CFG} colour=8", "unknown parameter 'colour'"),
    case("configure-factors-0", f"{CFG} factors=0", "factors must be between 2 and 256"),
    case("configure-factors-huge", f"{CFG} factors=1000000", "got 1000000"),
    case("configure-factors-400-digits", f"{CFG} factors={'9' * 400}", "got 9999"),
    case("configure-factors-text", f"{CFG} factors=abc", "the value must be a number"),
    case("configure-reg-nan", f"{CFG} reg=NaN", "reg must be between 0.0 and 10000.0, got nan"),
    case("configure-reg-inf", f"{CFG} reg=Infinity", "got inf"),
    case("configure-reg-minus-inf", f"{CFG} reg=-Infinity", "got -inf"),
    case("configure-factors-fraction", f"{CFG} factors=8.5", "factors must be an integer"),
    case("configure-flag-maybe", f"{CFG} warm_start=maybe", "the value must be a number"),
    case("configure-flag-2", f"{CFG} warm_start=2", "warm_start must be true or false"),
    case("configure-factors-true", f"{CFG} factors=true", "must be an integer, got True"),
    case("configure-factors-list", f"{CFG} factors=[8]", "must be an integer, got [8]"),
    case("configure-no-equals", f"{CFG} factors", "--set factors: write NAME=VALUE"),
    case("configure-no-name", f"{CFG} =8", "--set =8: write NAME=VALUE"),
    case(
        "configure-config-missing",
        "configure --algorithm mf --config {tmp}/none.json",
        "No such file or directory",
    ),
    case("configure-config-folder", "configure --algorithm mf --config {tmp}", "Is a directory"),
    case("retrain-unknown-algorithm", "retrain --algorithm svd", ALG),
    case("evaluate-unknown-algorithm", "evaluate --algorithms svd", ALG),
    case("evaluate-no-algorithm", ["evaluate", "--algorithms", ""], "needs at least one name"),
    case("evaluate-one-unknown", "evaluate --algorithms mf,svd", ALG),
    case("evaluate-only-commas", "evaluate --algorithms ,,", "needs at least one name"),
    case("evaluate-k-0", "evaluate --k 0", "k must be from 1 to 100"),
    case("evaluate-k-1000", "evaluate --k 1000", "k must be from 1 to 100"),
    case("evaluate-share-0", "evaluate --test-share 0", "test share must be between 0 and 1"),
    case("evaluate-share-1", "evaluate --test-share 1", "test share must be between 0 and 1"),
    case("evaluate-share-negative", "evaluate --test-share -0.2", "test share must be between"),
    case("evaluate-share-nan", "evaluate --test-share nan", "test share must be between"),
    case("evaluate-share-inf", "evaluate --test-share inf", "test share must be between"),
    case("evaluate-share-text", "evaluate --test-share half", "invalid float value: 'half'"),
    case("evaluate-last-0", "evaluate --split temporal --last 0", "--last 0: hold out at least"),
    case("evaluate-last-negative", "evaluate --split temporal --last -2", "--last -2"),
    case(
        "evaluate-last-beyond-all",
        "evaluate --split temporal --last 100000",
        "no user has more than 100000 items",
    ),
    case("evaluate-unknown-split", "evaluate --split stratified", "invalid choice"),
    case("evaluate-seed-negative", "evaluate --seed -1", SEED),
    case("evaluate-train-alone", "evaluate --train {tmp}/lab.duckdb", "give both --train"),
    case(
        "evaluate-files-missing",
        "evaluate --train {tmp}/no.csv --test {tmp}/no2.csv",
        "No such file or directory",
    ),
    case("evaluate-files-folders", "evaluate --train {tmp} --test {tmp}", "Is a directory"),
    case(
        "evaluate-predictions-without-files",
        "evaluate --predictions-out {tmp}/p.csv",
        "--predictions-out is for files",
    ),
    case("evaluate-scale-without-files", "evaluate --scale 1:5", "--scale is for files"),
    case("bench-visits-0", "bench --loop --visits 0", "at least one seed and one visit"),
    case("bench-visits-negative", "bench --loop --visits -1", "got -1"),
    case("bench-seeds-text", "bench --loop --seeds a,b", "--seeds: give a whole number"),
    case("bench-seeds-negative", "bench --loop --seeds 1,-2", "not '-2'"),
    case("bench-repeat-0", "bench --sizes --repeat 0", "--repeat 0: give a whole number"),
    case(
        "bench-against-nothing",
        "bench --sizes --against {tmp}/nowhere",
        "holding the lab's recsys/",
    ),
    case("bench-two-modes", "bench --loop --sizes", "one measurement at a time"),
    case("bench-quick-and-mode", "bench --quick --peers", "one measurement at a time"),
    case("bench-visits-without-loop", "bench --visits 5", "--visits is for bench --loop"),
    case("bench-big-without-sizes", "bench --loop --big", "--big is for bench --sizes"),
    case("bench-size-and-sizes", "bench --size 4m --sizes", "one measurement at a time"),
    case("bench-size-unknown", "bench --size 10m", "invalid choice: '10m'"),
    case("bench-size-big", "bench --size 25m --big", "--big is for bench --sizes"),
    case("bench-size-repeat", "bench --size 1m --repeat 3", "--repeat is for bench --sizes"),
    case("export-into-a-file", "export {tmp}/lab.duckdb", "is a file; give a folder"),
    case("export-unwritable", "export /proc/nope/out", "cannot write to /proc/nope/out"),
    case("export-unknown-format", "export --format xlsx {tmp}/out", "invalid choice: 'xlsx'"),
    case("report-unknown-user", "report --user nobody-here {tmp}/r.html", "no user 'nobody"),
    case("report-into-a-folder", "report {tmp}", "is a folder; give the .html file"),
    case("report-not-html", "report {tmp}/r.pdf", "name the file .html"),
    case("report-unknown-algorithm", "report --algorithm svd {tmp}/r.html", ALG),
    case("report-empty-user", ["report", "--user", "", "{tmp}/r.html"], "(it is empty)"),
    case("report-without-output", "report", "required: output"),
]


@pytest.mark.parametrize("args, expected", LAB)
def test_lab_commands_refuse_bad_input(capsys, db_path, small_world_print, args, expected):
    assert_bad_input(capsys, args, expected, db_path, small_world_print)
