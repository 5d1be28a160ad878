"""The experience store: a DuckDB file of tasks, schedule configs, runs and curves, and ingest into it.

    >>> from lrrec.store import open_store
    >>> store = open_store()                      # --store PATH > $LRREC_STORE > the user data folder
    >>> with store.start_run("cifar10/resnet18", "cosine", epochs=30) as run:
    ...     run.log_metrics({"train_loss": 1.2, "val_accuracy": 0.61, "lr": 0.1}, step=391, epoch=1)

Importing this package loads DuckDB; `lrrec.cli` imports it only inside the commands that need it.
"""

from lrrec.store.ingest import FORMATS, IngestReport, detect_format, ingest
from lrrec.store.interchange import FIELDS, RowParser, RunRecord
from lrrec.store.run import Run
from lrrec.store.schema import SCHEMA_VERSION
from lrrec.store.store import EXPORT_FORMATS, Store, StoreInfo, default_store_path, open_store

__all__ = ["EXPORT_FORMATS", "FIELDS", "FORMATS", "SCHEMA_VERSION", "IngestReport", "RowParser", "Run", "RunRecord",
           "Store", "StoreInfo", "default_store_path", "detect_format", "ingest", "open_store"]
