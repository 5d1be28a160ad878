"""The recommender on real stores: runs trained by lrrec on built-in tasks, and the shipped corpus."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from stores import drop_all_runs

from lrrec.catalog import catalog_fingerprint
from lrrec.cli import cli
from lrrec.errors import LrrecError
from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.evaluate import evaluate
from lrrec.recommender.experience import Cell, load_experience, normalise
from lrrec.recommender.ranking import estimate
from lrrec.recommender.suggest import RangeProbe, suggest, suggest_by_name, suggest_for_task, with_probed_lr
from lrrec.runners.execute import SweepPlan, sweep
from lrrec.store import ingest
from lrrec.store.store import open_store

SCHEDULES = ["constant", "step", "cosine", "sgdr", "warmup_cosine", "htd"]
LRS = [0.003, 0.03, 0.3]


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory):
    """Real runs: 6 schedules x 3 LRs on three small tasks (4 epochs, population mode), nothing else."""
    store = open_store(tmp_path_factory.mktemp("rec") / "store.duckdb")
    drop_all_runs(store)  # only this test's own runs
    sweep(store, SweepPlan(tasks=["wine/mlp", "breast_cancer/mlp", "digits/mlp"], schedules=SCHEDULES, seeds=1,
                           lr_grid=LRS, epochs=4, population=True))
    return store


def _cell(metric, direction="max", name="acc"):
    return Cell("t", "c", "cosine", "smooth", 0.1, "{}", "sgd", 128, 10, name, direction, metric, 1, 0, "x")


def test_normalise_scores_best_1_worst_0_and_diverged_0_in_either_direction():
    cells = [_cell(0.9), _cell(0.5), _cell(0.7), _cell(None)]
    normalise(cells)
    assert [c.score for c in cells] == [1.0, 0.0, pytest.approx(0.5), 0.0]
    losses = [_cell(2.0, "min", "loss"), _cell(1.0, "min", "loss")]
    normalise(losses)
    assert [c.score for c in losses] == [0.0, 1.0]
    single = [_cell(0.9)]
    normalise(single)
    assert single[0].score is None  # one outcome compares nothing


def test_suggest_ranks_from_the_most_similar_task_with_evidence(trained_store):
    experience = load_experience(trained_store)
    rec = suggest(trained_store, catalog_fingerprint("digits", "mlp"), experience=experience, top=3)
    assert rec.fallback is None and len(rec.suggestions) == 3
    assert rec.nearest_tasks[0]["task"] == "digits/mlp" and rec.nearest_tasks[0]["similarity"] > 0.9
    first = rec.suggestions[0]
    assert first.evidence[0]["task"] == "digits/mlp"
    assert first.evidence[0]["score"] >= 0.8  # near the best config of the (almost) identical task
    assert first.evidence[0]["epochs"] == 4  # the budget the evidence ran at
    assert first.config.lr == pytest.approx(first.evidence[0]["lr"])  # no batch size given: not rescaled
    scores = [s.expected_score for s in rec.suggestions]
    assert scores == sorted(scores, reverse=True)
    assert len({s.config.name for s in rec.suggestions}) == 3
    assert first.p_beats_next is not None and 0.0 <= first.p_beats_next <= 1.0


def test_lr_is_rescaled_to_the_batch_size(trained_store):
    target = catalog_fingerprint("digits", "mlp")
    plain = suggest(trained_store, target, top=1).suggestions[0]
    bigger = suggest(trained_store, target, batch_size=256, top=1).suggestions[0]
    evidence_batch = plain.evidence[0]["batch_size"]  # 64, the digits task's batch size
    assert bigger.config.lr == pytest.approx(plain.config.lr * 256 / evidence_batch, rel=0.02)  # linear rule
    assert any("rescaled from batch size 64 to 256" in note for note in bigger.adjustments)
    adam = suggest(trained_store, target, optimizer="adam", batch_size=512, top=1).suggestions[0]
    assert adam.config.lr == pytest.approx(1e-3 * 2.0, rel=0.02)  # no Adam run: default, square-root rule
    assert "no similar adam run" in adam.adjustments[0]


def test_nothing_similar_ranks_by_the_regime_prior_with_wide_intervals_and_says_so(tmp_path):
    store = open_store(tmp_path / "surfaces.duckdb")
    sweep(store, SweepPlan(tasks=["surface/saddle"], schedules=["cosine", "constant"], seeds=1, lr_grid=[0.01, 0.1],
                           epochs=50))
    target = TaskFingerprint(name="text/transformer", dataset="text", model="transformer", n_train=10**8,
                             n_classes=50000, input_numel=2048, n_params=10**9, forward_flops=1e12, depth=48,
                             has_norm=True, has_residual=True)
    rec = suggest(store, target, top=20)
    assert rec.fallback is not None and "no task in the store is similar" in rec.fallback
    assert "ranked by the prior learned over all" in rec.fallback
    shapes = [s.config.name for s in rec.suggestions]
    assert len(shapes) == len(set(shapes)) >= 5  # every shape the store knows, not one default
    assert all(s.confidence == "low" and s.score_interval[1] - s.score_interval[0] > 0.3 for s in rec.suggestions)
    scores = [s.expected_score for s in rec.suggestions]
    assert scores == sorted(scores, reverse=True)
    drop_all_runs(open_store(tmp_path / "surfaces.duckdb"))
    empty = suggest(store, target)  # nothing at all to learn from: the stated default
    assert "holds no comparable runs" in empty.fallback and empty.suggestions[0].config.name == "warmup_cosine"


def test_evaluate_reports_every_method_per_group_with_regrets_in_range(trained_store):
    report = evaluate(trained_store, literature=False)
    assert sorted({g.task for g in report.own}) == ["breast_cancer/mlp", "digits/mlp", "wine/mlp"]
    for group in report.own:
        assert {"lrrec", "global_default", "random", "expert_order", "always_cosine"} <= set(group.regret)
        assert all(0.0 <= r <= 1.0 for r in group.regret.values())
        assert 0 <= group.covered <= group.cells == group.candidates
    summary = report.to_dict()["own"]
    assert summary["median_regret"]["lrrec"] <= summary["median_regret"]["random"]
    assert 0.0 <= summary["coverage"] <= 1.0


def test_a_task_with_a_single_run_neither_breaks_evaluate_nor_counts(trained_store, tmp_path):
    rows = tmp_path / "one.jsonl"
    rows.write_text(json.dumps({"task": "foo/bar", "schedule": "cosine", "lr": 0.1, "metric_name": "val_accuracy",
                                "final_metric": 0.9, "epochs": 20}) + "\n")
    shutil.copy(trained_store.path, tmp_path / "copy.duckdb")  # leave the shared fixture as it is
    store = open_store(tmp_path / "copy.duckdb")
    before = evaluate(store, literature=False).to_dict()["own"]
    ingest(store, [str(rows)])
    after = evaluate(store, literature=False).to_dict()["own"]
    assert after["median_regret"] == before["median_regret"] and after["groups"] == before["groups"]


def test_leave_one_source_out_holds_out_every_row_of_a_paper(tmp_path, monkeypatch):
    """While a paper is held out, the model never sees any of its rows: its predictions equal those of a store
    without that paper."""
    from lrrec.recommender import evaluate as evaluation

    store = open_store(tmp_path / "fresh.duckdb")
    experience = load_experience(store)
    seen_training = []
    real = evaluation.evaluate_group

    def spy(training, defaults, task_id, origin, group, target_experience, settings):
        seen_training.append((task_id, origin, training))
        return real(training, defaults, task_id, origin, group, target_experience, settings)

    monkeypatch.setattr(evaluation, "evaluate_group", spy)
    report = evaluation.evaluate(experience=experience)
    assert len({r.origin for r in report.literature}) >= 8 and report.own
    assert len(seen_training) == len(report.own) + len(report.literature)  # the spy saw every group
    for task_id, origin, training in seen_training:
        assert task_id not in training.by_task  # the held-out task itself, own or published
        if origin != "own":  # and every other table of its paper
            assert origin not in {training.origin(t) for t in training.by_task}


def test_on_the_shipped_corpus_lrrec_beats_the_best_global_default(tmp_path):
    store = open_store(tmp_path / "fresh.duckdb")  # a new store holds the shipped corpus
    summary = evaluate(store, literature=False).to_dict()["own"]
    assert summary["groups"] >= 8
    assert summary["median_regret"]["lrrec"] < summary["median_regret"]["global_default"]


def test_cli_suggest_json_and_errors(trained_store):
    path = str(trained_store.path)
    out = CliRunner().invoke(cli, ["suggest", "--task", "wine/mlp", "--store", path, "--json", "--top", "2"])
    data = json.loads(out.output)
    assert data["task"]["name"] == "wine/mlp" and len(data["suggestions"]) == 2
    bad = CliRunner().invoke(cli, ["suggest", "--dataset", "cifar100", "--store", path])
    assert bad.exit_code == 1 and "--dataset NAME --model NAME" in bad.output
    unknown = CliRunner().invoke(cli, ["suggest", "--dataset", "cifar100", "--model", "vgg", "--store", path])
    assert unknown.exit_code == 1 and "unknown model 'vgg'" in unknown.output


def test_cli_suggest_text_shows_each_suggestion_with_its_evidence(trained_store):
    result = CliRunner().invoke(cli, ["suggest", "--task", "wine/mlp", "--store", str(trained_store.path), "--top", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("task wine/mlp: samples 142, classes 3, params 18,691, fwd FLOPs ")
    assert lines[1].startswith("nearest tasks: wine/mlp (1.00), ")
    starts = [i for i, line in enumerate(lines) if re.match(r"\d\. \w+ \(\w+\)  lr=", line)]
    assert len(starts) == 2 and starts[0] == 2
    first = lines[starts[0]:starts[1]]
    assert first[1].startswith("   expected score ") and ", 80% interval " in first[1]
    assert first[2].startswith("   confidence ") and ", P(beats #2) " in first[2]
    evidence = [line for line in first if line.startswith("   evidence: ")]
    assert evidence and all(re.fullmatch(r"   evidence: \S+ \(similarity \d\.\d\d\): val_accuracy \S+ at lr \S+, "
                                         r"4 epochs, sgd, 1 finished run\(s\), lrrec", line) for line in evidence)
    assert first[-2].startswith("   adjusted: lr ") and "at another epoch budget, weighted down" in first[-2]
    assert first[-1] == "   adjusted: budget: durations are fractions of the 20-epoch budget"
    assert "P(beats" not in lines[starts[1] + 2]  # the last suggestion has none to beat


def test_cli_suggest_text_says_when_it_falls_back(tmp_path):
    path = tmp_path / "empty.duckdb"
    drop_all_runs(open_store(path))
    result = CliRunner().invoke(cli, ["suggest", "--dataset", "wine", "--model", "mlp", "--batch-size", "32",
                                      "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "nearest tasks: ",
        "note: no task in the store is similar to wine/mlp, and it holds no comparable runs; falling back to "
        "lrrec's default, warmup_cosine with a 5% warmup",
        "1. warmup_cosine (warmup)  lr=0.025 warmup_frac=0.05 start_factor=0.0 min_lr_ratio=0.0",
        "   expected score: none (no evidence; a default to start from)",
        "   confidence none",
        "   adjusted: fallback default: warmup_cosine, lr 0.1 at batch 128 rescaled to batch 32"]


def test_suggest_by_name_opens_the_store_once_the_name_is_checked(tmp_path):
    opened = []

    def store():
        opened.append(tmp_path / "s.duckdb")
        return open_store(opened[-1])

    with pytest.raises(LrrecError, match="--probe trains the task"):
        suggest_by_name(store, "cifar10", "wrn", None, probe=True)
    assert not opened  # wrong options open no store
    with pytest.raises(LrrecError, match="unknown model 'vgg'.*nor does the store .* hold runs of cifar100/vgg"):
        suggest_by_name(store, "cifar100", "vgg", None)
    assert len(opened) == 1  # a name the catalog lacks is looked for in the store
    rec = suggest_by_name(store, "cifar100", "wrn", None, top=2, batch_size=256)
    assert len(opened) == 2 and rec.task["name"] == "cifar100/wrn-28-10" and rec.batch_size == 256
    assert len(rec.suggestions) == 2


def test_cli_evaluate_writes_a_plot(trained_store, tmp_path):
    out = tmp_path / "regret.png"
    result = CliRunner().invoke(cli, ["evaluate", "--store", str(trained_store.path), "--plot", str(out)])
    assert result.exit_code == 0 and "median" in result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    wrong = CliRunner().invoke(cli, ["evaluate", "--store", str(trained_store.path), "--plot", str(tmp_path / "r.pdf")])
    assert wrong.exit_code == 1 and "--plot must be a .png file" in wrong.output


def test_suggest_imports_no_torch(tmp_path):
    open_store(tmp_path / "s.duckdb")
    script = (
        "import sys; from click.testing import CliRunner; from lrrec.cli import cli;"
        f"r = CliRunner().invoke(cli, ['suggest', '--dataset', 'cifar100', '--model', 'wrn', '--store', {str(tmp_path / 's.duckdb')!r}]);"
        "assert r.exit_code == 0, r.output; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_probed_lr_replaces_every_suggested_lr_and_says_so(tmp_path):
    rec = suggest(open_store(tmp_path / "s.duckdb"), catalog_fingerprint("digits", "mlp"), batch_size=256, top=3)
    before = [s.config for s in rec.suggestions]
    assert any("LR rescaled from batch size 64 to 256" in n for s in rec.suggestions for n in s.adjustments)
    for s in rec.suggestions:  # a rescaled LR names the LR the evidence ran at
        ran = s.evidence[0]["lr"]
        assert s.adjustments[0].startswith(f"lr {s.config.lr:g}: ")
        assert (f"({ran:g})" in s.adjustments[0]) == (f"{ran:.3g}" != f"{s.config.lr:.3g}")
    with_probed_lr(rec, 0.01234)
    for old, new in zip(before, rec.suggestions):
        assert new.config.lr == 0.0123 and old.with_settings({"lr": 0.0123}) == new.config
        assert new.adjustments[0].startswith("lr 0.0123: steepest descent of an LR range test")
        assert f"transferred from similar tasks: {old.lr:g}" in new.adjustments[0]
        assert not [n for n in new.adjustments[1:] if n.startswith(("lr ", "LR rescaled"))]  # no rival LR note


def test_cli_suggest_probe_sets_the_lr_from_the_range_test(tmp_path):
    from lrrec.runners.probes import lr_range_test
    from lrrec.runners.tasks import get_task

    task = get_task("wine/mlp")
    measured = float(f"{lr_range_test(task, task.budget).steepest_lr:.3g}")
    open_store(tmp_path / "s.duckdb")
    result = CliRunner().invoke(cli, ["suggest", "--task", "wine/mlp", "--probe", "--json",
                                      "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    assert {s["config"]["lr"] for s in json.loads(result.output)["suggestions"]} == {measured}


def test_cli_suggest_probe_needs_a_task():
    result = CliRunner().invoke(cli, ["suggest", "--dataset", "cifar10", "--model", "wrn", "--probe"])
    assert result.exit_code == 1 and "--probe trains the task" in result.output


def test_quick_trial_runs_do_not_outvote_full_length_ones(tmp_path):
    """Two 3-epoch runs on digits/mlp (one finished, one diverged) beside the corpus's 20-epoch runs."""
    from dataclasses import replace

    from lrrec.runners.execute import run_one, task_fingerprint
    from lrrec.runners.tasks import get_task
    from lrrec.schedules import ScheduleConfig

    store, task = open_store(tmp_path / "s.duckdb"), get_task("digits/mlp")
    quick = replace(task.budget, epochs=3)
    for config in (ScheduleConfig.create("cosine", lr=0.05), ScheduleConfig.create("constant", lr=5000.0)):
        run_one(store, task, config, quick, seed=0)
    target = task_fingerprint("digits/mlp", None)
    experience = load_experience(store)
    quick_winner = ScheduleConfig.create("cosine", lr=0.05).content_hash()
    unknown = estimate(experience, target).configs[quick_winner]  # budget unknown: full weight, score 1
    at_20 = estimate(experience, target, epochs=20).configs[quick_winner]
    assert unknown.evidence[0][2].score == 1.0 and at_20.weight < 0.05 * unknown.weight
    full = suggest(store, target, epochs=20, top=3).suggestions
    assert (full[0].config.name, full[0].config.lr) != ("cosine", 0.05)
    assert all(e["weight"] <= e["similarity"] for s in full for e in s.evidence)


