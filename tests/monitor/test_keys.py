"""API keys: token format, hashed storage, roles, rotation, revocation and the verifier."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, select, update

from assay.errors import AssayError
from assay.monitor.clock import ManualClock
from assay.monitor.keys import (
    ROLES,
    Failure,
    KeyInfo,
    KeyManagementError,
    KeyVerifier,
    UnknownKeyError,
    Verified,
    allows,
    bearer_token,
    bootstrap_admin,
    create_key,
    get_key,
    hash_secret,
    list_keys,
    parse_token,
    revoke_key,
    rotate_key,
)
from assay.monitor.store.db import Database
from assay.monitor.store.schema import api_keys, metadata, revoked_keys

T0 = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    metadata.create_all(made)
    yield made
    made.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def make(engine: Engine, role: str = "ingest", name: str = "model-server", **kw: float) -> str:
    with engine.begin() as conn:
        _, token = create_key(conn, name=name, role=role, now=T0, **kw)
    return token


def tamper(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


# ---------------------------------------------------------------------------------- format


def test_token_format_and_only_the_hash_is_stored(engine: Engine) -> None:
    with engine.begin() as conn:
        info, token = create_key(conn, name="model-server", role="ingest", now=T0)
    assert re.fullmatch(r"amk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", token)
    key_id, secret = token[4:16], token[17:]
    assert info.id == key_id
    assert parse_token(token) == (key_id, secret)
    with engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.hash).where(api_keys.c.id == key_id)).scalar_one()
    assert secret not in stored
    expected = hashlib.sha256(f"amk-v1:{key_id}:{secret}".encode()).hexdigest()
    assert stored == f"sha256${expected}" == hash_secret(key_id, secret)


def test_tokens_are_unique_and_listing_never_returns_hashes(engine: Engine) -> None:
    tokens = {make(engine, name=f"k{i}") for i in range(20)}
    assert len(tokens) == 20
    with engine.connect() as conn:
        keys = list_keys(conn)
        hashes = conn.execute(select(api_keys.c.hash)).scalars().all()
    assert sorted(k.name for k in keys) == sorted(f"k{i}" for i in range(20))
    assert [k.id for k in keys] == sorted(k.id for k in keys)  # same time: by id
    assert not hasattr(keys[0], "hash")
    dumped = repr([k.to_json() for k in keys])
    assert "sha256$" not in dumped
    assert not any(h.split("$")[1] in dumped for h in hashes)


@pytest.mark.parametrize(
    "text",
    [
        "amk_abc_def",
        "amk_ABCDEFGHIJKL_" + "a" * 43,  # upper-case id
        "xyz_abcdefghijkl_" + "a" * 43,  # wrong prefix
        "amk_abcdefghijkl_" + "a" * 42 + "!",  # not base64url
        "amk_abcdefghijkl-" + "a" * 43,  # wrong separator
        "amk_abcdefghijkl_" + "a" * 44,  # too long
    ],
)
def test_malformed_tokens_do_not_parse(text: str) -> None:
    assert parse_token(text) is None


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer amk_x") == "amk_x"
    assert bearer_token("bearer   amk_x  ") == "amk_x"
    assert bearer_token("Basic dXNlcg==") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert bearer_token("") is None


# ----------------------------------------------------------------------------------- roles


def test_role_matrix() -> None:
    assert ROLES == ("ingest", "read", "admin")
    granted = {(role, needed) for role in ROLES for needed in ROLES if allows(role, needed)}
    assert granted == {
        ("ingest", "ingest"),
        ("read", "read"),
        ("admin", "ingest"),
        ("admin", "read"),
        ("admin", "admin"),
    }
    assert not allows("owner", "read")  # a damaged role allows nothing
    with pytest.raises(ValueError, match="'reed' is not a role"):
        allows("admin", "reed")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "reader"}, "role 'reader' is not a key role. Use one of ingest, read, admin"),
        ({"name": "  "}, "key name '  ' is not usable"),
        ({"name": "x" * 201}, "is not usable: give 1 to 200 printable characters"),
        ({"name": "tab\there"}, "is not usable"),
        ({"rate_per_second": 0.0}, "rate 0.0 is not a rate: give a positive number"),
        ({"rate_per_second": float("nan")}, "rate nan is not a rate"),
    ],
)
def test_create_refuses_bad_input(engine: Engine, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"name": "n", "role": "read", **kwargs}
    with engine.begin() as conn, pytest.raises(KeyManagementError) as caught:
        create_key(conn, now=T0, **args)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert isinstance(caught.value, AssayError) and caught.value.exit_code == 2
    with engine.connect() as conn:
        assert list_keys(conn) == []


# ------------------------------------------------------------------------------- verifying


def test_verify_outcomes(engine: Engine, clock: ManualClock) -> None:
    token = make(engine, role="read", name="grafana", rate_per_second=25.0)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock)
    assert verifier.verify(token) == Verified(key_id, "grafana", "read", 25.0)
    assert verifier.verify(None) == Failure("missing")
    assert verifier.verify("") == Failure("missing")
    assert verifier.verify("Bearer " + token) == Failure("malformed")
    assert verifier.verify("hunter2") == Failure("malformed")
    assert verifier.verify(token.upper()) == Failure("malformed")
    unknown = "amk_zzzzzzzzzzzz_" + token[17:]
    assert verifier.verify(unknown) == Failure("unknown", "zzzzzzzzzzzz")
    assert verifier.verify(tamper(token)) == Failure("bad_secret", key_id)
    other = make(engine, name="other")  # a real secret, but of another key
    assert verifier.verify(f"amk_{key_id}_{other[17:]}") == Failure("bad_secret", key_id)
    result = verifier.verify(token)
    assert result.ok and isinstance(result, Verified)
    failed = verifier.verify(tamper(token))
    assert not failed.ok


def test_cache_hit_needs_no_database(engine: Engine, clock: ManualClock) -> None:
    token = make(engine)
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=5.0)
    verifier.verify(token)
    assert verifier.lookups == 1
    for _ in range(20_000):  # what a cached check costs is bench/monitor.py's to measure
        verifier.verify(token)
    assert verifier.lookups == 1  # every one of them a hit
    assert verifier.verify(tamper(token)).ok is False  # a bad secret is refused from cache
    assert verifier.lookups == 1
    clock.advance(5.0)  # the entry expires: the next call reads the database again
    assert verifier.verify(token).ok
    assert verifier.lookups == 2


def test_revocation_is_refused_at_once_by_a_verifier_that_cached_the_key(
    engine: Engine, clock: ManualClock
) -> None:
    token = make(engine)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=3600.0)
    assert verifier.verify(token).ok  # cached for an hour
    with engine.begin() as conn:
        info = revoke_key(conn, key_id, now=clock.now(), reason="leaked in a log")
    assert info.revoked_at == T0
    assert verifier.verify(token) == Failure("revoked", key_id)
    assert verifier.verify(tamper(token)) == Failure("bad_secret", key_id)
    with engine.connect() as conn:
        row = conn.execute(select(revoked_keys).where(revoked_keys.c.key_id == key_id)).one()
    assert (row.revoked_at, row.reason) == (T0, "leaked in a log")


def test_a_read_during_the_revoking_transaction_is_dropped_on_commit(
    engine: Engine, clock: ManualClock
) -> None:
    """A verifier that reads the key while the revocation is uncommitted caches the old row;
    the commit drops it again."""
    token = make(engine)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=3600.0)
    with engine.begin() as conn:
        revoke_key(conn, key_id, now=clock.now())
        assert verifier.verify(token).ok  # another connection: the revocation is not visible
        assert verifier.lookups == 1
    assert verifier.verify(token) == Failure("revoked", key_id)
    assert verifier.lookups == 2


def test_an_invalidation_during_a_lookup_keeps_the_read_out_of_the_cache(
    engine: Engine, clock: ManualClock
) -> None:
    """A row read before a revocation landed must not be cached after it."""
    token = make(engine)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=3600.0)

    def revoked_meanwhile(*_: object) -> None:
        verifier.invalidate(key_id)

    event.listen(engine, "after_cursor_execute", revoked_meanwhile)
    try:
        assert verifier.verify(token).ok  # answered from the row it read, but not cached
    finally:
        event.remove(engine, "after_cursor_execute", revoked_meanwhile)
    assert verifier.verify(token).ok
    assert verifier.lookups == 2
    assert verifier.verify(token).ok
    assert verifier.lookups == 2  # the undisturbed read was cached


def test_a_replica_sees_a_revocation_within_the_cache_ttl(
    engine: Engine, clock: ManualClock
) -> None:
    """Another process's revocation is only in the database: this verifier notices when its
    cache entry expires."""
    token = make(engine)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=5.0)
    assert verifier.verify(token).ok
    with engine.begin() as conn:  # what another replica's revoke_key leaves behind
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=T0))
    clock.advance(4.9)
    assert verifier.verify(token).ok
    clock.advance(0.1)
    assert verifier.verify(token) == Failure("revoked", key_id)


def test_a_key_listed_only_in_revoked_keys_is_refused(engine: Engine, clock: ManualClock) -> None:
    token = make(engine)
    key_id = token[4:16]
    with engine.begin() as conn:  # the revoke_keys action may record the revocation here only
        conn.execute(
            revoked_keys.insert().values(key_id=key_id, revoked_at=T0 - 1, reason="anomaly")
        )
    assert KeyVerifier(engine, clock=clock).verify(token) == Failure("revoked", key_id)
    with engine.connect() as conn:
        assert get_key(conn, key_id).revoked_at == T0 - 1


def test_revoked_keys_stay_cached_and_unknown_ids_are_not(
    engine: Engine, clock: ManualClock
) -> None:
    token = make(engine)
    key_id = token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=1.0)
    verifier.revoke(key_id)
    assert verifier.verify(token).ok is False
    lookups = verifier.lookups
    clock.advance(3600)
    assert verifier.verify(token) == Failure("revoked", key_id)
    assert verifier.lookups == lookups  # revocation is final: no need to read it again
    unknown = "amk_zzzzzzzzzzzz_" + token[17:]
    verifier.verify(unknown)
    verifier.verify(unknown)
    assert verifier.lookups == lookups + 2  # so a key made on another replica works at once


def test_a_stored_hash_of_an_unknown_scheme_never_matches(
    engine: Engine, clock: ManualClock
) -> None:
    token = make(engine)
    key_id, secret = token[4:16], token[17:]
    with engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(hash=f"plain${secret}"))
    assert KeyVerifier(engine, clock=clock).verify(token) == Failure("bad_secret", key_id)


def test_the_cache_is_bounded(engine: Engine, clock: ManualClock) -> None:
    tokens = [make(engine, name=f"k{i}") for i in range(10)]
    verifier = KeyVerifier(engine, clock=clock, max_entries=4)
    for token in tokens:
        assert verifier.verify(token).ok
    assert len(verifier._cache) <= 4
    assert all(verifier.verify(token).ok for token in tokens)


# -------------------------------------------------------------------- rotation, revocation


def test_rotate_replaces_the_key_and_revokes_the_old_one_at_once(
    engine: Engine, clock: ManualClock
) -> None:
    old_token = make(engine, role="read", name="grafana", rate_per_second=7.0)
    old_id = old_token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=3600.0)
    assert verifier.verify(old_token).ok
    clock.advance(100)
    with engine.begin() as conn:
        new, new_token = rotate_key(conn, old_id, now=clock.now())
    assert (new.name, new.role, new.rate_per_second, new.created) == (
        "grafana",
        "read",
        7.0,
        T0 + 100,
    )
    assert new.id != old_id and new_token.startswith(f"amk_{new.id}_")
    assert verifier.verify(old_token) == Failure("revoked", old_id)
    assert verifier.verify(new_token) == Verified(new.id, "grafana", "read", 7.0)
    with engine.connect() as conn:
        old = get_key(conn, old_id)
        reason = conn.execute(
            select(revoked_keys.c.reason).where(revoked_keys.c.key_id == old_id)
        ).scalar_one()
    assert (old.replaced_by, old.revoked_at, old.status(clock.now())) == (
        new.id,
        T0 + 100,
        "revoked",
    )
    assert reason == f"rotated: replaced by {new.id}"


def test_rotation_with_a_grace_period(engine: Engine, clock: ManualClock) -> None:
    old_token = make(engine)
    old_id = old_token[4:16]
    verifier = KeyVerifier(engine, clock=clock, cache_ttl=3600.0)
    assert verifier.verify(old_token).ok
    with engine.begin() as conn:
        _, new_token = rotate_key(conn, old_id, now=clock.now(), grace_s=600)
    assert verifier.verify(old_token).ok and verifier.verify(new_token).ok
    with engine.connect() as conn:
        assert get_key(conn, old_id).status(clock.now()) == "expiring"
        # revoked_keys holds revocations in force only: the service reads it that way
        assert conn.execute(select(revoked_keys)).first() is None
    clock.advance(599.9)
    assert verifier.verify(old_token).ok
    clock.advance(0.1)  # the cached entry does not outlive the grace period
    assert verifier.verify(old_token) == Failure("revoked", old_id)
    assert verifier.verify(new_token).ok


def test_revoking_during_the_grace_period_cuts_it_short(engine: Engine, clock: ManualClock) -> None:
    old_token = make(engine)
    old_id = old_token[4:16]
    with engine.begin() as conn:
        rotate_key(conn, old_id, now=clock.now(), grace_s=600)
    verifier = KeyVerifier(engine, clock=clock)
    assert verifier.verify(old_token).ok
    clock.advance(10)
    assert verifier.revoke(old_id, reason="compromised").revoked_at == T0 + 10
    assert verifier.verify(old_token) == Failure("revoked", old_id)
    with engine.connect() as conn:
        row = conn.execute(select(revoked_keys).where(revoked_keys.c.key_id == old_id)).one()
    assert (row.revoked_at, row.reason) == (T0 + 10, "compromised")


def test_the_revoke_keys_action_cuts_a_grace_period_short(
    engine: Engine, clock: ManualClock
) -> None:
    """The action inserts into revoked_keys and updates only api_keys rows not yet revoked:
    a key in its grace period is refused from the listed time all the same."""
    old_token = make(engine)
    old_id = old_token[4:16]
    with engine.begin() as conn:
        rotate_key(conn, old_id, now=clock.now(), grace_s=600)
        conn.execute(
            revoked_keys.insert().values(
                key_id=old_id, revoked_at=T0 + 5, reason="incident 7", incident_id=None
            )
        )
    verifier = KeyVerifier(engine, clock=clock)
    assert verifier.verify(old_token).ok
    clock.advance(5)  # the cached entry knows the listed time
    assert verifier.verify(old_token) == Failure("revoked", old_id)


def test_rotate_and_revoke_refusals(engine: Engine, clock: ManualClock) -> None:
    token = make(engine)
    key_id = token[4:16]
    with engine.begin() as conn:
        new, _ = rotate_key(conn, key_id, now=T0, grace_s=60)
    with engine.begin() as conn, pytest.raises(KeyManagementError) as twice:
        rotate_key(conn, key_id, now=T0)
    assert f"was already rotated: it is replaced by {new.id}. Rotate {new.id}" in str(twice.value)
    with engine.begin() as conn:
        revoke_key(conn, new.id, now=T0)
    with engine.begin() as conn, pytest.raises(KeyManagementError, match="is revoked; rotating"):
        rotate_key(conn, new.id, now=T0 + 1)
    with engine.begin() as conn, pytest.raises(UnknownKeyError) as unknown:
        revoke_key(conn, "nosuchkey123", now=T0)
    assert str(unknown.value) == (
        "no API key has id 'nosuchkey123' (2 key(s) exist). "
        "Run `assay monitor keys list` to see the ids."
    )
    with engine.begin() as conn, pytest.raises(UnknownKeyError, match="not the whole token"):
        rotate_key(conn, token, now=T0)
    with engine.begin() as conn, pytest.raises(KeyManagementError, match="grace period -1"):
        rotate_key(conn, key_id, now=T0, grace_s=-1)


def test_revoking_twice_changes_nothing(engine: Engine) -> None:
    key_id = make(engine)[4:16]
    with engine.begin() as conn:
        first = revoke_key(conn, key_id, now=T0, reason="first")
    with engine.begin() as conn:
        second = revoke_key(conn, key_id, now=T0 + 50, reason="second")
    assert first == second
    with engine.connect() as conn:
        row = conn.execute(select(revoked_keys)).one()
    assert (row.revoked_at, row.reason) == (T0, "first")


# --------------------------------------------------------------------------------- bootstrap


def test_bootstrap_admin(engine: Engine, clock: ManualClock) -> None:
    make(engine, role="read")  # other roles do not count
    with engine.begin() as conn:
        admin, token = bootstrap_admin(conn, name="ops", now=T0)
    assert admin.role == "admin"
    assert KeyVerifier(engine, clock=clock).verify(token) == Verified(admin.id, "ops", "admin")
    with engine.begin() as conn, pytest.raises(KeyManagementError) as refused:
        bootstrap_admin(conn, name="again", now=T0)
    assert str(refused.value).startswith(f"an admin key already exists: {admin.id} (ops).")
    assert "pass --force" in str(refused.value)
    with engine.begin() as conn:
        forced, _ = bootstrap_admin(conn, name="second", now=T0 + 0.5, force=True)
    with engine.begin() as conn:
        revoke_key(conn, admin.id, now=T0)
        revoke_key(conn, forced.id, now=T0)
    with engine.begin() as conn:  # every admin key revoked: bootstrap is the way back in
        bootstrap_admin(conn, name="recovered", now=T0 + 1)
    with engine.connect() as conn:
        admins = [k for k in list_keys(conn) if k.role == "admin"]
    assert [k.name for k in admins] == ["ops", "second", "recovered"]
    assert [k.is_valid(T0 + 1) for k in admins] == [False, False, True]


def test_keyinfo_status() -> None:
    info = KeyInfo("abcdefghijkl", "n", "read", T0)
    assert info.status(T0) == "active"
    expiring = KeyInfo("abcdefghijkl", "n", "read", T0, revoked_at=T0 + 10)
    assert (expiring.status(T0), expiring.status(T0 + 10)) == ("expiring", "revoked")


# ------------------------------------------------------------------------- both databases


def test_the_key_lifecycle_on_sqlite_and_postgresql(db: Database, clock: ManualClock) -> None:
    """Create, verify, rotate with grace, revoke — through a migrated Database (the
    ``db`` fixture runs this once on SQLite and once on PostgreSQL)."""
    verifier = KeyVerifier(db.engine, clock=clock, cache_ttl=3600.0)
    with db.begin() as conn:
        admin, admin_token = bootstrap_admin(conn, name="ops", now=T0)
        reader, read_token = create_key(
            conn, name="grafana", role="read", now=T0 + 1, rate_per_second=3.5
        )
    assert verifier.verify(admin_token) == Verified(admin.id, "ops", "admin")
    assert verifier.verify(read_token) == Verified(reader.id, "grafana", "read", 3.5)
    assert verifier.verify(tamper(read_token)) == Failure("bad_secret", reader.id)
    with db.begin() as conn:
        new, new_token = rotate_key(conn, reader.id, now=clock.now(), grace_s=60)
    assert verifier.verify(read_token).ok and verifier.verify(new_token).ok
    clock.advance(60)
    assert verifier.verify(read_token) == Failure("revoked", reader.id)
    verifier.revoke(new.id, reason="drill", incident_id=None)
    assert verifier.verify(new_token) == Failure("revoked", new.id)
    with db.connect() as conn:
        listed = {k.id: k.status(clock.now()) for k in list_keys(conn)}
        reasons = dict(conn.execute(select(revoked_keys.c.key_id, revoked_keys.c.reason)).all())
    assert listed == {admin.id: "active", reader.id: "revoked", new.id: "revoked"}
    assert reasons == {new.id: "drill"}
    with db.begin() as conn, pytest.raises(KeyManagementError, match="admin key already exists"):
        bootstrap_admin(conn, name="again", now=clock.now())
