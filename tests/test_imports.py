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
