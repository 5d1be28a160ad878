"""`lrrec bench survey`: the surface study, the random-search-then-seeds protocol, the report and its errors,
all on real (tiny) runs."""

from __future__ import annotations

import json
import statistics

import pytest
from click.testing import CliRunner

from lrrec.cli.survey import bench
from lrrec.schedules import FAMILY_DEFAULTS
from lrrec.store import open_store
from lrrec.survey.report import write_survey
from lrrec.survey.survey import (
    LR_RANGES,
    TARGET_FRACTION,
    SurveyResult,
    protocol,
    surface_study,
)

TINY = ["--tasks", "wine/mlp", "--trials", "2", "--seeds", "2", "--epochs", "2"]


def test_surface_study_runs_every_family_from_each_start():
    results = surface_study(["saddle", "cliff"])
    assert [r.case.key for r in results] == ["saddle-y0", "saddle-y0.1", "saddle-y0.01", "saddle-y0.001", "cliff"]
    for result in results:
        assert [run.schedule for run in result.runs] == list(FAMILY_DEFAULTS.values())
        for run in result.runs:
            assert run.trajectory[0] == pytest.approx(result.case.start)
            assert len(run.lrs) == result.case.steps and run.lrs[0] == pytest.approx(
                0.0 if run.schedule == "warmup_cosine" else result.case.lr)
            assert run.final_loss == run.losses[-1]
            hit = run.steps_to_threshold
            assert hit is None or (run.losses[hit] <= result.threshold < min(run.losses[:hit], default=float("inf")))
    exact, nudged = results[0], results[1]
    assert all(run.steps_to_threshold is None for run in exact.runs)  # y = 0 stays on the saddle's ridge line
    constant = nudged.runs[0]
    assert constant.steps_to_threshold is not None  # a 0.1 nudge lets the constant LR escape


def test_protocol_searches_reruns_and_records_every_run(tmp_path):
    path = tmp_path / "store.duckdb"
    result = protocol(open_store(path), "wine/mlp", trials=2, seeds=2, epochs=2)
    low, high = LR_RANGES["classification"]
    rows = {row["run_id"]: row for row in open_store(path).runs(source="lrrec")}
    assert len(rows) == 5 * (2 + 1)  # two trials per family, plus seed 1 of the best (seed 0 is reused)
    assert [f.schedule for f in result.families] == list(FAMILY_DEFAULTS.values())
    for fam in result.families:
        assert len(fam.search) == 2 and all(low <= t.lr <= high and t.seed == 0 for t in fam.search)
        best = max(fam.search, key=lambda t: t.final_metric)
        assert fam.best_lr == best.lr and fam.seeds[0] is best
        assert [r.seed for r in fam.seeds] == [0, 1] and fam.seeds[1].lr == best.lr
        recorded = [rows[r.run_id] for r in fam.seeds]
        assert all(row["task"] == "wine/mlp" and row["schedule"] == fam.schedule and row["epochs"] == 2
                   for row in recorded)
        finals = [row["final_metric"] for row in recorded]
        assert fam.final.mean == pytest.approx(statistics.fmean(finals))
        assert fam.final.std == pytest.approx(statistics.stdev(finals))
        assert fam.best.mean == pytest.approx(statistics.fmean(row["best_metric"] for row in recorded))
    assert result.target == pytest.approx(TARGET_FRACTION * max(f.final.mean for f in result.families))
    for fam in result.families:
        for run in fam.seeds:
            reached = [epoch for epoch, value in run.curve if value >= result.target]
            assert run.epochs_to_target == (reached[0] if reached else None)


def test_cli_writes_the_report_folder(tmp_path):
    out = tmp_path / "report"
    args = ["survey", "--surfaces", "cliff", *TINY, "--store", str(tmp_path / "s.duckdb"), "--out", str(out)]
    result = CliRunner().invoke(bench, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert sorted(p.name for p in out.iterdir()) == ["protocol-wine-mlp.png", "report.md", "surface-cliff.png"]
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in ("protocol-wine-mlp.png", "surface-cliff.png"))
    report = (out / "report.md").read_text()
    protocol_table = report.split("### wine/mlp")[1]
    rows = [line for line in protocol_table.splitlines() if line.startswith("| ") and "best LR" not in line]
    assert [row.split(" | ")[1] for row in rows] == list(FAMILY_DEFAULTS.values())
    assert "lrrec bench survey --tasks wine/mlp --trials 2 --seeds 2 --epochs 2 --surfaces cliff" in report
    assert [p["task"] for p in data["protocols"]] == ["wine/mlp"] and data["surfaces"][0]["case"] == "cliff"
    write_survey(SurveyResult([], [], {}), out, "lrrec bench survey --again")  # an older report is replaced
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    assert "--again" in (out / "report.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


@pytest.mark.parametrize("extra, message", [
    (["--tasks", "nope/mlp"], "Error: unknown task 'nope/mlp'."),
    (["--trials", "0"], "Error: --trials must be at least 1, got 0"),
    (["--seeds", "0"], "Error: --seeds must be at least 1, got 0"),
    (["--surfaces", "bowl"], "Error: unknown surface 'bowl'."),
    (["--tasks", "cifar10/wrn-16-4"], "Error: task cifar10/wrn-16-4 needs --data-root DIR"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, extra, message):
    out = tmp_path / "report"
    result = CliRunner().invoke(bench, ["survey", *TINY, "--surfaces", "cliff", *extra,
                                        "--store", str(tmp_path / "s.duckdb"), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.startswith(message) and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_out_folder_that_is_not_a_report_is_refused_before_running(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(bench, ["survey", *TINY, "--out", str(tmp_path), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 1
    assert "exists and is not a survey report folder; choose another --out" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
