"""ScheduleConfig: validation with clear messages, exact JSON round trips, content hashes, flat settings."""

from __future__ import annotations

import json

import pytest

from lrrec.errors import InvalidValueError, UnknownNameError
from lrrec.schedules import ScheduleConfig, Warmup, get_spec, list_specs, with_shared_settings


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_json_round_trip_is_exact(name):
    config = ScheduleConfig.create(name, lr=0.0123456789)
    text = config.to_json()
    again = ScheduleConfig.from_json(text)
    assert again == config and again.to_json() == text
    assert again.content_hash() == config.content_hash()


def test_defaults_are_filled_so_equal_configs_hash_equal():
    explicit = ScheduleConfig.create("step", lr=0.1, params={"gamma": 0.1, "step_frac": 0.3})
    implicit = ScheduleConfig.create("step", lr=0.1)
    assert explicit.content_hash() == implicit.content_hash()
    assert ScheduleConfig.create("step", lr=0.1, params={"gamma": 0.2}).content_hash() != implicit.content_hash()


def test_warmup_is_part_of_the_config_and_its_hash():
    warm = ScheduleConfig.create("cosine", warmup=Warmup("linear", 0.1))
    assert warm.content_hash() != ScheduleConfig.create("cosine").content_hash()
    assert json.loads(warm.to_json())["warmup"] == {"kind": "linear", "frac": 0.1, "start_factor": 0.0}


def test_aliases_resolve_to_the_canonical_name():
    assert get_spec("CosineAnnealingWarmRestarts").name == "sgdr"
    assert get_spec("1cycle").name == "one_cycle"
    assert ScheduleConfig.create("reduce-on-plateau").name == "plateau"


@pytest.mark.parametrize("call, message", [
    (lambda: ScheduleConfig.create("cosin"), "unknown schedule 'cosin'. Did you mean cosine"),
    (lambda: ScheduleConfig.create("step", params={"gama": 0.1}), "Did you mean gamma"),
    (lambda: ScheduleConfig.create("step", params={"gamma": 1.5}), "gamma=1.5 is outside (0, 1]"),
    (lambda: ScheduleConfig.create("step", params={"gamma": float("nan")}), "gamma must be finite"),
    (lambda: ScheduleConfig.create("step", params={"gamma": "big"}), "gamma must be a number"),
    (lambda: ScheduleConfig.create("sgdr", params={"t_mult": 1.5}), "t_mult must be an integer"),
    (lambda: ScheduleConfig.create("multistep", params={"milestones": [0.8, 0.2]}), "increasing order"),
    (lambda: ScheduleConfig.create("cosine", lr=-1), "lr=-1.0 is outside"),
    (lambda: ScheduleConfig.create("wsd", params={"warmup_frac": 0.5, "decay_frac": 0.6}), "must not exceed 1"),
    (lambda: ScheduleConfig.create("wsd", warmup=Warmup("linear", 0.1)), "includes its own warmup"),
    (lambda: ScheduleConfig.create("one_cycle", params={"anneal": "cubic"}), "anneal must be one of cos, linear"),
    (lambda: ScheduleConfig.from_json("{not json"), "not valid JSON"),
    (lambda: ScheduleConfig.from_dict({"name": "cosine", "family": "cyclical"}), "is in family smooth"),
    (lambda: ScheduleConfig.create("cosine").lrs([0], 0), "total_steps must be at least 1"),
    (lambda: ScheduleConfig.create("cosine", warmup=Warmup("linear", 0.5)).lrs([0], 1), "shorten the warmup"),
])
def test_bad_input_raises_one_line_errors_naming_the_fix(call, message):
    with pytest.raises((InvalidValueError, UnknownNameError)) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_flat_settings_round_trip_through_from_flat():
    config = ScheduleConfig.create("sgdr", lr=0.05, params={"t_mult": 1}, warmup=Warmup("constant", 0.02, 0.1))
    assert ScheduleConfig.from_flat("sgdr", config.flat()) == config
    changed = config.with_settings({"restart_decay": 0.5, "warmup": "none"})
    assert changed.params["restart_decay"] == 0.5 and changed.warmup is None and changed.lr == 0.05


def test_epoch_clock_steps_the_schedule_once_per_epoch():
    import numpy as np

    from lrrec.schedules.units import epoch_clock

    config = ScheduleConfig.create("step", params={"step_frac": 0.5, "gamma": 0.1})
    per_step = config.lrs(epoch_clock(np.arange(40), steps_per_epoch=10), total_steps=4)
    assert per_step.tolist() == [0.1] * 20 + [pytest.approx(0.01)] * 20


def test_shared_settings_go_to_the_schedules_that_take_them():
    cosine, step = with_shared_settings(["cosine", "step"], {"lr": 0.05, "gamma": 0.5})
    assert cosine == ScheduleConfig.create("cosine", lr=0.05)
    assert step == ScheduleConfig.create("step", lr=0.05, params={"gamma": 0.5})


def test_a_shared_warmup_length_shapes_only_a_warmup_that_exists():
    plain, warmed = with_shared_settings(["cosine", "warmup_cosine"], {"warmup_frac": 0.2})
    assert plain == ScheduleConfig.create("cosine") and warmed.params["warmup_frac"] == 0.2
    (linear,) = with_shared_settings(["cosine"], {"warmup": "linear", "warmup_frac": 0.2})
    assert linear.warmup == Warmup("linear", 0.2)


@pytest.mark.parametrize("names, settings, unused", [
    (["cosine", "sgdr"], {"gamma": 0.5, "lr": 0.1}, "gamma"),
    (["cosine"], {"warmup_frac": 0.2, "warmup_start_factor": 0.1}, "warmup_frac, warmup_start_factor"),
])
def test_a_shared_setting_no_schedule_takes_is_an_error(names, settings, unused):
    with pytest.raises(InvalidValueError, match=rf"no schedule among {', '.join(names)} has parameter\(s\) {unused};"):
        with_shared_settings(names, settings)
