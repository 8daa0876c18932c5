"""Opening the monitor's database: URLs, pragmas, clear errors, transactions, leases."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from assay.errors import AssayError
from assay.monitor.store import Database, StoreError, schema
from assay.monitor.store.db import (
    DB_BAD_URL,
    DB_NEWER,
    DB_SQLITE_NOT_A_DATABASE,
    DB_SQLITE_UNWRITABLE,
    DB_UNREACHABLE,
    mask_url,
    normalise_url,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def assert_no_chained_traceback(exc: BaseException) -> None:
    """The driver's exception is not attached: printing the error shows one message."""
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


# -- URLs ------------------------------------------------------------------------------------


def test_a_path_opens_sqlite_with_an_absolute_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Database.open("data/monitor.db") as db:
        assert db.dialect == "sqlite"
        assert db.url == f"sqlite:///{tmp_path}/data/monitor.db"
        assert (tmp_path / "data" / "monitor.db").is_file()
    with Database.open(tmp_path / "other.db") as db:
        assert db.url == f"sqlite:///{tmp_path}/other.db"
    with Database.open("sqlite:///relative.db") as db:
        assert db.url == f"sqlite:///{tmp_path}/relative.db"


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("postgresql://u:pw@db.example:5433/mon", "postgresql+psycopg://u:pw@db.example:5433/mon"),
        ("postgres://u@db.example/mon", "postgresql+psycopg://u@db.example/mon"),
        (
            "postgresql+psycopg://u@h/m?sslmode=require",
            "postgresql+psycopg://u@h/m?sslmode=require",
        ),
    ],
)
def test_postgresql_urls_are_normalised_to_psycopg_3(given: str, normal: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == normal


def test_the_password_is_masked_for_display(postgresql_url: str) -> None:
    url = postgresql_url.replace("postgres@", "postgres:s3cret@")  # trust: any password works
    with Database.open(url) as db:
        assert "s3cret" in db.url
        assert "s3cret" not in db.display_url and "s3cret" not in repr(db)
        assert db.display_url == mask_url(url.replace("s3cret", "***"))
    assert mask_url("weird://u:pw@h/x y") == "weird://u:***@h/x y"


# -- SQLite connection settings ----------------------------------------------------------------


def test_sqlite_connections_get_wal_normal_sync_busy_timeout_and_foreign_keys(
    sqlite_url: str,
) -> None:
    with Database.open(sqlite_url) as db, db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_foreign_keys_are_enforced(db: Database) -> None:
    row = {"incident_id": 404, "ts": 1.0, "kind": "signal", "detail": "{}"}
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), db.begin() as conn:
        conn.execute(insert(schema.timeline), row)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "shown", "problem"),
    [
        (
            "mysql://u:secret@h/db",
            "mysql://u:***@h/db",
            "driver 'mysql' is not supported: Assay keeps the monitor's data in SQLite, or in "
            "PostgreSQL through psycopg 3",
        ),
        (
            "postgresql+psycopg2://u:secret@h/db",
            "postgresql+psycopg2://u:***@h/db",
            "driver 'postgresql+psycopg2' is not supported: Assay keeps the monitor's data in "
            "SQLite, or in PostgreSQL through psycopg 3",
        ),
        (
            "postgresql://u:secret@h:port/db",
            "postgresql://u:***@h:port/db",
            "its port is not a number",
        ),
        ("postgresql://u:secret@h", "postgresql://u:***@h", "the URL names no database"),
        (
            "sqlite://",
            "sqlite://",
            "an in-memory SQLite database is not shared between connections",
        ),
        ("  ", "''", "the location is empty"),
    ],
)
def test_a_bad_url_is_a_clear_error(target: str, shown: str, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        Database.open(target)
    assert str(caught.value) == DB_BAD_URL.format(url=shown, problem=problem)
    assert isinstance(caught.value, AssayError) and caught.value.exit_code == 2
    assert_no_chained_traceback(caught.value)
    assert "secret" not in str(caught.value)


def test_an_unreachable_server_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    started = time.perf_counter()
    with pytest.raises(StoreError) as caught:
        Database.open(f"postgresql://monitor:secret@127.0.0.1:{port}/monitor")
    problem = (
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
        "Connection refused"
    )
    url = f"postgresql+psycopg://monitor:***@127.0.0.1:{port}/monitor"
    assert str(caught.value) == DB_UNREACHABLE.format(url=url, problem=problem)
    assert_no_chained_traceback(caught.value)
    assert time.perf_counter() - started < 10


def test_a_missing_postgresql_database_is_a_clear_error(
    postgresql_cluster: Any,
) -> None:
    url = postgresql_cluster.url("no_such_database")
    with pytest.raises(StoreError) as caught:
        Database.open(url)
    problem = (
        f'connection failed: connection to server at "127.0.0.1", port {postgresql_cluster.port} '
        'failed: FATAL:  database "no_such_database" does not exist'
    )
    assert str(caught.value) == DB_UNREACHABLE.format(url=url, problem=problem)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a database, but long enough to have a header " * 10)
    with pytest.raises(StoreError) as caught:
        Database.open(target)
    url = f"sqlite:///{target}"
    problem = "file is not a database"
    assert str(caught.value) == DB_SQLITE_NOT_A_DATABASE.format(url=url, problem=problem)
    assert_no_chained_traceback(caught.value)


def test_a_database_migrated_by_a_newer_assay_is_refused(db_url: str) -> None:
    with Database.open(db_url) as db, db.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError) as caught:
        Database.open(db_url)
    shown = mask_url(normalise_url(db_url))
    assert str(caught.value) == DB_NEWER.format(url=shown, found="0099", head="0003")
    with Database.open(db_url, migrate=False) as db:  # still readable without migrating
        assert db.schema_version() == "0099"


