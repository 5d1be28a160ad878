"""A real PostgreSQL server for the tests of distributed tuning and sweeps, started and stopped by the tests.

The binaries come from the `pgserver` package the test extra installs (`pip install -e '.[test]'`: PostgreSQL 16
inside a wheel), else from the PATH (e.g. Debian's `postgresql`). Missing binaries fail the test, never skip it.
PostgreSQL refuses to run as root: under root the server runs as `nobody` (from a copy of the binaries where
`nobody` cannot reach them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START_S = 60.0  # a server not accepting connections by then has failed to start


def binaries() -> Path:
    """The folder holding initdb and postgres."""
    try:
        import pgserver  # the wheel ships PostgreSQL under pginstall/bin
    except ImportError:
        found = shutil.which("initdb") or shutil.which("initdb", path="/usr/lib/postgresql/15/bin")
        if found is None:
            raise RuntimeError("no PostgreSQL server: pip install -e '.[test]' installs one (pgserver)") from None
        return Path(found).resolve().parent
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _copied(bin_dir: Path, into: Path) -> Path:
    """The binaries copied where `nobody` reaches them, with the libraries they find through their RPATH
    (pgserver's wheel: `$ORIGIN/../../../pgserver.libs`)."""
    package, site = bin_dir.parents[1], bin_dir.parents[2]
    shutil.copytree(bin_dir.parent, into / package.name / bin_dir.parent.name, symlinks=True)
    for libs in site.glob(f"{package.name}.libs"):
        shutil.copytree(libs, into / libs.name, symlinks=True)
    return into / package.name / bin_dir.parent.name / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A server with its data in a new temporary folder (one `nobody` can reach, when root), on a free local port;
    yields the URL of a fresh database `optuna`, and removes the folder when done."""
    user = "nobody" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="lrrec-postgres-"))
    if user:
        shutil.chown(folder, user)
    data, port, bin_dir = folder / "data", _free_port(), binaries()
    if user and not all(p.stat().st_mode & 0o001 for p in bin_dir.parents):  # e.g. a checkout under /root
        bin_dir = _copied(bin_dir, folder / "copy")
    made = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                           "--no-sync"], user=user, capture_output=True, text=True)
    if made.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {made.stderr.strip()}")
    server = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
                              user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with _connect(port, server) as admin:
            admin.execute("CREATE DATABASE optuna")
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown: clients still connected are disconnected
        server.wait(timeout=START_S)
        shutil.rmtree(folder, ignore_errors=True)


def _connect(port: int, server: subprocess.Popen) -> Any:
    """Wait for the server to accept connections (it says so by accepting one)."""
    import psycopg

    deadline = time.monotonic() + START_S
    while True:
        try:
            return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True)
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
