"""Fuzz `lrrec ingest` (property-based): over 10,000 malformed rows per run, in JSONL, CSV, Parquet, DeepOBS and
Optuna inputs (journal files, SQLite storages, SQLite files that are not storages), each input is refused with
exit status 1 and `Error: ...` (one line per problem, no traceback), the store is left byte for byte as it was,
and nothing hangs.

Every input starts from a valid row (or result file, or study) and gets nasty raw JSON put somewhere in it:
1e999, a 5,000-digit integer, 10,000-deep nesting, a lone surrogate, wrong types, implausible metrics, ... Each
call also holds at least one row that is certainly invalid, so exit status 1 is always the right answer and a
rejected ingest never writes: one store serves the whole module. The rows generated are counted, per test and in
total (the last test), so the 10,000 is checked rather than claimed. `@example`s keep the inputs that once
crashed or hung lrrec (each marked "found"). The inputs are the same on every run (derandomized);
`LRREC_FUZZ=explore` draws new ones and `LRREC_FUZZ_EXAMPLES=K` runs K times as many (see tests/fuzzing.py).
"""

from __future__ import annotations

import copy
import csv
import json
import re
import signal
import sqlite3
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import duckdb
import optuna
import pytest
from click.testing import CliRunner
from fuzzing import fuzz_settings
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import strategies as st
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from lrrec.cli import cli
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig, list_specs
from lrrec.store import open_store
from lrrec.store.deepobs import deepobs_row
from lrrec.store.interchange import CURVE_FIELDS, FIELDS, RowParser

VALID = {"task": "cifar10/resnet18", "schedule": "cosine", "lr": 0.1, "metric_name": "val_accuracy",
         "final_metric": 0.9, "epochs": 30, "curves": [{"epoch": 1, "val_metric": 0.5}]}
CERTAINLY_INVALID = [{k: v for k, v in VALID.items() if k != key} for key in ("task", "schedule", "metric_name")]
SCHEDULE_OBJECT = {"name": "sgdr", "lr": 0.1, "params": {"t_mult": 2}}
TASK_OBJECT = {"name": "cifar10/resnet18", "n_classes": 10, "input_shape": [3, 32, 32]}
TASK_FIELDS = sorted(TaskFingerprint.__dataclass_fields__)
SCHEDULE_PARAMS = sorted((spec.name, key) for spec in list_specs() for key in [*spec.params, "lr", "warmup_frac"])

MIN_ROWS = 10_000  # per run of this module, over the five formats (the SQLite test is extra)
ROWS: Counter[str] = Counter()  # rows generated and ingested, by format
HANG_S = 10  # one `lrrec ingest` call taking longer than this is a hang (they take 0.02-0.5 s)
# no shrinking: an input of 30-60 rows shrinks for minutes; the failing input is printed whole instead
SETTINGS = {"deadline": None, "print_blob": True,
            "phases": [Phase.explicit, Phase.reuse, Phase.generate],
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.large_base_example]}

# --- nasty raw JSON ---------------------------------------------------------------------------------------
NASTY_JSON = [
    "1e999", "-1e999", "1" + "0" * 400, str(2**70), str(-(2**70)), str(2**63), str(2**63 - 1), str(-(2**63) - 1),
    "9" * 5000, "-" + "9" * 5000, "1e-400", "1e308", "-0.0", "0", "-1", "-5", "1.7", "0.5", "3", "100", "0.0001",
    "[" * 40 + "]" * 40, "[" * 500 + "]" * 500, "[" * 10_000 + "]" * 10_000, '{"a":' * 40 + "1" + "}" * 40,
    '{"a":' * 300 + "1" + "}" * 300, '{"a":' * 5000 + "1" + "}" * 5000,
    '"\\ud800"', '"a\\udfffb"', '["\\ud800"]', '{"\\ud800": 1}', '""', '" "', '"\\u0000"', '"a\\u2028b\\nc"', '"a\\nb"',
    '"\\r"',
    '"' + "x" * 10_000 + '"', '"0001-01-01T00:00:00+05:00"', '"9999-12-31T23:59:59-05:00"', '"2024-02-30T00:00:00"',
    '"not a time"', "NaN", "-NaN", "Infinity", "-Infinity", "[NaN]", '{"x": Infinity}', "[]", "{}", "[1, 2]",
    '{"x": 1}', '[{"epoch": 1}]', '[{"epoch": 1e999}]', "true", "false", "null", '"abc"', '"0.1"', '"1e999"', '"NaN"',
    '"cosine"', '"sgdr"', '"cifar10/resnet18"', '"max"', '"min"', '"finished"', '"{\\"name\\": \\"x/y\\"}"',
    '"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"', "1_0", "0x10", "01", "+1",
    ".5", "1.", "tru", "[1,", '{"a"', '"unterminated', "]", "}", ",",
]
NASTY_CELLS = ["1_0", "0x10", "nan", "-nan", "inf", "-inf", "Infinity", "1e999", "1" + "0" * 400, "9" * 5000, " 1",
               "1 ", "+1", ".5", "5.", "1e", "e5", "--1", "\uff11", "\u0663", "1e-400", "", " ", "a,b", 'say "hi"',
               "line\nbreak", "\x00", "0.9.1", "1e5000", "TRUE", "None", "null", "[]", "{}", "[1,",
               "9" * 100_000 + "x", "." + "5" * 100_000 + "e"]  # long cells: a slow number check would hang
