"""`import lrrec`, `lrrec --help` and the schedule commands load none of the heavy libraries."""

import os
import subprocess
import sys

HEAVY = ("torch", "optuna", "sklearn", "duckdb", "pandas")

SCRIPT = """
import sys
from click.testing import CliRunner
import lrrec
from lrrec.cli import cli
for args in (["--help"], ["schedules", "list"], ["schedules", "show", "cosine", "--json"]):
    assert CliRunner().invoke(cli, args).exit_code == 0, args
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_cli_start_up_imports_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(heavy=HEAVY)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


RECOMMENDER_SCRIPT = """
import importlib, pkgutil, sys
import lrrec.recommender
for module in pkgutil.walk_packages(lrrec.recommender.__path__, "lrrec.recommender."):
    importlib.import_module(module.name)
    if "torch" in sys.modules:
        print(module.name)
        break
"""


def test_every_recommender_module_imports_without_torch():
    """The recommender stays torch-free: only measuring, probing and tuning a task load the runners."""
    out = subprocess.run([sys.executable, "-c", RECOMMENDER_SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


USER_API_SCRIPT = """
import sys
import lrrec
from lrrec.fingerprint import TaskFingerprint
api = (lrrec.suggest, lrrec.track)
fp = TaskFingerprint(name="cifar100/wrn", dataset="cifar100", model="wrn", n_train=50000, n_classes=100,
                     input_numel=3072, n_params=2700000, forward_flops=4e8, depth=16, has_norm=True, has_residual=True)
assert lrrec.suggest(fp, epochs=200).best.config.lr > 0
print(",".join(m for m in ("torch", "optuna", "sklearn") if m in sys.modules))
"""


def test_the_user_api_loads_torch_only_to_measure_or_train(tmp_path):
    """`lrrec.suggest` for a fingerprint and the plain-loop hook's module need no torch."""
    out = subprocess.run([sys.executable, "-c", USER_API_SCRIPT], capture_output=True, text=True, check=True,
                         env={**os.environ, "LRREC_STORE": str(tmp_path / "store.duckdb")})
    assert out.stdout.strip() == ""


READ_COMMANDS_SCRIPT = """
import sys
from click.testing import CliRunner
from lrrec.cli import cli
store = sys.argv[1]
for args in (["suggest", "--dataset", "cifar100", "--model", "wrn", "--store", store], ["store", "info", "--store", store]):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (args, result.output)
print("numpy" in sys.modules)
from lrrec.schedules import ScheduleConfig
print(ScheduleConfig.create("cosine", lr=0.1).lrs([0, 50], 100).tolist(), "numpy" in sys.modules)
"""


def test_suggest_and_store_info_start_without_numpy(tmp_path):
    """The schedules import numpy when one is first evaluated (`lrrec.schedules.lazy_numpy`), so the commands that
    only read the store start without it; a schedule evaluated afterwards imports it and computes as before."""
    store = tmp_path / "store.duckdb"
    subprocess.run([sys.executable, "-m", "lrrec", "store", "init", "--store", str(store)], check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, "-c", READ_COMMANDS_SCRIPT, str(store)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split("\n")[:2] == ["False", "[0.1, 0.05] True"]
