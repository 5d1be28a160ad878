"""A store never loses or half-writes data: damaged files, failed writes, odd paths and bad values are one line."""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.store import open_store

ROW = {"task": "t/m", "schedule": "cosine", "lr": 0.1, "metric_name": "val_loss", "final_metric": 0.5}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def lrrec(*args: str, file_limit: int | None = None) -> subprocess.CompletedProcess:
    """The real `lrrec` command in a new process; `file_limit` caps the size of any file it writes."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
    return subprocess.run([sys.executable, "-m", "lrrec", *args], capture_output=True, text=True, timeout=120,
                          preexec_fn=limit if file_limit else None, check=False)


def one_error_line(result) -> str:
    lines = (result.output if hasattr(result, "output") else result.stdout + result.stderr).strip().splitlines()
    assert result.exit_code == 1 if hasattr(result, "exit_code") else result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("healthy") / "s.duckdb"
    open_store(path)
    return path


def damaged_copy(healthy: Path, folder: Path, how: str) -> Path:
    path = folder / f"{how}.duckdb"
    path.write_bytes(healthy.read_bytes())
    with open(path, "r+b") as handle:
        if how == "overwritten":
            handle.seek(4096)
            handle.write(b"\x5a" * 4096)
        else:
            handle.truncate(path.stat().st_size // 2)
    return path


@pytest.mark.parametrize("how", ["overwritten", "truncated"])
@pytest.mark.parametrize("command", [["store", "info"], ["suggest", "--dataset", "cifar100", "--model", "wrn"],
                                     ["ingest", "ROWS"], ["store", "export", "OUT"], ["evaluate"]])
def test_a_damaged_store_is_one_line_naming_the_way_out(healthy, tmp_path, how, command):
    path = damaged_copy(healthy, tmp_path, how)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROW) + "\n")
    args = [{"ROWS": str(rows), "OUT": str(tmp_path / "out.jsonl")}.get(a, a) for a in command]
    line = one_error_line(run(*args, "--store", str(path)))  # no retrying: DuckDB's damage is not a lock
    assert f"store {path} is damaged" in line and "restore it from a backup" in line


def test_store_check_reads_every_row_and_names_the_damage(healthy, tmp_path):
    result = run("store", "check", "--store", str(healthy), "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["ok"] and report["problems"] == []
    assert report["rows"]["runs"] == open_store(healthy).info().runs > 0
    assert 0 < report["runs_with_curves"] <= report["rows"]["runs"]
    from lrrec.store.check import check_store

    for how in ("overwritten", "truncated"):
        found = check_store(damaged_copy(healthy, tmp_path, how))
        assert not found.ok and found.problems
    text = run("store", "check", "--store", str(tmp_path / "truncated.duckdb"))
    assert text.exit_code == 1 and "damaged" in text.output.splitlines()[-1]


def test_store_check_finds_runs_whose_rows_disagree(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO curves (run_id, step) VALUES ('no-such-run', 1)")
    con.close()
    from lrrec.store.check import check_store

    assert check_store(path).problems == ["1 curve points without their run"]


def test_store_check_finds_cells_that_disagree_with_their_runs_and_repair_rebuilds_them(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    con = duckdb.connect(str(path))  # runs changed behind lrrec's back: the cells no longer match
    changed = con.execute("UPDATE runs SET final_metric = final_metric / 2 WHERE source = 'literature' "
                          "AND final_metric > 0.9").fetchone()[0]
    con.close()
    from lrrec.store.check import check_store

    (problem,) = check_store(path).problems
    assert changed > 0 and problem.endswith("cells that differ from what their runs aggregate to "
                                            "(`lrrec store repair` rebuilds them)")
    assert run("store", "repair", "--store", str(path)).exit_code == 0
    assert check_store(path).ok


def test_only_another_programs_lock_is_waited_for(healthy):
    from lrrec.store.access import connect

    holder = duckdb.connect(str(healthy))  # DuckDB's own lock, as a user's duckdb shell would hold it
    try:  # a child process: within one process DuckDB would share the open database instead
        child = ("import sys; from pathlib import Path; from lrrec.store.access import connect; "
                 "connect(Path(sys.argv[1]), read_only=False, timeout_s=0.3)")
        result = subprocess.run([sys.executable, "-c", child, str(healthy)], capture_output=True, text=True,
                                timeout=60, check=False)
    finally:
        holder.close()
    assert "stayed open in another program for 0.3 s" in result.stderr.strip().splitlines()[-1]
    connect(healthy, read_only=False, timeout_s=0.3).close()  # free again


def test_a_failed_bulk_write_leaves_the_store_as_it_was_and_frees_its_space(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    before = path.read_bytes()
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({**ROW, "seed": i, "notes": str(i) * 80}) + "\n" for i in range(30000)))
    line = one_error_line(lrrec("ingest", str(rows), "--store", str(path), file_limit=len(before) + 2**20))
    assert "cannot write store" in line and "the store is unchanged" in line and "rollback" not in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl", "s.duckdb", "s.duckdb.gate", "s.duckdb.lock"]
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps(ROW) + "\n")
    assert lrrec("ingest", str(small), "--store", str(path)).returncode == 0  # writable again


def test_a_store_that_cannot_be_created_whole_leaves_no_file(tmp_path):
    path = tmp_path / "new.duckdb"
    one_error_line(lrrec("store", "init", "--store", str(path), file_limit=3 * 2**20))
    assert not path.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["new.duckdb.gate", "new.duckdb.lock"]


def test_file_names_are_names_not_globs(healthy, tmp_path):
    for name, count in (("runs[1].jsonl", 2), ("runs1.jsonl", 1)):
        (tmp_path / name).write_text("".join(json.dumps({**ROW, "seed": i}) + "\n" for i in range(count)))
    out = tmp_path / "runs[1].parquet"
    path = tmp_path / "s.duckdb"
    assert run("ingest", str(tmp_path / "runs1.jsonl"), "--store", str(path)).exit_code == 0
    assert run("store", "export", str(tmp_path / "runs1.parquet"), "--store", str(path)).exit_code == 0
    assert run("ingest", str(tmp_path / "runs[1].jsonl"), "--store", str(path)).exit_code == 0
    assert run("store", "export", str(out), "--store", str(path)).exit_code == 0
    report = json.loads(run("ingest", str(out), "--store", str(tmp_path / "t.duckdb"), "--json").output)
    assert report["files"][0]["rows"] == open_store(path).info().runs  # the bracketed file, not runs1.parquet


def test_an_sqlite_file_is_never_written(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    before = other.read_bytes()
    assert "not an Optuna storage" in one_error_line(run("ingest", str(other), "--store", str(tmp_path / "s.duckdb")))
    assert "not an lrrec store (it is an SQLite database)" in one_error_line(run("store", "info", "--store", str(other)))
    assert other.read_bytes() == before


def test_a_pipe_is_refused_without_reading_it(tmp_path):
    pipe = tmp_path / "p.jsonl"
    os.mkfifo(pipe)
    result = lrrec("ingest", str(pipe), "--store", str(tmp_path / "s.duckdb"))  # would block on open
    assert "a pipe" in one_error_line(result)


BAD_ROWS = {
    "status": ({**ROW, "status": ""}, "unknown status ''"),
    "data_hash": ({**ROW, "task": {"name": "t/m", "data_hash": 5}}, "data_hash must be text"),
    "n_train": ({**ROW, "task": {"name": "t/m", "n_train": 2**70}}, "n_train must be at most"),
    "accuracy": ({**ROW, "metric_name": "val_accuracy", "final_metric": 1.7}, "is not a fraction"),
    "best": ({**ROW, "metric_name": "val_accuracy", "final_metric": 0.6, "best_metric": 0.5}, "is worse than"),
    "created_at": ({**ROW, "created_at": "0001-01-01T00:00:00+05:00"}, "out of range in UTC"),
    "surrogate": ({**ROW, "notes": "\ud800"}, "not valid Unicode"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_invalid_values_are_refused_with_the_field(tmp_path, case):
    row, reason = BAD_ROWS[case]
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(row) + "\n")
    result = run("ingest", str(rows), "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 1 and "rows.jsonl:1: " in result.output and reason in result.output


def test_csv_numbers_are_plain_numbers(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("task,schedule,lr,metric_name,final_metric\nt/m,cosine,1_0,val_loss,0.5\n")
    result = run("ingest", str(rows), "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 1 and "rows.csv:2: lr must be a number, got '1_0'" in result.output


def test_skip_invalid_adds_the_good_rows_past_rows_that_once_crashed(tmp_path):
    rows = tmp_path / "rows.jsonl"
    good = [json.dumps({**ROW, "seed": i}) for i in range(3)]
    crashing = ['{"task": "t/m", "schedule": "cosine", "lr": 1' + "0" * 400 + ', "metric_name": "l", '
                '"direction": "min", "final_metric": 0.5}', "[" * 10000 + "]" * 10000,
                json.dumps({**ROW, "schedule": {"name": "sgdr", "lr": 0.1, "params": {"t_mult": 2}}})
                .replace('"t_mult": 2', '"t_mult": 1e999')]
    rows.write_text("\n".join(good + crashing) + "\n")
    report = json.loads(run("ingest", str(rows), "--skip-invalid", "--json", "--store",
                            str(tmp_path / "s.duckdb")).output)
    assert report["added"] == 3 and len(report["skipped"]) == 3


def test_a_bulk_write_keeps_the_store_files_permissions(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    path.chmod(0o660)  # shared with a group
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROW) + "\n")
    assert run("ingest", str(rows), "--store", str(path)).exit_code == 0
    assert path.stat().st_mode & 0o777 == 0o660 and len(open_store(path).runs(source="jsonl")) == 1


def test_a_symlinked_store_stays_one_store(healthy, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "s.duckdb").write_bytes(healthy.read_bytes())
    link = tmp_path / "s.duckdb"
    link.symlink_to(real / "s.duckdb")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROW) + "\n")
    assert run("ingest", str(rows), "--store", str(link)).exit_code == 0  # a bulk write: copy and swap
    assert link.is_symlink() and len(open_store(real / "s.duckdb").runs(source="jsonl")) == 1


def test_a_read_only_store_is_not_replaced_by_a_bulk_write(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    path.chmod(0o444)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROW) + "\n")
    assert "is read-only; make it writable" in one_error_line(run("ingest", str(rows), "--store", str(path)))
    assert path.read_bytes() == healthy.read_bytes()


def test_a_bulk_write_waits_for_another_program_and_keeps_its_commits(healthy, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(healthy.read_bytes())
    child = (  # a duckdb shell, say, with the store open and a commit made
             "import sys, duckdb; con = duckdb.connect(sys.argv[1]); con.execute('CREATE TABLE mine (x INT)'); "
             "print('open', flush=True); sys.stdin.readline(); con.close()")
    proc = subprocess.Popen([sys.executable, "-c", child, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "open"  # the event: it holds the file, with a commit
    from lrrec.store.store import Store

    with pytest.raises(Exception, match="stayed open in another program"):
        with Store(path, lock_timeout_s=0.3).bulk_transaction():
            pass
    proc.communicate("\n", timeout=60)
    with Store(path).bulk_transaction() as con:  # free now: its commit is in the copy
        assert con.execute("SELECT count(*) FROM mine").fetchone() == (0,)