# patches no parser rejects on syntax, only on meaning (plausibility, ranges, required pairs)
IMPLAUSIBLE = [
    {"final_metric": 1.7}, {"final_metric": -0.2}, {"best_metric": 0.2}, {"best_metric": 1.5},
    {"direction": "min", "best_metric": 0.95}, {"metric_name": "val_loss", "final_metric": 0.5, "best_metric": 0.9},
    {"epochs": -3}, {"epochs": 0}, {"batch_size": 0}, {"steps": -1}, {"curves": [{"epoch": 1, "val_metric": 1.7}]},
    {"curves": [{"val_metric": 0.5}]}, {"curves": [{"epoch": -1, "val_metric": 0.5}]}, {"target_value": 7},
    {"status": "finished", "final_metric": None}, {"metric_name": "weird"}, {"direction": "up"},
    {"status": "exploded"}, {"schedule": {"name": "sgdr", "params": {"t_mult": 2}}, "lr": None},
    {"schedule_params": {"t_mult": 2}}, {"schedule": "no_such_schedule"}, {"task": "no-slash"},
    {"task": {"name": "a/b", "task_kind": "clustering"}}, {"task": {"name": "a/b", "class_balance": 2}},
    {"created_at": "0001-01-01T00:00:00+05:00"}, {"time_to_target_s": -1}, {"step_to_target": 1.5},
]


def fragments(extra: list[str] = ()) -> st.SearchStrategy[str]:
    """Raw text to put where a JSON value goes (mostly nasty, sometimes any number or string); `extra`, the
    format's own nasty text, is drawn as often as the JSON fragments."""
    return st.one_of(st.sampled_from(NASTY_JSON), *([st.sampled_from(extra)] * bool(extra)), st.integers().map(str),
                     st.floats().map(json.dumps), st.text(max_size=6).map(json.dumps))


def placeholder(i: int) -> str:
    return f"\x00FUZZ{i}\x00"


def fill(text: str, raw: dict[str, str]) -> str:
    """Replace each dumped placeholder (a JSON string) in `text` by its raw fragment."""
    for key, fragment in raw.items():
        text = text.replace(json.dumps(key), fragment)
    return text


# --- interchange rows ----------------------------------------------------------------------------------
def locations(unknown_fields: bool, field_weight: int) -> st.SearchStrategy[tuple]:
    """Where a fragment goes. Unknown top-level fields only where `unknown_fields`: in a CSV or Parquet file a
    column is in every row, so one unknown name would make every row fail on it alone. `field_weight`: how much
    more often a top-level field is chosen than each other place (CSV reads top-level numbers itself)."""
    field = st.tuples(st.just("field"), st.sampled_from([*FIELDS, "bogus", ""] if unknown_fields else [*FIELDS]))
    return st.one_of(
        *[field] * field_weight,
        st.tuples(st.just("curve"), st.sampled_from([*CURVE_FIELDS, "bogus"])),
        st.tuples(st.just("schedule_param"), st.sampled_from(SCHEDULE_PARAMS)),
        st.tuples(st.just("schedule_params"), st.sampled_from(SCHEDULE_PARAMS)),
        st.tuples(st.just("schedule_object"), st.sampled_from(["name", "lr", "params", "warmup", "family", "bogus"])),
        st.tuples(st.just("task_field"), st.sampled_from([*TASK_FIELDS, "bogus"])),
        st.tuples(st.just("row"), st.just("")),
        st.tuples(st.just("drop"), st.sampled_from(sorted(VALID))),
    )


def mutations(extra: list[str], unknown_fields: bool, field_weight: int) -> st.SearchStrategy[list]:
    one = st.one_of(st.tuples(locations(unknown_fields, field_weight), fragments(extra)), st.sampled_from(IMPLAUSIBLE))
    return st.lists(one, min_size=1, max_size=3)


def mutated_row(changes: list) -> tuple[object, dict[str, str]]:
    """VALID with `changes` applied: the row (placeholders where fragments go) and placeholder -> fragment."""
    row: object = copy.deepcopy(VALID)
    raw: dict[str, str] = {}
    for change in changes:
        if isinstance(change, dict):
            if isinstance(row, dict):
                row.update(copy.deepcopy(change))
            continue
        (where, key), fragment = change
        mark = placeholder(len(raw))
        raw[mark] = fragment
        if where == "row" or not isinstance(row, dict):
            row = mark
        elif where == "field":
            row[key] = mark
        elif where == "drop":
            row.pop(key, None)
        elif where == "curve":
            row["curves"] = [{"epoch": 1, "val_metric": 0.5, key: mark}]
        elif where == "schedule_param":
            row.pop("lr", None)
            row["schedule"] = {"name": key[0], "lr": 0.1, "params": {key[1]: mark}}
        elif where == "schedule_params":
            row["schedule"] = key[0]
            row["schedule_params"] = {key[1]: mark}
        elif where == "schedule_object":
            row.pop("lr", None)
            row["schedule"] = {**SCHEDULE_OBJECT, key: mark}
        elif where == "task_field":
            row["task"] = {**TASK_OBJECT, key: mark}
    return row, raw


