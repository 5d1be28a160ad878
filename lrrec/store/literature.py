"""The bundled literature prior: published schedule outcomes with citations, loaded into every new store.

The rows live in `lrrec/data/literature.jsonl` (interchange format); each names its source in `source_ref` and
says in `notes` which settings the source left unstated and which lrrec defaults stand in for them. A row's
`created_at` is January 1 of its publication year, so every store holds identical literature rows.
"""

from __future__ import annotations

from importlib.resources import files

from lrrec.errors import IngestError, LrrecError
from lrrec.store.interchange import RowParser, RunRecord, strict_json

LITERATURE_FILE = "literature.jsonl"


def literature_records() -> list[RunRecord]:
    """Parse the bundled prior (source "literature")."""
    parser = RowParser("literature", source_override=True)
    text = files("lrrec").joinpath("data", LITERATURE_FILE).read_text(encoding="utf-8")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            records.append(parser.parse(strict_json(line), f"{LITERATURE_FILE}:{number}"))
        except LrrecError as exc:  # a packaging bug, not user input
            raise IngestError(f"bundled {LITERATURE_FILE}:{number}: {exc}") from None
    return records
