"""Build the shipped experience corpus (lrrec/data/corpus/*.parquet) with `lrrec sweep`.

Every schedule's default config x an LR grid x seeds on the built-in CPU tasks, in two worker processes
(one per core, one torch thread each), each into its own store. The runs are exported in the interchange
format, ingested (validated) into one store, marked source "lrrec-corpus", and its tables written as Parquet
for new stores to copy. Run from the repository root: python scripts/build_corpus.py   (about 20 minutes)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lrrec.schedules import list_specs

CLASSIFICATION_LRS = "0.003,0.01,0.03,0.1,0.3"
SURFACE_LRS = "0.0001,0.0003,0.001,0.003,0.01,0.03,0.1"
SURFACES = "surface/rosenbrock,surface/peaks,surface/saddle,surface/monkey_saddle,surface/cliff"
# (tasks, LR grid, seeds) per sweep; each worker runs its list in order.
WORKERS = [
    [("digits/mlp,mnist1d/mlp,breast_cancer/mlp,wine/mlp", CLASSIFICATION_LRS, 2),
     ("digits/cnn", CLASSIFICATION_LRS, 1)],
    [(SURFACES, SURFACE_LRS, 1), ("mnist1d/cnn1d", "0.01,0.03,0.1", 1)],
]
OUT = Path(__file__).resolve().parents[1] / "lrrec" / "data" / "corpus"


def run_worker(index: int, sweeps: list, folder: Path) -> Path:
    store = folder / f"worker{index}.duckdb"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    schedules = ",".join(spec.name for spec in list_specs())
    for tasks, lrs, seeds in sweeps:
        cmd = [sys.executable, "-m", "lrrec.cli", "sweep", "--tasks", tasks, "--schedules", schedules,
               "--lr-grid", lrs, "--seeds", str(seeds), "--population", "--device", "cpu", "--quiet", "--store",
               str(store)]
        began = time.time()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"worker {index}: {tasks} done in {time.time() - began:.0f} s", flush=True)
    export = folder / f"worker{index}.all.jsonl"
    subprocess.run([sys.executable, "-m", "lrrec.cli", "store", "export", str(export), "--format", "jsonl",
                    "--store", str(store)], check=True, stdout=subprocess.DEVNULL)
    out = folder / f"worker{index}.jsonl"
    with open(export, encoding="utf-8") as source, open(out, "w", encoding="utf-8") as sink:
        sink.writelines(line for line in source if json.loads(line)["source"] == "lrrec")  # not the literature
    return out


def write_corpus(exports: list[Path], out: Path) -> int:
    """Ingest the workers' exports into one store (lrrec's own runs only) and write its tables as Parquet."""
    from lrrec.store import ingest, open_store
    from lrrec.store.bundled import CORPUS_TABLES

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "corpus.duckdb")
        with store.transaction() as con:  # start empty: the literature prior is loaded separately
            for table in ("curves", "runs", "schedules", "tasks"):
                con.execute(f"DELETE FROM {table}")
        ingest(store, [str(p) for p in exports], source="lrrec-corpus")
        out.mkdir(parents=True, exist_ok=True)
        with store.transaction() as con:
            con.execute("UPDATE runs SET source = 'lrrec-corpus'")
            for table in CORPUS_TABLES:
                con.execute(f"COPY (SELECT * FROM {table} ORDER BY ALL) TO '{out / table}.parquet' "
                            "(FORMAT parquet, COMPRESSION zstd)")
            return con.execute("SELECT count(*) FROM runs").fetchone()[0]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with ThreadPoolExecutor(len(WORKERS)) as pool:
            exports = list(pool.map(lambda item: run_worker(item[0], item[1], folder), enumerate(WORKERS)))
        runs = write_corpus(exports, OUT)
    size = sum(p.stat().st_size for p in OUT.iterdir()) / 1e6
    print(f"wrote {runs} runs to {OUT} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