def interchange_file(extra: list[str] = (), unknown_fields: bool = True, field_weight: int = 1, low: int = 30,
                     high: int = 60) -> st.SearchStrategy:
    """(rows as (row, raw) pairs, the certainly invalid row, where to insert it)."""
    rows = st.lists(mutations(extra, unknown_fields, field_weight).map(mutated_row), min_size=low, max_size=high)
    return st.tuples(rows, st.sampled_from(CERTAINLY_INVALID), st.integers(min_value=0, max_value=high))


def with_invalid(rows: list, invalid: dict, at: int) -> list:
    rows = list(rows)
    rows.insert(at % (len(rows) + 1), (invalid, {}))
    return rows


def jsonl_line(row: object, raw: dict[str, str]) -> str:
    return fill(json.dumps(row), raw)


# --- running `lrrec ingest` and checking what it did ------------------------------------------------------
class Hang(BaseException):  # not an Exception: no `except Exception` in lrrec or click swallows it
    pass


@contextmanager
def hang_guard(seconds: float):
    """Interrupt the block after `seconds` (a hang, or memory filling up) and fail with an AssertionError, which
    hypothesis reports with the input that caused it."""
    def alarm(signum, frame):
        raise Hang
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Hang:
        raise AssertionError(f"lrrec ingest ran for more than {seconds} s: a hang") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class FuzzStore:
    """The module's one store, its state recorded once; `ingest_rejected` checks every call against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = open_store(path)
        self.info = self.store.info()
        self.content = path.read_bytes()
        self.listing = sorted(p.name for p in path.parent.iterdir())
        self.runner = CliRunner()

    def ingest_rejected(self, inputs: list[Path], *options: str) -> list[str]:
        """Run `lrrec ingest` on `inputs`; assert exit 1, a clean `Error:` report and an unchanged store."""
        names = [str(p) for p in inputs]
        with hang_guard(HANG_S):
            result = self.runner.invoke(cli, ["ingest", "--store", str(self.path), *options, *names])
        shown = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, \
            f"exit {result.exit_code}:\n{result.output}\n{shown}"
        lines = check_report(result.output, names)
        assert self.store.info() == self.info, "a rejected ingest changed the store's contents"
        assert self.path.read_bytes() == self.content, "a rejected ingest changed the store file"
        assert sorted(p.name for p in self.path.parent.iterdir()) == self.listing, "left files next to the store"
        return lines


_MORE = re.compile(r"  \.\.\. and (\d+) more")
_COUNT = re.compile(r"Error: (\d+) invalid row\(s\); nothing was ingested")


def check_report(output: str, names: list[str]) -> list[str]:
    """`Error: ...` then one `  <file>:<line or ref>: <reason>` line per problem (at most 20, then `... and N more`)."""
    assert "Traceback" not in output, output
    assert output.endswith("\n") and "\r" not in output, repr(output[-300:])
    lines = output[:-1].split("\n")
    assert lines[0].startswith("Error: ") and lines[0][7:].strip(), lines[0]
    counted = _COUNT.match(lines[0])
    if counted is None:
        assert len(lines) == 1, f"a multi-line error that is not a list of problems:\n{output}"
        return lines
    total, problems = int(counted.group(1)), lines[1:]
    more = _MORE.fullmatch(problems[-1]) if problems else None
    if more:
        problems = problems[:-1]
        assert int(more.group(1)) == total - len(problems), output
    assert len(problems) == min(total, 20) and total >= 1, output
    refs = "|".join(re.escape(n) for n in names)
    line = re.compile(rf"  (?:{refs})(?::\d+|#[^\n]+/\d+)?: \S.*")
    for problem in problems:
        assert line.fullmatch(problem), f"not a `  <file>:<line or ref>: <reason>` line: {problem[:300]!r}"
    return lines


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory) -> FuzzStore:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return FuzzStore(tmp_path_factory.mktemp("fuzz-store") / "store.duckdb")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-inputs")


def test_the_starting_points_are_valid():
    """Mutations start from inputs lrrec accepts, so each one is what breaks them."""
    parser = RowParser("fuzz")
    for row in (VALID, {**VALID, "schedule": SCHEDULE_OBJECT, "lr": None}, {**VALID, "task": TASK_OBJECT}):
        parser.parse({k: v for k, v in row.items() if v is not None}, "here")
    parser.parse(deepobs_row(DEEPOBS_BASE), "here")
    for invalid in CERTAINLY_INVALID:
        with pytest.raises(ValueError, match="missing required"):
            parser.parse(invalid, "here")


# --- JSONL ----------------------------------------------------------------------------------------------
def test_jsonl(fuzz, inputs):
    path = inputs / "fuzz.jsonl"

    @fuzz_settings(90, **SETTINGS)
    @given(spec=interchange_file(), tail=st.sampled_from(["\n", "", "\n\n", "\r\n"]),
           junk=st.sampled_from([b"", b"\xff\xfe", b"\xed\xa0\x80", b"{\"task\": \"\xc3\"}"]))
    @example(spec=([mutated_row([(("schedule_object", "family"), '"a\\nb"')]),  # found: a message of two lines
                    mutated_row([(("schedule_object", "x\ny"), "1")])], CERTAINLY_INVALID[0], 0), tail="\n", junk=b"")
    def run(spec, tail, junk):
        rows = with_invalid(*spec)
        text = "\n".join(jsonl_line(row, raw) for row, raw in rows) + tail
        path.write_bytes(text.encode("utf-8") + (b"\n" + junk if junk else b""))
        fuzz.ingest_rejected([path])
        ROWS["jsonl"] += len(rows) + bool(junk)

    before = ROWS["jsonl"]
    run()
    assert ROWS["jsonl"] - before >= 3_000


# --- CSV ------------------------------------------------------------------------------------------------
def csv_cells(row: object, raw: dict[str, str]) -> dict[str, str] | str:
    """A row's cells: nested values as JSON text, scalar fragments raw; a non-object row is one raw line."""
    if not isinstance(row, dict):
        return fill(json.dumps(row), raw) if row not in raw else raw[row]
    cells = {}
    for key, value in row.items():
        if isinstance(value, str) and value in raw:
            cells[key] = raw[value]
        elif isinstance(value, (dict, list)):
            cells[key] = fill(json.dumps(value), raw)
        else:
            cells[key] = "" if value is None else str(value)
    return cells


