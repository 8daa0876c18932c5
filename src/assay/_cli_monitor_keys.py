"""``assay monitor keys``: create, list, rotate and revoke the monitor's API keys.

The commands work on the monitor's database directly (``--db``, default ``ASSAY_MONITOR_DB``,
else ``.assay/monitor.db``), so whoever can reach the database manages the keys; the running
service needs no restart. A token is printed once, when its key is created or rotated: only
its hash is stored. docs/monitor-security.md describes keys, roles and rotation.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from assay import _console
from assay._cli_base import _guarded
from assay.errors import AssayError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from assay.monitor.keys import KeyInfo
    from assay.monitor.store.db import Database

DEFAULT_DB = ".assay/monitor.db"

keys_app = typer.Typer(
    help="Create, list, rotate and revoke the monitor's API keys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="ASSAY_MONITOR_DB",
        help="The monitor's database: a SQLite path or sqlite:/// URL, or a postgresql:// URL "
        f"(default: $ASSAY_MONITOR_DB, else {DEFAULT_DB}).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

TOKEN_WARNING = (
    "warning: this is the only time the token is shown; it cannot be shown again (only its "
    "hash is stored). Put it in a secret store now; if it is lost, rotate the key."
)


# ----------------------------------------------------------------------------- the database


@contextmanager
def _database(target: str, *, create: bool) -> Iterator[Database]:
    """Open the monitor's database (migrating it). Without ``create``, a SQLite file that does
    not exist is an error rather than a new empty database."""
    from assay.monitor.store.db import Database, normalise_url

    url = normalise_url(target)
    sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
    if not create and sqlite_file and not Path(sqlite_file).exists():
        raise AssayError(
            f"--db {target}: no monitor database there ({sqlite_file} does not exist). "
            "Point --db (or ASSAY_MONITOR_DB) at the service's database, or create the "
            f"first key with `assay monitor keys bootstrap --name NAME --db {target}`."
        )
    db = Database.open(target)
    try:
        yield db
    finally:
        db.close()


@contextmanager
def _transaction(target: str, *, create: bool = False) -> Iterator[Connection]:
    """One committed transaction on the monitor's database; a database error mid-way becomes
    one message naming the database."""
    from sqlalchemy.exc import SQLAlchemyError

    with _database(target, create=create) as db:
        try:
            with db.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise AssayError(
                f"{db.display_url}: the database refused the change ({problem}). Nothing was "
                "changed; check that the service's database is reachable and writable."
            ) from None


# ---------------------------------------------------------------------------------- output


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _rate(info: KeyInfo) -> str:
    if info.rate_per_second is None:
        return "monitor.limits default"
    return f"{info.rate_per_second:g}/s"


def _print_token(info: KeyInfo, token: str, verb: str, as_json: bool, extra: str = "") -> None:
    if as_json:
        print(json.dumps({**info.to_json(), "token": token}, indent=2))
    else:
        _console.out.print(
            f"{verb} {info.role} key {info.id} ({info.name!r}, rate {_rate(info)}){extra}",
            soft_wrap=True,
        )
        print(token)  # plain: never wrapped or styled, so it copies whole
    sys.stdout.flush()
    _console.err.print(Text(TOKEN_WARNING, style="bold yellow"), soft_wrap=True)


def _keys_table(keys: list[KeyInfo], now: float) -> Table:
    table = Table(title="API keys", title_justify="left")
    for column in ("id", "name", "role", "status", "created", "revoked at", "rate", "replaced by"):
        table.add_column(column, no_wrap=column in ("id", "replaced by"))
    for key in keys:
        status = key.status(now)
        table.add_row(
            key.id,
            key.name,
            key.role,
            Text(status, style={"active": "green", "expiring": "yellow"}.get(status, "dim")),
            _when(key.created),
            _when(key.revoked_at),
            _rate(key),
            key.replaced_by or "",
        )
    return table


# --------------------------------------------------------------------------------- commands


@keys_app.command("create")
@_guarded
def keys_create(
    name: Annotated[
        str, typer.Option("--name", help="Who or what holds the key (model-server-eu).")
    ],
    role: Annotated[
        str, typer.Option("--role", help="ingest (post events), read (dashboards), or admin.")
    ],
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", help="Requests per second for this key (default: the spec's monitor.limits)."
        ),
    ] = None,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print its token once."""
    from assay.monitor.keys import create_key, validate_name, validate_rate, validate_role

    validate_name(name)  # bad input fails before the database is touched
    validate_role(role)
    validate_rate(rate)
    with _transaction(db, create=True) as conn:
        info, token = create_key(conn, name=name, role=role, rate_per_second=rate, now=time.time())
    _print_token(info, token, "created", as_json)