def test_suggest_for_a_task_weighs_evidence_at_its_own_budget(tmp_path):
    from lrrec.runners.tasks import get_task

    store, target = open_store(tmp_path / "s.duckdb"), catalog_fingerprint("digits", "mlp")
    own = get_task("digits/mlp").budget.epochs
    assert suggest_for_task(store, target, "digits/mlp").to_dict() == suggest(store, target, epochs=own).to_dict()
    assert suggest_for_task(store, target, "digits/mlp", epochs=3).epochs == 3
    assert suggest_for_task(store, target).epochs is None


def test_suggest_for_a_task_takes_a_probed_lr_and_keeps_the_lrs_it_replaced(tmp_path):
    store, target = open_store(tmp_path / "s.duckdb"), catalog_fingerprint("digits", "mlp")
    plain = suggest_for_task(store, target, top=3)
    probed = suggest_for_task(store, target, top=3, probe=lambda: 0.01234)
    assert {s.config.lr for s in probed.suggestions} == {0.0123}
    assert probed.replaced_lrs == [s.config.lr for s in plain.suggestions] and plain.replaced_lrs == []
    assert probed.to_dict().keys() == plain.to_dict().keys() and "replaced_lrs" not in plain.to_dict()


def test_an_inconclusive_probe_keeps_the_lrs_and_says_why(tmp_path):
    class Inconclusive:
        note = "the loss did not fall"

        def __call__(self) -> None:
            return None

    store, target = open_store(tmp_path / "s.duckdb"), catalog_fingerprint("digits", "mlp")
    plain = suggest_for_task(store, target, top=2)
    kept = suggest_for_task(store, target, top=2, probe=Inconclusive())
    assert [s.config for s in kept.suggestions] == [s.config for s in plain.suggestions] and kept.replaced_lrs == []
    for s in kept.suggestions:
        assert s.adjustments[0] == f"LR range test inconclusive (the loss did not fall); lr {s.config.lr:g} kept"