def test_csv(fuzz, inputs):
    path = inputs / "fuzz.csv"

    @fuzz_settings(75, **SETTINGS)
    @given(spec=interchange_file(NASTY_CELLS, unknown_fields=False, field_weight=4), surrogate=st.booleans())
    @example(spec=([mutated_row([(("field", "lr"), "9" * 100_000 + "x")])], CERTAINLY_INVALID[0], 1),
             surrogate=False)  # found: the number check was quadratic in a cell's length (minutes per cell)
    def run(spec, surrogate):
        rows = [csv_cells(row, raw) for row, raw in with_invalid(*spec)]
        header = list(dict.fromkeys(k for cells in rows if isinstance(cells, dict) for k in cells))
        with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for cells in rows:
                if isinstance(cells, dict):
                    writer.writerow([cells.get(k, "") for k in header])
                else:
                    handle.write(cells + "\r\n")
            if surrogate:  # a lone surrogate written out: bytes that are not UTF-8
                writer.writerow(["\ud800" if k == "notes" else "" for k in header])
        fuzz.ingest_rejected([path])
        ROWS["csv"] += len(rows) + surrogate

    before = ROWS["csv"]
    run()
    assert ROWS["csv"] - before >= 2_300


# --- Parquet --------------------------------------------------------------------------------------------
def write_parquet(rows: list, jsonl: Path, out: Path) -> None:
    """Typed columns as DuckDB infers them from the JSON; if it cannot, every field as its JSON text."""
    jsonl.write_text("\n".join(jsonl_line(row, raw) for row, raw in rows) + "\n", errors="surrogatepass")
    con = duckdb.connect()
    try:
        try:
            con.execute("COPY (SELECT * FROM read_json(?, format='newline_delimited')) TO ? (FORMAT parquet)",
                        [str(jsonl), str(out)])
            return
        except duckdb.Error:
            pass
        fields = list(dict.fromkeys(k for row, _ in rows if isinstance(row, dict) for k in row if k)) or ["task"]
        con.execute("CREATE TABLE t (" + ", ".join(f'"{k}" VARCHAR' for k in fields) + ")")  # names: FIELDS, bogus
        values = [[fill(json.dumps(row[k]), raw) if k in row else None for k in fields]
                  if isinstance(row, dict) else [None] * len(fields) for row, raw in rows]
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(fields))})", values)
        con.execute("COPY t TO ? (FORMAT parquet)", [str(out)])
    finally:
        con.close()


def test_parquet(fuzz, inputs):
    jsonl, path = inputs / "parquet-source.ndjson", inputs / "fuzz.parquet"

    @fuzz_settings(60, **SETTINGS)
    @given(spec=interchange_file(unknown_fields=False))
    def run(spec):
        rows = with_invalid(*spec)
        write_parquet(rows, jsonl, path)
        fuzz.ingest_rejected([path])
        ROWS["parquet"] += len(rows)

    before = ROWS["parquet"]
    run()
    assert ROWS["parquet"] - before >= 1_800


