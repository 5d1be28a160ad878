"""How lrrec touches a store file: one OS lock for every connection, damage and full disks as one-line errors.

The write discipline (README, "Concurrent use and safety"): every transaction holds an `fcntl.flock` on
`<store>.lock` from connect to close, exclusive to write and shared to read (through a read-only connection).
DuckDB 2.0.1 loses committed transactions when processes take turns opening one file for writing
(duckdb/duckdb#24739; `benchmarks/bench_store_stress.py` measures it); under the lock no process opens the file
while another writes it. flock is reliable on local disks, not on network file systems.

Bulk writes (`copy_first`) go to a copy of the store that replaces it only once committed and closed, so a
failed ingest leaves the store as it was and frees the space it took.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from lrrec.errors import StoreError

T = TypeVar("T")

LOCK_TIMEOUT_S = 600.0
MIN_FREE_BYTES = 16 * 2**20  # refused below this, before DuckDB can fail halfway through a write
_CONFIG: dict[str, str | bool | int | float | list[str]] = {  # never the network
    "autoinstall_known_extensions": False, "autoload_known_extensions": False}
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_LOCK_CONFLICT = "Could not set lock on file"  # DuckDB's own lock: another program has the file open
_DAMAGE = ("Corrupt database file", "Could not read enough bytes", "not a valid DuckDB database file",
           "Failed to create checkpoint", "database has been invalidated")
_NO_SPACE = ("No space left on device", "File too large", "Disk quota exceeded")
_SWAP_PREFIX = ".{name}.swap-"
_held = threading.local()


class StoreDamagedError(StoreError):
    """The store file cannot be read back: corrupted or truncated. `reason` is DuckDB's word for it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sibling(path: Path, suffix: str) -> Path:
    """A file beside the store named after it: `.lock` (the flock), `.gate` (writers queue), `.wal` (DuckDB's log)."""
    return path.with_name(path.name + suffix)


def check_store_file(path: Path) -> None:
    """Refuse a path that exists but is not a DuckDB database (an SQLite file, a FIFO, a folder, text)."""
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise StoreError(f"{path} is not a regular file; pass the path of a store file to --store")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head[8:12] != _DUCKDB_MAGIC:
        kind = "it is an SQLite database" if head.startswith(b"SQLite format 3") else "not a DuckDB database"
        raise StoreError(f"{path} is not an lrrec store ({kind}); pass another --store PATH, or a new file name "
                         f"to start a store")


@contextmanager
def file_lock(path: Path, exclusive: bool, timeout_s: float) -> Iterator[None]:
    """Hold the store's flock (exclusive or shared) until the block ends; polls until `timeout_s`."""
    if getattr(_held, "depth", 0):
        raise RuntimeError("a store transaction was opened inside another one in the same thread")
    deadline = time.monotonic() + timeout_s
    fd = _open_lock(sibling(path, ".lock"))
    try:
        gate = _open_lock(sibling(path, ".gate"))
        try:  # a writer holds the gate while it waits, so readers arriving later queue behind it
            _acquire(gate, path, fcntl.LOCK_EX, deadline)
            if not exclusive:
                os.close(gate)
                gate = -1
            _acquire(fd, path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, deadline)
        finally:
            if gate >= 0:
                os.close(gate)
        _held.depth = 1
        yield
    finally:
        _held.depth = 0
        os.close(fd)  # closing the descriptor releases the lock


def _open_lock(lock: Path) -> int:
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        if lock.is_file():  # a store in a read-only folder can still be read
            return os.open(lock, os.O_RDONLY)
        raise StoreError(f"cannot create {lock} (permission denied); pass a --store PATH in a folder you can "
                         f"write") from None
    except OSError as exc:
        raise StoreError(f"cannot create the folder of store {lock.parent} ({exc.strerror}); pass another "
                         f"--store PATH") from None


def _poll(attempt: Callable[[], T | None], deadline: float, timed_out: str, max_delay: float) -> T:
    """Call `attempt` until it returns a value (None means busy), backing off with jitter up to `max_delay`;
    a `StoreError(timed_out)` past `deadline`."""
    delay = 0.002
    while (got := attempt()) is None:
        if time.monotonic() > deadline:
            raise StoreError(timed_out)
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 1.5, max_delay)
    return got


def _acquire(fd: int, path: Path, mode: int, deadline: float) -> None:
    def attempt() -> bool | None:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        return True

    _poll(attempt, deadline, f"store {path} stayed locked by another lrrec process; retry when it finishes", 0.05)


def duckdb_connection(database: str = ":memory:", read_only: bool = False,
                      **config: str) -> duckdb.DuckDBPyConnection:
    """Every DuckDB connection lrrec opens: never the network, and no progress bar (DuckDB prints one on standard
    output during any query over 2 s, into `lrrec ingest --json` output)."""
    con = duckdb.connect(database, read_only=read_only, config={**_CONFIG, **config})
    try:
        con.execute("SET enable_progress_bar = false")
    except BaseException:
        con.close()
        raise
    return con


