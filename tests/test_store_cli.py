"""`lrrec store info|export` and `lrrec ingest`: thin wrappers, checked by reopening the store."""

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.store import open_store


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_ingest_info_export_round_trip(tmp_path, deepobs_dir):
    db, out = str(tmp_path / "s.duckdb"), str(tmp_path / "all.parquet")
    files = [str(p) for p in sorted(deepobs_dir.glob("*.json"))]
    result = run("ingest", *files, "--store", db, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 4
    info = json.loads(run("store", "info", "--store", db, "--json").output)
    assert info == open_store(db).info().to_dict() and info["by_source"]["deepobs"] == 4
    text = run("store", "info", "--store", db).output
    assert "digits/softmax" in text and "literature" in text
    assert run("store", "export", out, "--format", "parquet", "--store", db).exit_code == 0
    again = run("ingest", out, "--store", str(tmp_path / "t.duckdb"))
    assert again.exit_code == 0 and f"{info['runs'] - info['by_source']['literature'] - info['by_source']['lrrec-corpus']} runs added" in again.output


def test_env_var_names_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LRREC_STORE", str(tmp_path / "env.duckdb"))
    assert run("store", "init").output == f"created a new store at {tmp_path / 'env.duckdb'}\n"
    assert json.loads(run("store", "info", "--json").output)["path"] == str(tmp_path / "env.duckdb")


def test_a_mistyped_store_is_refused_by_reading_commands_and_announced_by_writing_ones(tmp_path):
    typo = tmp_path / "typo.duckbd"
    for args in (["store", "info"], ["store", "export", str(tmp_path / "x.csv")], ["evaluate"],
                 ["suggest", "--dataset", "cifar100", "--model", "wrn"], ["store", "rm", "--source", "x"]):
        result = run(*args, "--store", str(typo))
        assert result.exit_code == 1 and result.output.startswith(f"Error: no store at {typo}; check the path")
        assert not typo.exists()
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"task": "t/m", "schedule": "cosine", "lr": 0.1, "metric_name": "loss", "final_metric": 1}\n')
    result = run("ingest", str(rows), "--store", str(typo))
    assert result.exit_code == 0 and result.stderr.startswith(f"created a new store at {typo}")
    assert "created" not in run("ingest", str(rows), "--store", str(typo)).output  # only when it was made
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    assert run("ingest", str(bad), "--store", str(tmp_path / "new.duckdb")).exit_code == 1
    assert not (tmp_path / "new.duckdb").exists()  # a failed ingest makes no store


def test_bad_file_is_one_error_and_exit_1(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "a/b", "schedule": "cosin", "metric_name": "acc", "final_metric": 1}\n')
    result = run("ingest", str(bad), "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: 1 invalid row(s)") and f"{bad}:1: unknown schedule 'cosin'" in result.output
    skipped = run("ingest", str(bad), "--skip-invalid", "--store", str(tmp_path / "s.duckdb"))
    assert skipped.exit_code == 0 and "0 runs added" in skipped.output and "skipped" in skipped.output
    assert "--task" in run("ingest", str(bad), "--dataset", "x", "--store", str(tmp_path / "s.duckdb")).output


def test_every_new_command_has_help():
    for args in (["store", "info"], ["store", "export"], ["ingest"]):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "--store" in result.output


def test_cli_import_loads_no_heavy_library():
    code = "import sys, lrrec.cli; print(sorted(m for m in ('duckdb', 'pandas', 'torch', 'optuna') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_a_store_whose_folder_cannot_exist_is_a_one_line_error(tmp_path):
    (tmp_path / "file.png").write_bytes(b"not a folder")
    result = run("store", "init", "--store", str(tmp_path / "file.png" / "s.duckdb"))
    assert result.exit_code == 1 and "cannot create the folder of store" in result.output
    assert len(result.output.splitlines()) == 1


def test_export_takes_its_format_from_the_file_name(tmp_path):
    db = str(tmp_path / "s.duckdb")
    open_store(db)
    assert run("store", "export", str(tmp_path / "runs.csv"), "--store", db).exit_code == 0
    assert (tmp_path / "runs.csv").read_text().startswith("run_id,task,")
    for args, message in (([str(tmp_path / "runs.jsonl"), "--format", "csv"], "names jsonl but --format is csv"),
                          ([str(tmp_path / "runs.txt")], "runs.txt: end the file name in .parquet, .csv or .jsonl"),
                          ([str(tmp_path / "runs.json"), "--format", "jsonl"], "runs.json: end the file name in")):
        result = run("store", "export", *args, "--store", db)
        assert result.exit_code == 1 and message in result.output
        assert not (tmp_path / Path(args[0]).name).exists()


def test_export_of_one_source_holds_only_its_runs(tmp_path):
    db = str(tmp_path / "s.duckdb")
    store = open_store(db)  # the bundled literature results and the corpus, two sources
    literature = len(store.runs(source="literature"))
    assert 0 < literature < store.info().runs
    result = run("store", "export", str(tmp_path / "lit.parquet"), "--source", "literature", "--store", db)
    assert result.exit_code == 0 and f"exported {literature} runs" in result.output
    back = run("ingest", str(tmp_path / "lit.parquet"), "--store", str(tmp_path / "t.duckdb"), "--json")
    assert json.loads(back.output)["rows"] == literature
    result = run("store", "export", str(tmp_path / "x.csv"), "--experiment", "mine", "--store", db)
    assert result.exit_code == 1 and "goes with --format mlflow" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_no_connection_lrrec_opens_shows_duckdb_progress_bar(tmp_path):
    """DuckDB prints a progress bar on standard output during any statement over 2 s, even into a pipe (seen in the
    output of a 100,000-run ingest on a busy machine), which would break `--json` output; every connection lrrec
    opens turns it off, and they are all opened by `access.duckdb_connection` or `access.second_connection`."""
    from lrrec.store.access import connect, duckdb_connection, second_connection
    from lrrec.store.columnar import scratch_connection

    open_store(tmp_path / "s.duckdb")
    opened = [duckdb_connection(), connect(tmp_path / "s.duckdb", read_only=True, timeout_s=5),
              scratch_connection(tmp_path)]
    opened.append(second_connection(opened[1]))
    for con in opened:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    sources = (Path(__file__).parent.parent / "lrrec").rglob("*.py")
    assert {p.name for p in sources if "duckdb.connect(" in p.read_text() or ".cursor()" in p.read_text()} == \
        {"access.py"}