# --- DeepOBS --------------------------------------------------------------------------------------------
def _deepobs_base(n: int = 12) -> dict:
    factors = [float(f) for f in ScheduleConfig.create("cosine", 0.1).multipliers(list(range(1, n + 1)), n)]
    losses = [2.3 * 0.8**e for e in range(n + 1)]
    accuracies = [min(0.99, 0.1 + 0.07 * e) for e in range(n + 1)]
    return {"testproblem": "fmnist_2c2d", "batch_size": 128, "num_epochs": n, "random_seed": 42, "l2_reg": 0.0005,
            "optimizer_name": "MomentumOptimizer", "optimizer_hyperparams": {"learning_rate": 0.1, "momentum": 0.9},
            "training_params": {"lr_sched_epochs": list(range(1, n + 1)), "lr_sched_factors": factors},
            "train_losses": losses, "valid_losses": [x * 1.1 for x in losses], "test_losses": [x * 1.1 for x in losses],
            "train_accuracies": accuracies, "valid_accuracies": accuracies, "test_accuracies": accuracies}


DEEPOBS_BASE = _deepobs_base()
_SERIES = [k for k in DEEPOBS_BASE if k.endswith(("_losses", "_accuracies"))]
DEEPOBS_PLACES = st.one_of(
    st.tuples(st.sampled_from([*DEEPOBS_BASE, "bogus"])),
    st.tuples(st.just("optimizer_hyperparams"), st.sampled_from(["learning_rate", "momentum", "use_nesterov"])),
    st.tuples(st.just("training_params"), st.sampled_from(["lr_sched_epochs", "lr_sched_factors", "bogus"])),
    st.tuples(st.just("training_params"), st.sampled_from(["lr_sched_epochs", "lr_sched_factors"]),
              st.integers(0, 11)),
    st.tuples(st.sampled_from(_SERIES), st.integers(0, 12)),
)
DEEPOBS_EDITS = st.one_of(
    st.tuples(st.just("set"), DEEPOBS_PLACES, fragments()),
    st.tuples(st.just("set"), DEEPOBS_PLACES, fragments()),
    st.tuples(st.just("set"), DEEPOBS_PLACES, fragments()),
    st.tuples(st.just("drop"), st.sampled_from(sorted(DEEPOBS_BASE))),
    st.tuples(st.just("resize"), st.sampled_from([*_SERIES, "lr_sched_epochs", "lr_sched_factors"]),
              st.integers(-13, 3)),
    st.tuples(st.just("whole"), fragments()),
    st.tuples(st.just("value"), st.sampled_from([
        ("training_params", "x"), ("training_params", 3), ("training_params", [1]), ("training_params", "NaN"),
        ("testproblem", None), ("testproblem", ""), ("testproblem", "_"), ("testproblem", "cifar10_"),
        ("optimizer_name", ["MomentumOptimizer"]), ("optimizer_name", "Optimizer"), ("l2_reg", "abc"),
        ("num_epochs", 0), ("num_epochs", 13), ("num_epochs", 11), ("num_epochs", True), ("num_epochs", 1e300),
        ("optimizer_hyperparams", {"learning_rate": -0.1}), ("optimizer_hyperparams", {"learning_rate": 0}),
        ("optimizer_hyperparams", {}), ("random_seed", "x"), ("batch_size", -5),
        ("training_params", {"lr_sched_epochs": [5, 2], "lr_sched_factors": [0.1, 0.2]}),
        ("training_params", {"lr_sched_epochs": [2, 4, 6, 8], "lr_sched_factors": [0.1, 1, 0.1, 1]}),
        ("training_params", {"lr_sched_epochs": [1, 2], "lr_sched_factors": [0.5, 0.7]}),
        ("training_params", {"lr_sched_epochs": [3], "lr_sched_factors": [-1]}),
        ("training_params", {"lr_sched_epochs": [3], "lr_sched_factors": [0]}),
        ("training_params", {"lr_sched_epochs": [3.0], "lr_sched_factors": [0.1]}),
        ("valid_accuracies", [2.0] * 13), ("valid_losses", [None] * 13), ("train_losses", [1.0] * 13),
        ("valid_accuracies", None), ("train_losses", "abc"), ("train_losses", None),
    ])),
    # a short file that claims a huge run (nothing bounds num_epochs but the series the file holds)
    st.tuples(st.just("patch"), st.sampled_from([10**12, 2**70, 10**6]).map(
        lambda n: {"num_epochs": n, **dict.fromkeys(_SERIES)})),
)


