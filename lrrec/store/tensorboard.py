"""TensorBoard logs: each run folder (a `SummaryWriter` log dir) becomes a run; its scalars become its curve, the
hparams it logged (`SummaryWriter.add_hparams`, written to a subfolder) its settings (see `scalar_runs`; the
task defaults to the log folder's and run folder's names). Event files are protobuf records read by the
`tensorboard` package: no code runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrrec.errors import IngestError, LrrecError
from lrrec.store.scalar_runs import WHOLE_SETTINGS, Scalars, scalar_run_row


def read_tensorboard(target: Path) -> Iterator[tuple[str, Any]]:
    """Yield `(target#run, interchange row)` for every run folder under `target` (or the one event file)."""
    folders = _event_folders(target)
    if not folders:
        raise IngestError(f"{target}: no TensorBoard event files (events.out.tfevents.*) in it; nothing was ingested")
    loaded = {folder: _load(target, folder) for folder in folders}
    for folder, (scalars, hparams) in loaded.items():
        if hparams and folder.parent in loaded:
            continue  # add_hparams' subfolder: the settings of the run in its parent folder
        settings = hparams or next((h for f, (_, h) in loaded.items() if f.parent == folder and h), {})
        name = _run_name(target, folder)
        try:
            yield f"{target}#{name}", scalar_run_row(scalars, settings, _default_task(target, name))
        except LrrecError as exc:
            yield f"{target}#{name}", exc


def _event_folders(target: Path) -> list[Path]:
    """The folders holding event files (or the one file given)."""
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise IngestError(f"{target}: no such file or folder")
    return sorted({path.parent for path in target.rglob("*.tfevents.*") if path.is_file()})


def _load(target: Path, folder: Path) -> tuple[Scalars, dict[str, Any]]:
    """Every scalar series and the hparams of one folder's event files (or of one event file)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.plugins.hparams import plugin_data_pb2
    except ImportError:
        raise IngestError("reading TensorBoard logs needs the tensorboard package: pip install "
                          "'lrrec[tensorboard]'") from None
    for path in [folder] if folder.is_file() else sorted(folder.glob("*.tfevents.*")):
        if not any(True for _ in EventFileLoader(str(path)).Load()):  # a real one opens with its version record
            raise IngestError(f"{path}: not a TensorBoard event file (no readable record); nothing was ingested")
    try:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        scalars = {tag: [(int(e.step), float(e.value)) for e in events.Scalars(tag)]
                   for tag in events.Tags()["scalars"]}
        hparams: dict[str, Any] = {}
        for content in _plugin_content(events, "hparams").values():
            info = plugin_data_pb2.HParamsPluginData.FromString(content)
            if info.WhichOneof("data") == "session_start_info":
                hparams.update({k: _value(k, v) for k, v in info.session_start_info.hparams.items()})
    except Exception as exc:  # noqa: BLE001 - a foreign library reading a foreign file: report, never crash
        raise IngestError(f"{folder}: not a readable TensorBoard event file ({type(exc).__name__}: "
                          f"{str(exc).strip()[:200]}); nothing was ingested") from None
    return scalars, hparams


def _plugin_content(events: Any, plugin: str) -> dict[str, bytes]:
    """The plugin's data by tag; none when the files hold none."""
    try:
        return dict(events.PluginTagToContent(plugin))
    except KeyError:
        return {}


def _value(key: str, value: Any) -> Any:
    """An hparam's value: its number (whole numbers for counts), text or flag."""
    kind = value.WhichOneof("kind")
    raw = getattr(value, kind) if kind else None
    if isinstance(raw, float) and key in WHOLE_SETTINGS and raw.is_integer():
        return int(raw)
    return raw


def _run_name(target: Path, folder: Path) -> str:
    return folder.name if folder == target else folder.relative_to(target).as_posix()


def _default_task(target: Path, name: str) -> str:
    base = target.parent if target.is_file() else target
    return f"{base.resolve().name or 'tensorboard'}/{name.replace('/', '-')}"
