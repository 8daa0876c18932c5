"""The Alembic migrations build exactly ``schema.metadata``, on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import assay
from assay.monitor.store import Database, schema
from assay.monitor.store.db import MIGRATIONS, alembic_config


def _differences(db: Database) -> list[object]:
    with db.connect() as conn:
        diff: list[object] = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        return diff


def test_the_migrated_database_matches_the_schema_exactly(db: Database) -> None:
    assert _differences(db) == []
    tables = set(inspect(db.engine).get_table_names())
    assert tables == set(schema.metadata.tables) | {"alembic_version"}


def test_every_index_and_unique_constraint_is_there(db: Database) -> None:
    inspector = inspect(db.engine)
    for table in schema.metadata.sorted_tables:
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table.name)}
        wanted = {str(ix.name): [c.name for c in ix.columns] for ix in table.indexes}
        assert {k: indexes.get(k) for k in wanted} == wanted, table.name
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        assert uniques == {
            tuple(c.name for c in u.columns)
            for u in table.constraints
            if u.__class__.__name__ == "UniqueConstraint"
        }, table.name


def test_sqlite_never_reuses_a_pruned_seq(db: Database) -> None:
    row = {"ts": 1.0, "received": 1.0, "model_version": "v1", "features": "{}"}
    with db.begin() as conn:
        conn.execute(schema.events.insert(), [{**row, "id": f"e{i}"} for i in range(3)])
    db.prune(before=2.0)  # every event goes
    with db.begin() as conn:
        conn.execute(schema.events.insert(), {**row, "id": "later", "ts": 5.0})
    with db.connect() as conn:
        assert conn.execute(text("SELECT seq FROM events")).scalar_one() == 4


def test_downgrade_to_nothing_and_upgrade_again(db: Database) -> None:
    with db.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    assert db.schema_version() is None
    db.migrate()
    assert db.schema_version() == "0003"
    assert _differences(db) == []


def test_the_first_migration_spells_out_every_table() -> None:
    """0001 creates the tables with explicit op.create_table calls, never create_all from
    the live metadata (which would change history whenever schema.py changes)."""
    source = (MIGRATIONS / "versions" / "0001_initial.py").read_text()
    tree = ast.parse(source)
    created = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_table"
        and isinstance(node.args[0], ast.Constant)
    ]
    later = {"evidence_objects", "evidence_attachments"}  # 0002_shared_evidence.py
    assert sorted(created) == sorted(set(schema.metadata.tables) - later)
    assert "create_all" not in source and "assay" not in source.split('"""', 2)[2]


def test_the_migrations_ship_inside_the_package_and_have_one_head() -> None:
    package = Path(assay.__file__).parent
    assert package / "monitor" / "migrations" == MIGRATIONS
    for name in ("env.py", "script.py.mako", "alembic.ini", "versions/0001_initial.py"):
        assert (MIGRATIONS / name).is_file(), name
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == ["0003"]
    assert scripts.get_base() == "0001"


def _alembic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(MIGRATIONS / "alembic.ini"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_alembic_command_line_reads_the_revision(db_url: str) -> None:
    Database.open(db_url).close()
    result = _alembic("-x", f"url={db_url}", "current")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0003 (head)"


def test_the_alembic_command_line_writes_the_sql_for_a_dba() -> None:
    result = _alembic(
        "-x", "url=postgresql://monitor@db.example/monitor", "upgrade", "head", "--sql"
    )
    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert "CREATE TABLE events (" in sql and "seq BIGSERIAL NOT NULL" in sql
    assert "CREATE TABLE alembic_version" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    assert "UPDATE alembic_version SET version_num='0002'" in sql
    assert "DROP INDEX ix_events_session" in sql
    assert sql.count("CREATE TABLE") == len(schema.metadata.tables) + 1