def deepobs_text(edits: list) -> str:
    """The JSON text of DEEPOBS_BASE with `edits` applied (see DEEPOBS_EDITS)."""
    data: object = copy.deepcopy(DEEPOBS_BASE)
    raw: dict[str, str] = {}
    for edit in edits:
        if not isinstance(data, dict):
            break
        kind = edit[0]
        if kind == "whole":
            data = placeholder(len(raw))
            raw[data] = edit[1]
        elif kind == "drop":
            data.pop(edit[1], None)
        elif kind == "value":
            data[edit[1][0]] = copy.deepcopy(edit[1][1])
        elif kind == "patch":
            data.update(edit[1])
        elif kind == "resize":
            holder = data.get("training_params") if edit[1].startswith("lr_sched") else data
            values = holder.get(edit[1]) if isinstance(holder, dict) else None
            if isinstance(values, list):
                holder[edit[1]] = values[:edit[2]] if edit[2] < 0 else values + values[:edit[2]]
        else:
            mark = placeholder(len(raw))
            raw[mark] = edit[2]
            holder, path = data, edit[1]
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            last = path[-1]
            if isinstance(holder, dict) or (isinstance(holder, list) and isinstance(last, int) and last < len(holder)):
                holder[last] = mark
    return fill(json.dumps(data), raw)


def test_deepobs(fuzz, inputs):
    folder = inputs / "deepobs"
    folder.mkdir()
    invalid = {k: v for k, v in DEEPOBS_BASE.items() if k != "testproblem"}

    @fuzz_settings(75, **SETTINGS)
    @given(files=st.lists(st.lists(DEEPOBS_EDITS, min_size=1, max_size=3), min_size=15, max_size=40),
           at=st.integers(0, 40))
    @example(files=[[("patch", {"num_epochs": 10**12, **dict.fromkeys(_SERIES)})]], at=0)  # found: ran out of memory
    def run(files, at):
        texts = [deepobs_text(edits) for edits in files]
        texts.insert(at % (len(texts) + 1), json.dumps(invalid))
        paths = []
        for i, text in enumerate(texts):
            paths.append(folder / f"r{i:03}.json")
            paths[-1].write_text(text, errors="surrogatepass")
        fuzz.ingest_rejected(paths)
        ROWS["deepobs"] += len(paths)

    before = ROWS["deepobs"]
    run()
    assert ROWS["deepobs"] - before >= 1_200


# --- Optuna ---------------------------------------------------------------------------------------------
OPTUNA_TRIALS = 40  # trials in each base study


def lrrec_study(storage: object) -> None:
    """A real lrrec-style study in `storage`; its last trial is certainly invalid (seed "abc"), the others valid."""
    study = optuna.create_study(study_name="fuzz", direction="maximize", storage=storage,
                                sampler=optuna.samplers.TPESampler(seed=0))  # the same study on every run
    study.set_user_attr("lrrec.task", TASK_OBJECT)
    study.set_user_attr("lrrec.schedule", "step")
    study.set_user_attr("lrrec.metric", {"name": "val_accuracy", "direction": "max"})
    study.set_user_attr("lrrec.budget", {"epochs": 3, "batch_size": 128, "optimizer": "sgd",
                                         "optimizer_params": {"momentum": 0.9}})

    def objective(trial):
        trial.suggest_float("lr", 1e-3, 1.0, log=True)
        trial.suggest_float("gamma", 0.1, 0.9)
        trial.suggest_float("step_frac", 0.1, 0.5) if trial.number % 5 == 0 else None
        trial.set_user_attr("lrrec.seed", trial.number)
        for epoch in range(3):
            trial.report(0.1 + 0.1 * epoch, epoch)
        if trial.number % 7 == 3:
            raise optuna.TrialPruned()
        if trial.number == OPTUNA_TRIALS - 1:
            trial.set_user_attr("lrrec.seed", "abc")
        return 0.5 + trial.number / 100

    study.optimize(objective, n_trials=OPTUNA_TRIALS)


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> list[str]:
    """The lines of an lrrec-style study's journal file."""
    path = tmp_path_factory.mktemp("optuna") / "study.log"
    lrrec_study(JournalStorage(JournalFileBackend(str(path))))
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def sqlite_study(tmp_path_factory) -> bytes:
    """The bytes of an lrrec-style study's SQLite storage."""
    path = tmp_path_factory.mktemp("optuna") / "study.db"
    lrrec_study(f"sqlite:///{path}")
    return path.read_bytes()


def test_the_optuna_starting_points_are_valid(journal, sqlite_study, tmp_path):
    """Every trial of the base studies reads as a valid row but the last (its seed is "abc")."""
    from lrrec.store.optuna_study import read_optuna

    (tmp_path / "study.log").write_text("\n".join(journal) + "\n")
    (tmp_path / "study.db").write_bytes(sqlite_study)
    for target in (tmp_path / "study.log", tmp_path / "study.db"):
        parser, failed = RowParser("optuna"), []
        for where, row in read_optuna(str(target)):
            try:
                parser.parse(row, where)
            except ValueError:
                failed.append(where)
        assert failed == [f"{target}#fuzz/{OPTUNA_TRIALS - 1}"]


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    """Every key path inside a parsed journal line (inner objects too: the whole object can be replaced)."""
    out = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _leaves(item, (*path, index))
    return out