def second_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to the database of `con` (a DuckDB cursor: its own transactions), without the progress
    bar either."""
    other = con.cursor()
    other.execute("SET enable_progress_bar = false")
    return other


def connect(path: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection, retrying only DuckDB's own lock conflict (another program holding the file)."""
    def attempt() -> duckdb.DuckDBPyConnection | None:
        try:
            return duckdb_connection(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if _LOCK_CONFLICT not in str(exc):
                raise store_error(path, exc) from None
            return None

    return _poll(attempt, time.monotonic() + timeout_s,
                 f"store {path} stayed open in another program for {timeout_s:g} s; close it and retry", 0.25)


def store_error(path: Path, exc: duckdb.Error, copy: bool = False) -> StoreError:
    """The one-line error for a DuckDB failure on the store at `path`."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "WAL checkpoint iteration does not match" in reason:
        log = sibling(path, ".wal").name
        return StoreDamagedError(f"store {path} has a write-ahead log left from an older file ({log}); move that "
                                 f"file aside and retry", reason[:160])
    if any(text in reason for text in _NO_SPACE):
        unchanged = "the store is unchanged; " if copy else ""
        return StoreError(f"cannot write store {path} ({reason}); {unchanged}free space on its disk and retry")
    if isinstance(exc, (duckdb.FatalException, duckdb.InternalException)) or any(t in reason for t in _DAMAGE):
        return StoreDamagedError(f"store {path} is damaged ({reason[:160]}); restore it from a backup, or move "
                                 f"it aside and lrrec starts a new one (`lrrec store check` lists what is readable)",
                                 reason[:160])
    return StoreError(f"cannot use store {path}: {reason}")


def count_of(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> int:
    """The whole number a one-row aggregate query (`SELECT count(*) ...`) returns."""
    row = con.execute(sql, list(params)).fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def require_free_space(folder: Path, needed: int) -> None:
    """Refuse a write before it starts when the store's disk has less than `needed` bytes free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise StoreError(f"only {free / 2**20:.1f} MB free on the disk of {folder}, a store write needs "
                         f"{needed / 2**20:.0f} MB; free space and retry (the store is unchanged)")


@contextmanager
def transaction_on(con: duckdb.DuckDBPyConnection, path: Path, copy: bool = False
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on `con`: committed on success, rolled back (quietly) on any exception, then closed."""
    try:
        con.execute("BEGIN TRANSACTION")
        yield con
        con.execute("COMMIT")
    except duckdb.Error as exc:
        _rollback(con)
        raise store_error(path, exc, copy) from None
    except BaseException:
        _rollback(con)
        raise
    finally:
        try:
            con.close()
        except duckdb.Error as exc:
            raise store_error(path, exc, copy) from None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # nothing to roll back: the failure ended the transaction already
        con.execute("ROLLBACK")


@contextmanager
def copied(path: Path, timeout_s: float, into: duckdb.DuckDBPyConnection | None = None
           ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A transaction on a copy of the store (or a new file) that replaces the store once it is committed.

    The caller holds the exclusive lock. On any failure the copy is deleted: the store is as it was. With `into`
    (an in-memory connection holding validated data), the copy is attached to it as the current database instead
    of opened on its own, so that data is inserted without leaving DuckDB; `into` is closed with the copy.
    """
    prefix = _SWAP_PREFIX.format(name=path.name)
    for leftover in path.parent.iterdir():  # a writer killed mid-copy (the lock says none is running)
        if leftover.name.startswith(prefix):
            leftover.unlink(missing_ok=True)
    copy = path.with_name(f"{prefix}{os.getpid()}")
    try:
        if path.exists():
            if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:  # (root passes os.access)
                raise StoreError(f"store {path} is read-only; make it writable (chmod u+w) to change it")
            _fold_log(path, timeout_s)
            require_free_space(path.parent, path.stat().st_size + MIN_FREE_BYTES)
            shutil.copyfile(path, copy)
            _keep_owner_and_mode(path, copy)
        else:
            require_free_space(path.parent, MIN_FREE_BYTES)
        con = connect(copy, read_only=False, timeout_s=timeout_s) if into is None else _attached(into, copy, path)
        with transaction_on(con, path, copy=True) as con:
            yield con
        if sibling(copy, ".wal").exists():
            raise StoreError(f"cannot write store {path} (the new copy kept a write-ahead log); the store is "
                             f"unchanged; retry")
        _fsync(copy)
        os.replace(copy, path)
    except OSError as exc:
        hint = "; free space on its disk and retry" if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) else ""
        raise StoreError(f"cannot write store {path} ({exc.strerror or exc}); the store is unchanged{hint}") from None
    finally:
        copy.unlink(missing_ok=True)
        sibling(copy, ".wal").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the swap is done; this only hastens its durability
        _fsync(path.parent)


def _attached(con: duckdb.DuckDBPyConnection, copy: Path, path: Path) -> duckdb.DuckDBPyConnection:
    """`con` with the file `copy` attached as its current database (`store`)."""
    try:
        con.execute("ATTACH ? AS store", [str(copy)])
        con.execute("USE store")
    except duckdb.Error as exc:
        con.close()
        raise store_error(path, exc, copy=True) from None
    return con


def _fold_log(path: Path, timeout_s: float) -> None:
    """Open the store once for writing (waiting while another program has it open) and checkpoint, so its
    write-ahead log is in the file before the file is copied."""
    con = connect(path, read_only=False, timeout_s=timeout_s)
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise store_error(path, exc, copy=True) from None
    finally:
        con.close()
    log = sibling(path, ".wal")
    if log.exists():  # it would be replayed onto the new file
        raise StoreError(f"cannot write store {path}: its write-ahead log {log.name} would not fold in; the store "
                         f"is unchanged (`lrrec store check` reads it)")


def _keep_owner_and_mode(original: Path, copy: Path) -> None:
    """Give the copy the original's permissions, owner and group, so a shared store stays shared."""
    shutil.copymode(original, copy)
    stat = original.stat()
    with contextlib.suppress(PermissionError):  # only root may give a file away; the group may still be set
        os.chown(copy, stat.st_uid, stat.st_gid)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the current database and schema of `con` hold table `name` (the catalog, not information_schema,
    which is slower to read)."""
    return count_of(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = "
                         "current_database() AND schema_name = current_schema()", [name]) > 0
