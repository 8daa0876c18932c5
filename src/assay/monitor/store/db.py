"""Opening the monitor's database, migrating it, leases between replicas, and retention.

One :class:`Database` per process. ``Database.open(target)`` takes a file path or
``sqlite:///`` URL (SQLite, for one host) or a ``postgresql://`` URL (PostgreSQL, for
replicas), and by default brings the schema up to date with the Alembic migrations shipped in
``assay/monitor/migrations``. Every failure to open is a :class:`StoreError` naming the URL
(password masked), the cause and the fix.

Times are floats from the service's clock, passed in by the caller: nothing here reads the
time, so a :class:`~assay.monitor.clock.ManualClock` drives leases and retention in tests.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from assay.errors import AssayError
from assay.monitor.store import schema

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = [
    "DB_BAD_URL",
    "DB_MIGRATION_FAILED",
    "DB_NEWER",
    "DB_SQLITE_NOT_A_DATABASE",
    "DB_SQLITE_UNWRITABLE",
    "DB_UNREACHABLE",
    "MIGRATIONS",
    "Database",
    "StoreError",
    "alembic_config",
    "dialect_insert",
    "mask_url",
    "normalise_url",
]

# Message templates. Tests assert these exactly; keep them stable.
DB_BAD_URL = (
    "{url}: not a database Assay can use ({problem}). Give a file path or sqlite:///PATH for "
    "SQLite, or postgresql://USER:PASSWORD@HOST:PORT/DATABASE for PostgreSQL."
)
DB_UNREACHABLE = (
    "{url}: cannot connect to the database: {problem}. Check that the server is running and "
    "reachable from here, and that the user, password and database name are right."
)
DB_SQLITE_UNWRITABLE = (
    "{url}: cannot open the SQLite database ({problem}). Choose a path in a folder this user "
    "can write, or fix the folder's permissions."
)
DB_SQLITE_NOT_A_DATABASE = (
    "{url}: the file is not an SQLite database ({problem}). Point to the monitor's database "
    "file, or to a path where a new one may be created."
)
DB_NEWER = (
    "{url}: the database is at schema revision {found}, which this Assay does not know (its "
    "newest is {head}). A newer Assay migrated it: upgrade Assay."
)
DB_MIGRATION_FAILED = (
    "{url}: migrating the database to schema revision {head} failed: {problem}. Nothing was "
    "changed; fix the cause and start again."
)

#: The Alembic scripts (``env.py``, ``versions/``), shipped inside the package.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long an SQLite writer waits for another to finish before ``database is locked``."""

PG_CONNECT_TIMEOUT_S = 10
"""How long connecting to PostgreSQL may take before the server counts as unreachable."""

MIGRATION_LOCK = 0x61737361795F6D  # pg_advisory_xact_lock key: one migrator at a time

PRUNE_CHUNK = 10_000
"""Rows deleted per transaction by :meth:`Database.prune`, so ingest is never blocked long."""

_BEGIN_OPTION = "assay_sqlite_begin"