# keys whose values replay cleanly but then reach lrrec's mapping of studies and trials
JOURNAL_KEYS = ["values", "intermediate_value", "step", "param_value_internal", "distribution", "param_name",
                "datetime_start", "datetime_complete", "state", "user_attr", "lrrec.seed", "lrrec.task",
                "lrrec.schedule", "lrrec.metric", "lrrec.budget", "name", "direction", "epochs", "steps",
                "batch_size", "optimizer", "optimizer_params", "momentum", "n_classes", "input_shape", "directions",
                "study_name", "study_id", "trial_id"]
JOURNAL_EDITS = st.one_of(
    st.tuples(st.just("key"), st.sampled_from(JOURNAL_KEYS), st.integers(0, 10**6), fragments()),
    st.tuples(st.just("key"), st.sampled_from(JOURNAL_KEYS), st.integers(0, 10**6), fragments()),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 10**6), fragments()),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(["drop", "duplicate", "no_newline", "bad_utf8"]), st.integers(0, 10**6)),
    st.tuples(st.just("whole"), st.integers(0, 10**6), fragments()),
    st.tuples(st.just("second_study"), st.just(0), st.sampled_from(
        ['"a\\nb"', '"\\ud800"', '"a\\u2028b"', '""', "1e999", "null", '["fuzz"]', '"fuzz2"'])),
)


def corrupt_journal(lines: list[str], edits: list, protected: int) -> bytes:
    """Apply `edits` to the journal's lines, leaving the last `protected` (the invalid trial) alone."""
    lines = list(lines)
    ends = ["\n"] * len(lines)
    for edit in edits:
        kind = edit[0]
        if kind == "key":  # the n-th place (line, key path) where this key occurs
            places = [(i, path) for i, line in enumerate(lines[:len(lines) - protected]) if edit[1] in line
                      for path in _leaves(_parsed(line)) if path[-1] == edit[1]]
            if places:
                at, path = places[edit[2] % len(places)]
                lines[at] = _with_fragment(json.loads(lines[at]), path, edit[3])
            continue
        at = edit[1] % (len(lines) - protected)
        if kind == "set":
            data = _parsed(lines[at])
            paths = _leaves(data)
            if not paths:
                continue
            lines[at] = _with_fragment(data, paths[edit[2] % len(paths)], edit[3])
        elif kind == "truncate":
            lines[at] = lines[at][:edit[2] % max(1, len(lines[at]))]
        elif kind == "drop" and len(lines) - protected > 1:
            del lines[at]
            del ends[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
            ends.insert(at, "\n")
        elif kind == "no_newline":
            ends[at] = ""
        elif kind == "bad_utf8":
            lines[at] = lines[at][:len(lines[at]) // 2] + "\udcff" + lines[at][len(lines[at]) // 2:]
        elif kind == "whole":
            lines[at] = edit[2]
        elif kind == "second_study":  # a copy of the create-study line under another name
            study = _parsed(lines[0])
            if isinstance(study, dict) and "study_name" in study:
                lines.insert(1, _with_fragment(study, ("study_name",), edit[2]))
                ends.insert(1, "\n")
    return "".join(line + end for line, end in zip(lines, ends)).encode("utf-8", "surrogateescape")


def _parsed(line: str) -> object:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # an earlier edit broke this line already
        return None


def _with_fragment(data: object, path: tuple, fragment: str) -> str:
    holder = data
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = placeholder(0)
    return fill(json.dumps(data), {placeholder(0): fragment})


def test_optuna_journal(fuzz, inputs, journal):
    path, companion = inputs / "fuzz-study.log", inputs / "companion.jsonl"
    companion.write_text(json.dumps(CERTAINLY_INVALID[0]) + "\n")  # the call fails even if the journal is fine
    protected = _last_trial_lines(journal)

    @fuzz_settings(60, **SETTINGS)
    @given(edits=st.lists(JOURNAL_EDITS, min_size=1, max_size=6))
    @example(edits=[("second_study", 0, "null")])  # found: tracebacks, each of these
    @example(edits=[("second_study", 0, '"a\\nb"')])
    @example(edits=[("key", "lrrec.metric", 0, '"abc"')])
    @example(edits=[("key", "intermediate_value", 0, '"abc"')])
    @example(edits=[("key", "step", 0, '"1"')])
    @example(edits=[("key", "values", 0, "[]")])
    @example(edits=[("key", "values", 0, "[0.5, 0.6]")])
    def run(edits):
        data = corrupt_journal(journal, edits, protected)
        path.write_bytes(data)
        fuzz.ingest_rejected([path, companion])
        ROWS["optuna"] += data.count(b'"op_code":4') + 1

    before = ROWS["optuna"]
    run()
    assert ROWS["optuna"] - before >= 1_800


def _last_trial_lines(lines: list[str]) -> int:
    """How many lines at the end of the journal belong to its last trial (from its create-trial op)."""
    starts = [i for i, line in enumerate(lines) if json.loads(line)["op_code"] == 4]
    return len(lines) - starts[-1]


# --- an Optuna SQLite storage with corrupted cells ---------------------------------------------------------
SQL_VALUES = [None, "", "abc", "NaN", "inf", "{", "[]", "{}", '{"name": "FloatDistribution", "attributes": {}}',
              '{"name": "CategoricalDistribution", "attributes": {"choices": []}}', "COMPLETE", "RUNNING", "FAIL",
              "MAXIMIZE", "BOGUS", "0001-01-01 00:00:00", "9999-99-99", -1, 0, 1, 2**63 - 1, 1.5, 1e308,
              float("nan"), float("inf"), b"\xff\x00", '"\\ud800"', "[" * 500 + "]" * 500, '"abc"', "1e999"]


def corrupt_sqlite(path: Path, base: bytes, edits: list) -> int:
    """Write `base` to `path` and set the cells `edits` pick (table/column, row, value); returns how many took."""
    path.write_bytes(base)
    con = sqlite3.connect(path)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        cells = [(t, c) for t in tables for (_, c, *_) in con.execute(f'PRAGMA table_info("{t}")')]
        done = 0
        for pick, row, value in edits:
            table, column = pick if isinstance(pick, tuple) else cells[pick % len(cells)]
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if not rows:
                continue
            try:
                con.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = '
                            f'(SELECT rowid FROM "{table}" LIMIT 1 OFFSET ?)', [value, row % rows])
                done += 1
            except sqlite3.Error:  # a constraint refused it
                pass
        con.commit()
        return done
    finally:
        con.close()


def test_optuna_sqlite(fuzz, inputs, sqlite_study):
    path, companion = inputs / "fuzz-study.db", inputs / "companion-sqlite.jsonl"
    companion.write_text(json.dumps(CERTAINLY_INVALID[0]) + "\n")  # the call fails even if the storage is fine

    @fuzz_settings(40, **SETTINGS)
    @given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(SQL_VALUES)),
                          min_size=1, max_size=4))
    @example(edits=[(("trials", "state"), 0, "BOGUS")])  # found: tracebacks from Optuna loading the trials
    @example(edits=[(("trials", "datetime_start"), 0, 5)])
    @example(edits=[(("trials", "number"), 0, "1e999")])  # found: a trial numbered inf named `#study/inf`
    @example(edits=[(("trial_intermediate_values", "intermediate_value"), 0, "abc")])
    def run(edits):
        corrupt_sqlite(path, sqlite_study, edits)
        before = path.read_bytes()
        fuzz.ingest_rejected([path, companion])
        assert path.read_bytes() == before, "ingest wrote into the Optuna storage it read"
        ROWS["optuna"] += OPTUNA_TRIALS + 1

    run()


