"""Databases for the monitor's tests: an SQLite file, and a throw-away PostgreSQL cluster.

``db_url`` runs a test once on each (ids ``sqlite`` and ``postgresql``); ``db`` is an opened,
migrated :class:`~assay.monitor.store.db.Database` on it, closed after the test.

The PostgreSQL cluster is Debian's ``postgresql`` (``make postgresql`` installs it; ``make
test`` does so first). It starts once per session, on demand: ``initdb`` in a temporary folder
and ``pg_ctl start`` on a free port of 127.0.0.1 with its socket in that folder, both as user
``postgres`` when the tests run as root (PostgreSQL refuses to run as root). Each test gets a
database of its own (``CREATE DATABASE``), dropped afterwards; the cluster is stopped and its
folder removed when the session ends. Without the binaries the PostgreSQL variants FAIL — a
skip would hide a broken CI set-up.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from assay.monitor.store.db import Database

BACKENDS = ["sqlite", "postgresql"]
MISSING = (
    "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. Run `make postgresql` "
    "(or `make test`, which runs it) to install Debian's postgresql package."
)


def postgresql_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder (Debian's layout), if any."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    return Path(max(found, key=version)).parent if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    """A running throw-away cluster; ``trust`` authentication for user ``postgres``."""

    bin: Path
    root: Path
    port: int
    host: str = "127.0.0.1"
    started_in: float = 0.0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(
        _as_postgres(command), cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
            pytrace=False,
        )


def start_cluster(bin_dir: Path) -> PostgresCluster:
    """initdb + pg_ctl start in a fresh temporary folder (owned by ``postgres`` under root)."""
    began = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.fail("there is no user 'postgres' to run PostgreSQL as. " + MISSING)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin=bin_dir, root=root, port=free_port())
    _run(
        [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(cluster.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",
        ],
        cwd=root,
    )
    # A throw-away cluster: no fsync, no crash safety, small footprint.
    options = (
        f"-p {cluster.port} -k {root} -c listen_addresses={cluster.host} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=100 -c shared_buffers=64MB"
    )
    command = [str(bin_dir / "pg_ctl"), "--pgdata", str(cluster.data), "--log"]
    _run([*command, str(root / "server.log"), "--options", options, "--wait", "start"], cwd=root)
    cluster.started_in = time.perf_counter() - began
    return cluster


def stop_cluster(cluster: PostgresCluster) -> None:
    subprocess.run(
        _as_postgres(
            [str(cluster.bin / "pg_ctl"), "--pgdata", str(cluster.data), "-m", "fast", "stop"]
        ),
        cwd=cluster.root,
        capture_output=True,
        check=False,
        timeout=120,
    )
    shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_cluster() -> Iterator[PostgresCluster]:
    """The session's throw-away PostgreSQL cluster (started on first use)."""
    bin_dir = postgresql_bin()
    if bin_dir is None:
        pytest.fail(MISSING, pytrace=False)
    cluster = start_cluster(bin_dir)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def postgresql_url(postgresql_cluster: PostgresCluster) -> Iterator[str]:
    """A URL to a fresh, empty database on the cluster, dropped after the test."""
    name = postgresql_cluster.create_database()
    try:
        yield postgresql_cluster.url(name)
    finally:
        postgresql_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to an SQLite file (not yet created) in the test's folder."""
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """The test's database URL: once SQLite, once PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated :class:`Database` on ``db_url``, closed after the test."""
    database = Database.open(db_url)
    try:
        yield database
    finally:
        database.close()
