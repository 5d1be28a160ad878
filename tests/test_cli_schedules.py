"""`lrrec schedules list|show|plot`: output, --json, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json

import click
import numpy as np
import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.schedules import ScheduleConfig, list_specs


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_json_names_every_schedule_once_with_its_family():
    rows = json.loads(invoke("schedules", "list", "--json").output)
    assert sorted(r["name"] for r in rows) == sorted(s.name for s in list_specs())
    assert {r["family"] for r in rows} == {"constant", "piecewise", "smooth", "cyclical", "warmup"}


def test_list_filters_by_family():
    rows = json.loads(invoke("schedules", "list", "--family", "cyclical", "--json").output)
    assert rows and all(r["family"] == "cyclical" for r in rows)
    assert "sgdr" in {r["name"] for r in rows}


def test_show_json_has_the_lr_at_every_step_and_applies_settings():
    result = invoke("schedules", "show", "multistep", "--set", "milestones=[0.5]", "--set", "lr=0.2",
                    "--steps", "10", "--json")
    data = json.loads(result.output)
    assert data["name"] == "multistep" and data["family"] == "piecewise"
    assert data["params"]["milestones"] == [0.5]
    expected = ScheduleConfig.create("multistep", lr=0.2, params={"milestones": [0.5]}).lrs(range(10), 10)
    np.testing.assert_allclose(data["lrs"], expected)
    assert len(data["lrs"]) == 10 and data["lrs"][4] == 0.2 and data["lrs"][5] == pytest.approx(0.02)
    assert data["lr"] == 0.2  # the initial LR, as everywhere else
    assert data["search_space"]["gamma"]["search"]["log"] is True


def test_show_text_lists_parameters_and_search_space():
    out = invoke("schedules", "show", "sgdr", "--set", "warmup=linear", "--steps", "16").output
    assert "t_mult = 2" in out and "search space:" in out and "warmup = linear" in out


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "curves.png"
    result = invoke("schedules", "plot", "cosine", "sgdr", "wsd", "--set", "min_lr_ratio=0.05", "--out", str(out))
    assert result.exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mixed = invoke("schedules", "plot", "cosine", "warmup_cosine", "--set", "warmup_frac=0.2", "--out", str(out))
    assert mixed.exit_code == 0, mixed.output  # the warmup length applies to the schedule that has a warmup
    (tmp_path / "plain").write_text("")  # a file made the usual way: the figure gets the same permissions
    assert out.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


@pytest.mark.parametrize("args, message", [
    (["schedules", "show", "cosin"], "Error: unknown schedule 'cosin'. Did you mean cosine"),
    (["schedules", "show", "step", "--set", "gama=0.5"], "Did you mean gamma"),
    (["schedules", "show", "step", "--set", "gamma=2"], "gamma=2.0 is outside (0, 1]"),
    (["schedules", "show", "step", "--set", "gamma"], "--set expects key=value"),
    (["schedules", "list", "--family", "smoth"], "unknown family 'smoth'. Did you mean smooth"),
    (["schedules", "plot", "cosine", "--set", "gamma=0.5", "--out", "x.png"], "no schedule among cosine has"),
    (["schedules", "plot", "cosine", "--out", "/no/such/dir/x.png"], "does not exist"),
    (["schedules", "plot", "cosine", "--out", "x.jpg"], "must be a .png file"),
])
def test_errors_are_one_line_with_exit_1_and_no_traceback(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + name + " ")


def test_every_command_has_help_and_every_data_command_has_json():
    for name, command in _commands(cli):
        assert command.help, f"`lrrec {name}` has no help text"
        if not isinstance(command, click.Group) and name.split()[-1] in ("list", "show", "info"):
            assert any(p.name == "as_json" for p in command.params), f"`lrrec {name}` lacks --json"