@keys_app.command("list")
@_guarded
def keys_list(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """List every key (revoked ones too), oldest first. Tokens and hashes are never shown."""
    from assay.monitor.keys import list_keys

    with _transaction(db) as conn:
        keys = list_keys(conn)
    now = time.time()
    if as_json:
        print(json.dumps([{**k.to_json(), "status": k.status(now)} for k in keys], indent=2))
    elif not keys:
        _console.out.print(
            f"no API keys in {db} yet: create the first with "
            "`assay monitor keys bootstrap --name NAME`",
            soft_wrap=True,
        )
    else:
        _console.out.print(_keys_table(keys, now))


@keys_app.command("rotate")
@_guarded
def keys_rotate(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key to replace.")],
    grace_minutes: Annotated[
        float,
        typer.Option(
            "--grace-minutes",
            help="Keep the old key valid this long, so clients can switch (default: revoke "
            "it now).",
        ),
    ] = 0.0,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Replace a key with a new one of the same name, role and rate; print the new token once."""
    from assay.monitor.keys import rotate_key

    if not grace_minutes >= 0:
        raise AssayError(
            f"--grace-minutes {grace_minutes:g}: give zero (revoke the old key now) or a "
            "positive number of minutes."
        )
    now = time.time()
    with _transaction(db) as conn:
        info, token = rotate_key(conn, key_id, now=now, grace_s=grace_minutes * 60.0)
    if grace_minutes > 0:
        old = f"; old key {key_id} stays valid until {_when(now + grace_minutes * 60.0)}"
    else:
        old = f"; old key {key_id} is revoked"
    _print_token(info, token, "rotated: new", as_json, extra=old)


@keys_app.command("revoke")
@_guarded
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key to revoke.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for revoked_keys and the audit trail.")
    ] = "revoked by an administrator",
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key now. Replicas refuse it within the verifier cache's lifetime (5 s)."""
    from assay.monitor.keys import get_key, revoke_key

    now = time.time()
    with _transaction(db) as conn:
        before = get_key(conn, key_id)
        info = revoke_key(conn, key_id, now=now, reason=reason)
    already = before.revoked_at is not None and before.revoked_at <= now
    if as_json:
        print(json.dumps({**info.to_json(), "changed": not already}, indent=2))
    elif already:
        _console.out.print(
            f"key {key_id} ({before.name!r}) was already revoked at {_when(before.revoked_at)}; "
            "nothing changed",
            soft_wrap=True,
        )
    else:
        _console.out.print(
            f"revoked {info.role} key {key_id} ({info.name!r}) at {_when(now)}", soft_wrap=True
        )


@keys_app.command("bootstrap")
@_guarded
def keys_bootstrap(
    name: Annotated[str, typer.Option("--name", help="Who holds the first admin key (ops-team).")],
    force: Annotated[
        bool, typer.Option("--force", help="Create an admin key even if one exists.")
    ] = False,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Create the first admin key (refused while a valid admin key exists, unless --force)."""
    from assay.monitor.keys import bootstrap_admin, validate_name

    validate_name(name)
    with _transaction(db, create=True) as conn:
        info, token = bootstrap_admin(conn, name=name, now=time.time(), force=force)
    _print_token(info, token, "created", as_json)
