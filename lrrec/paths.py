"""Output locations: checked before any work starts, so a bad path is one line, not a lost run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lrrec.errors import LrrecError


def writable_folder(folder: str | Path, option: str) -> Path:
    """Create `folder` if needed and check that a file can be written in it."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise LrrecError(f"{option} {path}: cannot write there ({exc.strerror or exc}); "
                         f"choose another folder") from None
    return path
