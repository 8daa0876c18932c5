"""``assay monitor keys``: create, list, rotate, revoke and bootstrap against a real database."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, create_engine, select
from typer.testing import CliRunner, Result

from _cli_support import error_of, flat
from assay import _console
from assay._cli_monitor_keys import TOKEN_WARNING, keys_app
from assay.monitor.clock import SystemClock
from assay.monitor.keys import Failure, KeyVerifier, Verified
from assay.monitor.store.schema import api_keys, revoked_keys

TOKEN = r"amk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}"


def _root() -> typer.Typer:
    """``assay`` with a ``monitor`` group holding ``keys``, registered the way the lead does."""
    root = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    monitor = typer.Typer(no_args_is_help=True)
    monitor.add_typer(keys_app, name="keys")
    root.add_typer(monitor, name="monitor")

    @root.callback()
    def _main() -> None:
        """assay"""

    @monitor.callback()
    def _monitor() -> None:
        """The monitoring service."""

    return root


APP = _root()


def keys(*args: object, env: dict[str, str] | None = None) -> Result:
    """``assay monitor keys ARGS``; consoles widened like tests/_cli_support.invoke."""
    environment: dict[str, str | None] = {"COLUMNS": "200", "ASSAY_MONITOR_DB": None}
    environment.update(env or {})
    consoles = (_console.out, _console.err)
    saved = [console._width for console in consoles]
    for console in consoles:
        console.width = 200
    try:
        return CliRunner().invoke(
            APP,
            ["monitor", "keys", *(str(a) for a in args)],
            env=environment,
        )
    finally:
        for console, width in zip(consoles, saved, strict=True):
            console._width = width


@pytest.fixture
def path(tmp_path: Path) -> str:
    """An SQLite file in a folder that does not exist yet."""
    return str(tmp_path / "state" / "monitor.db")


@pytest.fixture
def engine(path: str) -> Iterator[Engine]:
    made = create_engine(f"sqlite:///{path}")
    yield made
    made.dispose()


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result


def token_of(result: Result) -> str:
    found = re.findall(TOKEN, result.stdout)
    assert len(found) == 1, result.stdout
    return str(found[0])


def verify(engine: Engine, token: str) -> Verified | Failure:
    return KeyVerifier(engine, clock=SystemClock(), cache_ttl=0).verify(token)


# ----------------------------------------------------------------------------- happy paths


def test_bootstrap_creates_the_first_admin_key_and_shows_the_token_once(
    path: str, engine: Engine
) -> None:
    result = ok(keys("bootstrap", "--name", "ops-team", "--db", path))
    token = token_of(result)
    key_id = token[4:16]
    assert result.stdout.splitlines()[0] == (
        f"created admin key {key_id} ('ops-team', rate monitor.limits default)"
    )
    assert result.stdout.splitlines()[1] == token  # alone on its line, unwrapped
    assert flat(result.stderr) == TOKEN_WARNING
    assert verify(engine, token) == Verified(key_id, "ops-team", "admin")
    with engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.hash)).scalar_one()
    assert token[17:] not in stored and stored.startswith("sha256$")

    again = keys("bootstrap", "--name", "someone", "--db", path)
    message = error_of(again)
    assert message.startswith(f"an admin key already exists: {key_id} (ops-team).")
    assert "pass --force" in message
    forced = ok(keys("bootstrap", "--name", "someone", "--force", "--db", path))
    assert verify(engine, token_of(forced)).ok


def test_create_with_a_role_and_rate_then_list(path: str, engine: Engine) -> None:
    ok(keys("bootstrap", "--name", "ops", "--db", path))
    made = ok(keys("create", "--name", "grafana", "--role", "read", "--rate", "5", "--db", path))
    token = token_of(made)
    assert "created read key" in made.stdout and "rate 5/s" in made.stdout
    assert verify(engine, token) == Verified(token[4:16], "grafana", "read", 5.0)

    listed = ok(keys("list", "--db", path))
    assert "grafana" in listed.stdout and "ops" in listed.stdout
    assert token[4:16] in listed.stdout
    assert "amk_" not in listed.output and "sha256$" not in listed.output  # no secrets

    as_json = json.loads(ok(keys("list", "--json", "--db", path)).stdout)
    assert [(k["name"], k["role"], k["status"]) for k in as_json] == [
        ("ops", "admin", "active"),
        ("grafana", "read", "active"),
    ]
    assert all("hash" not in k and "token" not in k for k in as_json)


def test_create_json_for_scripts(path: str, engine: Engine) -> None:
    result = ok(keys("create", "--name", "model-eu", "--role", "ingest", "--json", "--db", path))
    made = json.loads(result.stdout)
    assert (made["name"], made["role"], made["rate_per_second"]) == ("model-eu", "ingest", None)
    assert verify(engine, made["token"]) == Verified(made["id"], "model-eu", "ingest")
    assert flat(result.stderr) == TOKEN_WARNING


def test_the_database_comes_from_the_environment_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = tmp_path / "env.db"
    ok(keys("create", "--name", "a", "--role", "read", env={"ASSAY_MONITOR_DB": str(from_env)}))
    assert from_env.exists()
    monkeypatch.chdir(tmp_path)
    ok(keys("create", "--name", "b", "--role", "read"))
    assert (tmp_path / ".assay" / "monitor.db").exists()
    listed = json.loads(ok(keys("list", "--json")).stdout)
    assert [k["name"] for k in listed] == ["b"]


def test_rotate_revokes_the_old_key_and_prints_the_new_token(path: str, engine: Engine) -> None:
    old = token_of(ok(keys("create", "--name", "model", "--role", "ingest", "--db", path)))
    rotated = ok(keys("rotate", old[4:16], "--db", path))
    new = token_of(rotated)
    assert f"old key {old[4:16]} is revoked" in rotated.stdout
    assert flat(rotated.stderr) == TOKEN_WARNING
    assert verify(engine, old) == Failure("revoked", old[4:16])
    assert verify(engine, new) == Verified(new[4:16], "model", "ingest")

    graced = ok(keys("rotate", new[4:16], "--grace-minutes", "10", "--db", path))
    newest = token_of(graced)
    assert f"old key {new[4:16]} stays valid until" in graced.stdout
    assert verify(engine, new).ok and verify(engine, newest).ok
    with engine.connect() as conn:
        until = conn.execute(
            select(api_keys.c.revoked_at).where(api_keys.c.id == new[4:16])
        ).scalar_one()
    assert until == pytest.approx(time.time() + 600, abs=30)


def test_revoke_and_revoke_again(path: str, engine: Engine) -> None:
    token = token_of(ok(keys("create", "--name", "leaky", "--role", "read", "--db", path)))
    key_id = token[4:16]
    result = ok(keys("revoke", key_id, "--reason", "posted in chat", "--db", path))
    assert result.stdout.startswith(f"revoked read key {key_id} ('leaky') at ")
    assert verify(engine, token) == Failure("revoked", key_id)
    with engine.connect() as conn:
        assert conn.execute(select(revoked_keys.c.reason)).scalar_one() == "posted in chat"
    again = ok(keys("revoke", key_id, "--db", path))
    assert "was already revoked at" in again.stdout and "nothing changed" in again.stdout
    listed = json.loads(ok(keys("list", "--json", "--db", path)).stdout)
    assert listed[0]["status"] == "revoked"


# ---------------------------------------------------------------------------------- errors


def test_a_bad_role_names_the_value_and_the_roles(path: str) -> None:
    message = error_of(keys("create", "--name", "x", "--role", "reader", "--db", path))
    assert message.startswith("role 'reader' is not a key role. Use one of ingest, read, admin")
    assert not Path(path).exists()  # refused before the database was touched


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("create", "--name", "x", "--role", "read", "--rate", "0"), "rate 0.0 is not a rate"),
        (("create", "--name", " ", "--role", "read"), "key name ' ' is not usable"),
        (("bootstrap", "--name", ""), "key name '' is not usable"),
    ],
)
def test_other_bad_input(path: str, args: tuple[str, ...], expected: str) -> None:
    assert expected in error_of(keys(*args, "--db", path))


def test_an_unknown_key_id(path: str) -> None:
    ok(keys("create", "--name", "x", "--role", "read", "--db", path))
    for command in ("rotate", "revoke"):
        message = error_of(keys(command, "nosuchkey123", "--db", path))
        assert message == (
            "no API key has id 'nosuchkey123' (1 key(s) exist). "
            "Run `assay monitor keys list` to see the ids."
        )


def test_rotating_a_revoked_key_is_refused(path: str) -> None:
    token = token_of(ok(keys("create", "--name", "x", "--role", "read", "--db", path)))
    ok(keys("revoke", token[4:16], "--db", path))
    message = error_of(keys("rotate", token[4:16], "--db", path))
    assert "is revoked; rotating it would bring its access back" in message
    assert "assay monitor keys create --name 'x' --role read" in message
    assert "--grace-minutes -1" in error_of(
        keys("rotate", token[4:16], "--grace-minutes", "-1", "--db", path)
    )


def test_a_missing_database_file_is_not_created_by_reads(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for args in (("list",), ("revoke", "abcdefghijkl"), ("rotate", "abcdefghijkl")):
        message = error_of(keys(*args, "--db", missing))
        assert message.startswith(f"--db {missing}: no monitor database there")
        assert "assay monitor keys bootstrap --name NAME" in message
    assert not missing.exists()


def test_an_unreachable_database_masks_the_password() -> None:
    url = "postgresql://assay:hunter2@127.0.0.1:1/monitor"
    message = error_of(keys("list", "--db", url))
    assert "cannot connect to the database" in message
    assert "hunter2" not in message and "***" in message


def test_a_database_that_is_not_one(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("not a database\n" * 100, encoding="utf-8")
    message = error_of(keys("list", "--db", bogus))
    assert str(bogus) in message


def test_the_commands_on_sqlite_and_postgresql(db_url: str) -> None:
    """The same commands against a URL, once per backend (the URL's password never shows)."""
    admin = token_of(ok(keys("bootstrap", "--name", "ops", "--db", db_url)))
    made = json.loads(
        ok(keys("create", "--name", "m", "--role", "ingest", "--json", "--db", db_url)).stdout
    )
    rotated = token_of(ok(keys("rotate", made["id"], "--db", db_url)))
    ok(keys("revoke", rotated[4:16], "--db", db_url))
    listed = json.loads(ok(keys("list", "--json", "--db", db_url)).stdout)
    assert [(k["name"], k["role"], k["status"]) for k in listed] == [
        ("ops", "admin", "active"),
        ("m", "ingest", "revoked"),
        ("m", "ingest", "revoked"),
    ]
    from assay.monitor.store.db import Database

    with Database.open(db_url) as database:
        verifier = KeyVerifier(database.engine, clock=SystemClock())
        assert verifier.verify(admin).ok
        assert verifier.verify(made["token"]) == Failure("revoked", made["id"])
        assert verifier.verify(rotated) == Failure("revoked", rotated[4:16])