# --- SQLite files that are not Optuna storages ------------------------------------------------------------
SQLITE_TABLES = ["studies", "trials", "version_info", "alembic_version", "trial_values", "study_directions",
                 "trial_params", "runs", "data"]


def test_sqlite_that_is_not_an_optuna_storage(fuzz, inputs):
    path = inputs / "fuzz.db"

    @fuzz_settings(25, **SETTINGS)
    @given(tables=st.lists(st.tuples(st.sampled_from(SQLITE_TABLES),
                                     st.lists(st.sampled_from(["study_id", "study_name", "trial_id", "number",
                                                               "state", "value", "x"]), min_size=1, max_size=4,
                                              unique=True),
                                     st.lists(st.sampled_from([None, 0, 1, -1, 1.5, "abc", "", b"\x00"]),
                                              max_size=4)),
                           max_size=4, unique_by=lambda t: t[0]),
           cut=st.sampled_from([None, 100, 4096, 5000]))
    @example(tables=[("studies", ["study_id"], []), ("trials", ["x"], [])], cut=None)  # found: Optuna wrote to it
    def run(tables, cut):
        path.unlink(missing_ok=True)
        con = sqlite3.connect(path)
        for name, columns, values in tables:
            con.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
            for value in values:
                con.execute(f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", [value] * len(columns))
        con.execute("CREATE TABLE IF NOT EXISTS filler (x)")  # never an empty file
        con.commit()
        con.close()
        if cut is not None:
            data = path.read_bytes()
            path.write_bytes(data[:cut] + b"\x00" * max(0, len(data) - cut) if cut < len(data) else data + b"junk")
        before = path.read_bytes()
        fuzz.ingest_rejected([path])
        assert path.read_bytes() == before, "ingest wrote into an SQLite file it was only to read"
        ROWS["sqlite"] += sum(len(values) for _, _, values in tables)

    run()


# --- the total ------------------------------------------------------------------------------------------
def test_at_least_ten_thousand_rows_were_fuzzed():
    formats = ("jsonl", "csv", "parquet", "deepobs", "optuna")
    if not all(ROWS[f] for f in formats):
        pytest.skip("only part of the module ran; the total counts every format's test")
    print(f"rows fuzzed: {dict(ROWS)}; total over the five formats {sum(ROWS[f] for f in formats)}")
    assert sum(ROWS[f] for f in formats) >= MIN_ROWS