def test_the_range_probe_is_the_range_test_at_the_tasks_budget():
    from dataclasses import replace

    from lrrec.errors import InvalidValueError
    from lrrec.runners.probes import lr_range_test
    from lrrec.runners.tasks import get_task

    task = get_task("wine/mlp")
    probe = RangeProbe("wine/mlp", batch_size=32)
    assert probe.result is None and probe.note == ""
    assert probe() == lr_range_test(task, replace(task.budget, batch_size=32)).steepest_lr == probe.result.steepest_lr
    with pytest.raises(InvalidValueError, match="not a 2-D surface"):
        RangeProbe("surface/peaks")()


def test_the_task_line_shows_classes_only_for_a_classification_task():
    from lrrec.cli.recommend import _task_line

    task = {"name": "d/m", "n_train": 1000, "n_classes": 1, "n_params": 5000, "forward_flops": None}
    assert _task_line({**task, "task_kind": "regression"}) == "task d/m: samples 1,000, params 5,000"
    assert _task_line({**task, "task_kind": "classification", "n_classes": 10}) == \
        "task d/m: samples 1,000, classes 10, params 5,000"


def test_suggest_by_a_name_only_the_store_knows_uses_the_stored_task(tmp_path):
    path = tmp_path / "s.duckdb"
    store = open_store(path)
    task = {"name": "mydigits/mlp96", "dataset": "mydigits", "model": "mlp96", "n_train": 1437, "n_classes": 10,
            "input_numel": 64, "n_params": 7210, "depth": 2}
    rows = tmp_path / "runs.jsonl"
    rows.write_text("".join(json.dumps({"task": task, "schedule": name, "lr": 0.1, "epochs": 5, "seed": 0,
                                        "metric_name": "val_accuracy", "final_metric": acc}) + "\n"
                            for name, acc in (("cosine", 0.93), ("step", 0.9), ("constant", 0.85))))
    ingest(store, [str(rows)])
    out = CliRunner().invoke(cli, ["suggest", "--dataset", "MyDigits", "--model", "mlp96", "--store", str(path),
                                   "--json"])
    assert out.exit_code == 0, out.output
    rec = json.loads(out.output)
    assert rec["task"]["name"] == "mydigits/mlp96" and rec["task"]["n_params"] == 7210
    assert rec["nearest_tasks"][0]["task"] == "mydigits/mlp96"
    wrong = CliRunner().invoke(cli, ["suggest", "--dataset", "mydigitz", "--model", "mlp96", "--store", str(path)])
    (line,) = wrong.output.strip().splitlines()
    assert wrong.exit_code != 0 and "unknown dataset 'mydigitz'" in line and "nor does the store" in line
