"""ruff and mypy, each with the configuration in pyproject.toml, pass: CI runs only pytest, so they run here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _passes(*args: str) -> None:
    out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}{out.stderr}"


def test_ruff_check_passes():
    _passes("ruff", "check")


def test_mypy_passes_on_lrrec(tmp_path):
    _passes("mypy", "--cache-dir", str(tmp_path))  # a fresh cache: the result cannot come from a stale one
