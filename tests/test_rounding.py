"""`round_lr`: the one place an LR is rounded to the three significant figures lrrec suggests."""

import pytest

from lrrec.schedules.rounding import round_lr


@pytest.mark.parametrize("lr, rounded", [(0.012345, 0.0123), (0.1, 0.1), (1.0 / 3, 0.333), (2.5e-4, 2.5e-4),
                                         (0.099949, 0.0999), (0.099951, 0.1), (123456.0, 123000.0)])
def test_round_lr_keeps_three_significant_figures(lr, rounded):
    assert round_lr(lr) == rounded
    assert round_lr(round_lr(lr)) == round_lr(lr)
