"""`import lrrec`, `lrrec --help` and the schedule commands load none of the heavy libraries."""

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