class StoreError(AssayError):
    """The monitor's database cannot be opened, reached or migrated."""


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` (also for strings that do not parse)."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _first_line(exc: BaseException) -> str:
    """The driver's own words for a failure: its first non-empty line, without SQLAlchemy's
    wrapping (statement, parameters and the link to the error catalogue)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].rstrip(".") if lines else type(inner).__name__


def _sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path.expanduser().resolve()))


def normalise_url(target: str | Path) -> URL:
    """A path or URL → the URL the engine is made from (``sqlite`` or ``postgresql+psycopg``)."""
    if isinstance(target, Path):
        return _sqlite_url(target)
    text = str(target).strip()
    if not text:
        raise StoreError(DB_BAD_URL.format(url="''", problem="the location is empty"))
    if "://" not in text:
        return _sqlite_url(Path(text))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        problem = _first_line(exc)
        if "int() with base 10" in problem:  # SQLAlchemy reads the port with int()
            problem = "its port is not a number"
        raise StoreError(DB_BAD_URL.format(url=mask_url(text), problem=problem)) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
            problem = "an in-memory SQLite database is not shared between connections"
            raise StoreError(DB_BAD_URL.format(url=mask_url(url), problem=problem))
        return _sqlite_url(Path(url.database)).update_query_dict(dict(url.query))
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if not url.database:
            problem = "the URL names no database"
            raise StoreError(DB_BAD_URL.format(url=mask_url(url), problem=problem))
        return url.set(drivername="postgresql+psycopg")
    problem = (
        f"driver {url.drivername!r} is not supported: Assay keeps the monitor's data in SQLite, "
        "or in PostgreSQL through psycopg 3"
    )
    raise StoreError(DB_BAD_URL.format(url=mask_url(url), problem=problem))


# Ingest inserts random event ids into the unique index on events.id, so once that index has
# more pages than a group commit has events, every commit dirties about one index page per
# event, and each dirty page is written twice: to the WAL, then to the database file at the
# next checkpoint. SQLite's defaults (a 2 MiB page cache, a checkpoint every 1,000 WAL pages)
# made a 1M-event soak fall from 20.6k to 11.8k events/s; with a 64 MiB cache and a
# checkpoint every 50,000 pages (a WAL of up to ~200 MiB beside the file) it held 21-24k.
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_CHECKPOINT_PAGES = 50_000


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The sqlite3 module's own transaction handling would skip BEGIN before SELECT and DDL;
    # switch it off and emit BEGIN from the engine's "begin" event instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a new database file to the WAL journal (a setting kept in the file).

    Switching needs the file to itself, and SQLite answers ``database is locked`` at once,
    without waiting out the busy timeout, while another connection has it open: replicas
    opening a new file together retry here for up to the busy timeout.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a transaction
    # that reads and then writes never fails half-way with SQLITE_BUSY. It is the default for
    # every transaction on the engine (``engine.begin()`` included: the action runner and the
    # outbox read, then write); only :meth:`Database.connect`, for reads, asks for DEFERRED.
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The monitor's database: SQLite or PostgreSQL behind one SQLAlchemy engine.

    ``url`` is the normalised SQLAlchemy URL with its password; print :attr:`display_url`.
    """

    def __init__(self, url: URL, engine: Engine) -> None:
        self.url: str = url.render_as_string(hide_password=False)
        self.display_url: str = mask_url(url)
        self.engine: Engine = engine
        self.dialect: str = engine.dialect.name

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, target: str | Path, *, migrate: bool = True) -> Database:
        """Open (and with ``migrate``, create or upgrade) the database at ``target``.

        ``target`` is a file path or ``sqlite:///PATH`` (the parent folder is created), or
        ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``. Raises :class:`StoreError`.
        """
        url = normalise_url(target)
        shown = mask_url(url)
        if url.get_backend_name() == "sqlite":
            assert url.database is not None
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problem = f"cannot create folder {folder}: {exc.strerror or exc}"
                raise StoreError(DB_SQLITE_UNWRITABLE.format(url=shown, problem=problem)) from None
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
            try:
                engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            except NoSuchModuleError as exc:  # pragma: no cover - psycopg is a dependency
                raise StoreError(DB_BAD_URL.format(url=shown, problem=_first_line(exc))) from None
        database = cls(url, engine)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            if migrate:
                database.migrate()
        except StoreError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            problem = _first_line(exc)
            if database.dialect != "sqlite":
                template = DB_UNREACHABLE
            elif "not a database" in problem:
                template = DB_SQLITE_NOT_A_DATABASE
            else:
                template = DB_SQLITE_UNWRITABLE
            raise StoreError(template.format(url=shown, problem=problem)) from None
        return database

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); a database
        already there is left as it is. Replicas starting together take turns: on PostgreSQL
        behind an advisory lock, on SQLite behind the write lock of ``BEGIN IMMEDIATE``."""
        from alembic import command
        from alembic.script import ScriptDirectory

        config = alembic_config()
        scripts = ScriptDirectory.from_config(config)
        head = scripts.get_current_head()
        known = {script.revision for script in scripts.walk_revisions()}
        with self.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            found = _current_revision(conn)
            if found is not None and found not in known:
                raise StoreError(DB_NEWER.format(url=self.display_url, found=found, head=head))
            if found == head:
                return
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except SQLAlchemyError as exc:
                problem = _first_line(exc)
                raise StoreError(
                    DB_MIGRATION_FAILED.format(url=self.display_url, head=head, problem=problem)
                ) from None

    def schema_version(self) -> str | None:
        """The Alembic revision the database is at (``None`` before the first migration)."""
        with self.connect() as conn:
            return _current_revision(conn)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends (rolled back if it raises).

        On SQLite this is ``BEGIN IMMEDIATE``: writers queue for the lock (up to the busy
        timeout) instead of failing half-way through.
        """
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads; it begins a transaction on first use (``conn.commit()``
        to keep writes — on SQLite that transaction is deferred)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
            yield conn

    # -- leases -----------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take lease ``name`` for ``holder`` until ``now + ttl`` if it is free or expired,
        or renew it if ``holder`` has it. True when ``holder`` holds it afterwards.

        One statement (an upsert whose update only applies when the lease is ours or has
        expired), so two replicas can never both get it, on either database.
        """
        table = schema.leases
        insert = _insert_for(self.dialect)
        stmt = insert(table).values(name=name, holder=holder, expires=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={"holder": stmt.excluded.holder, "expires": stmt.excluded.expires},
            where=or_(table.c.holder == holder, table.c.expires <= now),
        ).returning(table.c.holder)
        with self.begin() as conn:
            return conn.execute(stmt).first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give lease ``name`` up if ``holder`` has it (otherwise nothing happens)."""
        table = schema.leases
        with self.begin() as conn:
            conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder))

    def lease_holder(self, name: str, now: float) -> str | None:
        """Who holds lease ``name`` at ``now`` (``None`` if nobody, or it expired)."""
        table = schema.leases
        with self.connect() as conn:
            query = select(table.c.holder).where(table.c.name == name, table.c.expires > now)
            holder: str | None = conn.execute(query).scalar_one_or_none()
            return holder

    # -- retention --------------------------------------------------------------------------

    def prune(self, before: float) -> dict[str, int]:
        """Delete raw traffic stamped before ``before``: events (with their labels), labels
        whose event is gone, KPI values, the access log and forensic captures.

        Incidents, their timelines, actions, jobs, the outbox, drills, snapshots, review
        holds and the service's state are records of what happened and are kept. Deletes run
        in chunks of :data:`PRUNE_CHUNK` rows, one transaction each. Returns rows deleted
        per table.
        """
        counts = {"events": 0, "labels": 0, "kpis": 0, "access_log": 0, "forensic_log": 0}
        events, labels = schema.events, schema.labels
        while True:
            with self.begin() as conn:
                chunk = conn.execute(
                    select(events.c.seq, events.c.id)
                    .where(events.c.ts < before)
                    .order_by(events.c.seq)
                    .limit(PRUNE_CHUNK)
                ).all()
                if not chunk:
                    break
                ids = [row.id for row in chunk]
                counts["labels"] += _rowcount(
                    conn.execute(delete(labels).where(labels.c.event_id.in_(ids)))
                )
                seqs = [row.seq for row in chunk]
                counts["events"] += _rowcount(
                    conn.execute(delete(events).where(events.c.seq.in_(seqs)))
                )
            if len(chunk) < PRUNE_CHUNK:
                break
        orphans = ~exists().where(events.c.id == labels.c.event_id)
        with self.begin() as conn:
            result = conn.execute(delete(labels).where(labels.c.ts < before, orphans))
            counts["labels"] += _rowcount(result)
        for table in (schema.kpis, schema.access_log, schema.forensic_log):
            counts[table.name] = self._prune_by_seq(table, before)
        return counts

    def _prune_by_seq(self, table: Table, before: float) -> int:
        total = 0
        while True:
            oldest = select(table.c.seq).where(table.c.ts < before).limit(PRUNE_CHUNK)
            with self.begin() as conn:
                deleted = _rowcount(
                    conn.execute(delete(table).where(table.c.seq.in_(oldest.scalar_subquery())))
                )
            total += deleted
            if deleted < PRUNE_CHUNK:
                return total

    # -- helpers for tests and the service ----------------------------------------------------

    def counts(self, tables: Sequence[str] | None = None) -> dict[str, int]:
        """Rows per table (all of the schema's tables by default)."""
        names = list(tables) if tables is not None else list(schema.metadata.tables)
        with self.connect() as conn:
            return {
                name: int(
                    conn.execute(
                        select(func.count()).select_from(schema.metadata.tables[name])
                    ).scalar_one()
                )
                for name in names
            }


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic ``Config`` for the shipped migrations, made in code (no ini file). With
    ``connection``, ``env.py`` runs the migrations on it, inside its transaction::

        with database.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _current_revision(conn: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _rowcount(result: Any) -> int:
    count = int(result.rowcount)
    return max(count, 0)


def _insert_for(dialect: str) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*`` and ``excluded``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def dialect_insert(conn: Connection) -> Any:
    """:func:`_insert_for` the dialect ``conn`` talks to."""
    return _insert_for(conn.dialect.name)
