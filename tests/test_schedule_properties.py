"""Property tests over the whole registry: every schedule, default and sampled configs, any budget."""

from __future__ import annotations

import numpy as np
import pytest
from fuzzing import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from lrrec.schedules import (
    ScheduleConfig,
    Warmup,
    list_specs,
    sample_config,
    search_space,
)
from lrrec.schedules.params import is_active

NAMES = [spec.name for spec in list_specs()]
budgets = st.integers(min_value=20, max_value=5000)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("name", NAMES)
@fuzz_settings(25, deadline=None)
@given(total=budgets, seed=seeds)
def test_sampled_configs_are_valid_finite_nonnegative_and_deterministic(name, total, seed):
    config = sample_config(name, np.random.default_rng(seed))
    assert ScheduleConfig.from_json(config.to_json()) == config
    steps = np.arange(total + 5)
    first = config.lrs(steps, total)
    assert np.all(np.isfinite(first)) and np.all(first >= 0.0)
    assert np.array_equal(first, config.lrs(steps, total))
    # evaluating one step alone equals evaluating it inside the whole curve (a pure function of t)
    probe = int(np.random.default_rng(seed).integers(0, total + 5))
    assert config.lrs([probe], total)[0] == first[probe]


@pytest.mark.parametrize("name", NAMES)
def test_default_config_is_valid_and_peaks_at_the_initial_lr(name):
    config = ScheduleConfig.create(name, lr=0.1)
    curve = config.lrs(np.arange(1000), 1000)
    assert np.all(np.isfinite(curve)) and np.all(curve >= 0)
    # linear_cosine adds beta on top of the peak; otherwise no schedule exceeds its initial LR
    assert curve.max() <= 0.1 * (1 + config.params.get("beta", 0.0)) + 1e-12
    if not name.endswith("exp"):  # tri/sin-exp decay their amplitude before the first peak
        assert curve.max() >= 0.1 * 0.999


@pytest.mark.parametrize("name", [s.name for s in list_specs() if not s.includes_warmup])
@fuzz_settings(25, deadline=None)
@given(total=budgets, frac=st.floats(0.01, 0.5), start=st.floats(0.0, 1.0), kind=st.sampled_from(["linear", "constant"]))
def test_warmup_starts_where_configured_and_reaches_the_peak(name, total, frac, start, kind):
    plain = ScheduleConfig.create(name, lr=1.0)
    warm = ScheduleConfig.create(name, lr=1.0, warmup=Warmup(kind, frac, start))
    w = warm.warmup_steps(total)
    curve = warm.lrs(np.arange(total), total)
    peak = plain.lrs([0], total - w)[0]  # the main schedule's first value over the remaining budget
    if w == 0:
        np.testing.assert_allclose(curve, plain.lrs(np.arange(total), total))
        return
    assert curve[0] == pytest.approx(start * peak)
    assert curve[w] == pytest.approx(peak)
    if kind == "linear":
        assert np.all(np.diff(curve[: w + 1]) >= -1e-12)  # the ramp never goes down
    # after the warmup the main schedule runs on its own clock over the rest of the budget
    np.testing.assert_allclose(curve[w:], plain.lrs(np.arange(total - w), total - w))


@pytest.mark.parametrize("name", [s.name for s in list_specs() if s.includes_warmup and "warmup_frac" in s.params])
@fuzz_settings(25, deadline=None)
@given(total=budgets, frac=st.floats(0.02, 0.3))
def test_builtin_warmups_reach_the_peak_at_the_end_of_the_warmup(name, total, frac):
    config = ScheduleConfig.create(name, lr=1.0, params={"warmup_frac": frac})
    w = int(np.floor(frac * total + 0.5))
    curve = config.lrs(np.arange(total), total)
    assert curve[w] == pytest.approx(1.0)
    assert np.all(curve[:w] <= 1.0 + 1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_search_space_ranges_are_valid_values(name):
    for key, param in search_space(name).items():
        if param.search is not None:
            for end in param.search:
                param.check(end, name)  # raises if the search range leaves the valid range
        if param.condition is not None:
            parent = search_space(name)[param.condition[0]]
            assert not is_active(param, {parent.name: "__other__"})


def test_noisy_linear_cosine_depends_only_on_seed_and_step():
    a = ScheduleConfig.create("linear_cosine", params={"noisy": True, "seed": 3})
    b = ScheduleConfig.create("linear_cosine", params={"noisy": True, "seed": 4})
    plain = ScheduleConfig.create("linear_cosine")
    steps = np.arange(200)
    assert not np.allclose(a.lrs(steps, 200), b.lrs(steps, 200))
    assert not np.allclose(a.lrs(steps, 200), plain.lrs(steps, 200))
    np.testing.assert_array_equal(a.lrs(steps[::-1], 200)[::-1], a.lrs(steps, 200))


def test_noise_has_the_papers_variance_schedule():
    """Bello et al.: noise ~ N(0, v / (1+t)**d); over many seeds the linear part's spread matches the std."""
    from lrrec.schedules.smooth import standard_normal_at

    draws = np.stack([standard_normal_at(np.arange(50), seed) for seed in range(4000)])
    assert abs(draws.mean()) < 0.01
    assert draws.std() == pytest.approx(1.0, abs=0.01)