# -- an SQLite path this user cannot write, as user nobody ------------------------------------

# Tests run as root, who can write anywhere. The script opens the database as user nobody:
# through runuser when nobody can start this interpreter, otherwise (this venv's interpreter
# lives under /root, which nobody cannot enter) it starts as root, opens a scratch database
# once so that everything imported lazily is loaded, and then drops to nobody.
_AS_NOBODY = """
import json, os, pwd, sys, tempfile
from assay.errors import AssayError
from assay.monitor.store import Database

target = sys.argv[1]
if os.getuid() == 0:
    with tempfile.TemporaryDirectory() as scratch:
        Database.open(os.path.join(scratch, "warm.db")).close()
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
assert os.getuid() != 0
try:
    Database.open(target).close()
except AssayError as exc:
    print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
    sys.exit(exc.exit_code)
print(json.dumps({"type": None, "message": "opened"}))
"""


def _as_nobody(target: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the unprivileged user nobody")
    pwd.getpwnam("nobody")
    launcher = [sys.executable]
    if shutil.which("runuser"):
        probe = subprocess.run(
            ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import assay"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            launcher = ["runuser", "-u", "nobody", "--", sys.executable]
    return subprocess.run(
        [*launcher, "-c", _AS_NOBODY, target],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def root_only_dir() -> Iterator[Path]:
    """A folder everyone may enter and read, but only root may write."""
    folder = Path(tempfile.mkdtemp(prefix="assay-store-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("relative", "problem"),
    [
        ("monitor.db", "unable to open database file"),
        ("sub/monitor.db", "cannot create folder {folder}/sub: Permission denied"),
    ],
    ids=["file in a read-only folder", "folder under a read-only folder"],
)
def test_an_unwritable_sqlite_path_is_a_clear_error_for_an_unprivileged_user(
    root_only_dir: Path, relative: str, problem: str
) -> None:
    target = root_only_dir / relative
    result = _as_nobody(str(target))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    url = f"sqlite:///{target}"
    expected = DB_SQLITE_UNWRITABLE.format(url=url, problem=problem.format(folder=root_only_dir))
    assert json.loads(result.stdout) == {"type": "StoreError", "message": expected}
    assert list(root_only_dir.iterdir()) == []


def test_a_read_only_sqlite_file_is_a_clear_error_for_an_unprivileged_user(
    root_only_dir: Path,
) -> None:
    Database.open(root_only_dir / "monitor.db").close()
    for path in root_only_dir.iterdir():
        path.chmod(0o644)
    result = _as_nobody(str(root_only_dir / "monitor.db"))
    assert result.returncode == 2, result.stderr
    reply = json.loads(result.stdout)
    assert reply["type"] == "StoreError"
    assert reply["message"].startswith(f"sqlite:///{root_only_dir}/monitor.db: cannot open")
    assert reply["message"].endswith("or fix the folder's permissions.")


# -- opening twice, migrating concurrently ----------------------------------------------------


def test_opening_an_existing_database_again_changes_nothing(db_url: str) -> None:
    with Database.open(db_url) as db:
        assert db.schema_version() == "0003"
        with db.begin() as conn:
            conn.execute(insert(schema.flags), {"name": "x", "value": "1", "updated": 1.0})
    with Database.open(db_url) as again, again.connect() as conn:
        assert again.schema_version() == "0003"
        assert conn.execute(select(schema.flags.c.value)).scalar_one() == "1"
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v[0] for v in versions] == ["0003"]


def test_migrate_false_leaves_a_new_database_empty(db_url: str) -> None:
    with Database.open(db_url, migrate=False) as db:
        assert db.schema_version() is None
        db.migrate()
        assert db.schema_version() == "0003"


def test_replicas_starting_together_migrate_once(db_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        try:
            opened.append(Database.open(db_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [db.schema_version() for db in opened] == ["0003"] * 8
    finally:
        for db in opened:
            db.close()


# -- transactions ----------------------------------------------------------------------------


def test_begin_commits_and_rolls_back(db: Database) -> None:
    row = {"name": "route", "value": '"primary"', "updated": 1.0}
    with db.begin() as conn:
        conn.execute(insert(schema.flags), row)
    with pytest.raises(RuntimeError), db.begin() as conn:
        conn.execute(insert(schema.flags), {**row, "name": "lost"})
        raise RuntimeError
    with db.connect() as conn:
        assert conn.execute(select(schema.flags.c.name)).scalars().all() == ["route"]


def test_writers_that_read_first_queue_instead_of_failing(db_url: str) -> None:
    """Each writer reads a counter and writes it back + 1: with BEGIN IMMEDIATE on SQLite
    (and row locking on PostgreSQL) no writer fails with 'database is locked'."""
    first, second = Database.open(db_url), Database.open(db_url)
    with first.begin() as conn:
        conn.execute(insert(schema.flags), {"name": "n", "value": "0", "updated": 0.0})
    flags = schema.flags
    errors: list[BaseException] = []

    def bump(db: Database) -> None:
        try:
            for _ in range(25):
                with db.begin() as conn:
                    query = select(flags.c.value).where(flags.c.name == "n")
                    if db.dialect == "postgresql":
                        query = query.with_for_update()
                    value = int(conn.execute(query).scalar_one())
                    conn.execute(
                        flags.update().where(flags.c.name == "n").values(value=str(value + 1))
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(db,)) for db in (first, second) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with first.connect() as conn:
            assert conn.execute(select(flags.c.value)).scalar_one() == "100"
    finally:
        first.close()
        second.close()


# -- leases ----------------------------------------------------------------------------------


def test_a_lease_is_exclusive_between_two_databases_and_expires(db_url: str) -> None:
    one, two = Database.open(db_url), Database.open(db_url)
    try:
        assert one.acquire_lease("monitor", "replica-1", ttl=10, now=100.0)
        assert not two.acquire_lease("monitor", "replica-2", ttl=10, now=105.0)
        assert one.lease_holder("monitor", now=105.0) == "replica-1"
        assert one.acquire_lease("monitor", "replica-1", ttl=10, now=108.0)  # renewed to 118
        assert not two.acquire_lease("monitor", "replica-2", ttl=10, now=117.9)
        assert two.acquire_lease("monitor", "replica-2", ttl=10, now=118.0)  # expired: taken
        assert not one.acquire_lease("monitor", "replica-1", ttl=10, now=119.0)
        assert two.lease_holder("monitor", now=119.0) == "replica-2"
        assert two.lease_holder("monitor", now=128.0) is None
        # other leases are independent
        assert one.acquire_lease("retention", "replica-1", ttl=10, now=119.0)
    finally:
        one.close()
        two.close()


def test_releasing_a_lease_frees_it_only_for_its_holder(db_url: str) -> None:
    one, two = Database.open(db_url), Database.open(db_url)
    try:
        assert one.acquire_lease("monitor", "replica-1", ttl=60, now=0.0)
        two.release_lease("monitor", "replica-2")  # not the holder: nothing happens
        assert not two.acquire_lease("monitor", "replica-2", ttl=60, now=1.0)
        one.release_lease("monitor", "replica-1")
        assert one.lease_holder("monitor", now=1.0) is None
        assert two.acquire_lease("monitor", "replica-2", ttl=60, now=1.0)
    finally:
        one.close()
        two.close()


def test_only_one_of_many_racing_replicas_gets_the_lease(db_url: str) -> None:
    databases = [Database.open(db_url) for _ in range(3)]
    barrier = threading.Barrier(9)
    won: list[str] = []
    errors: list[BaseException] = []

    def race(holder: str, db: Database) -> None:
        barrier.wait()
        try:
            if db.acquire_lease("monitor", holder, ttl=30, now=1000.0):
                won.append(holder)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=race, args=(f"replica-{i}", databases[i % 3])) for i in range(9)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(won) == 1
        assert databases[0].lease_holder("monitor", now=1000.0) == won[0]
    finally:
        for db in databases:
            db.close()
