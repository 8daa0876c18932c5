"""Signed session cookies: round trip, expiry, tampering, malformed input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assay.monitor.clock import ManualClock
from assay.monitor.sessions import DEFAULT_TTL, MAX_COOKIE_CHARS, Session, SessionSigner

SECRET = b"0123456789abcdef0123456789abcdef"
START = 1_800_000_000.0
COOKIE_CHARS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def signer(
    clock: ManualClock | None = None, *, secret: bytes = SECRET, ttl: float = 60.0
) -> SessionSigner:
    return SessionSigner(secret, clock=clock or ManualClock(START), ttl=ttl)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload: object, secret: bytes = SECRET) -> str:
    """A cookie for any payload, correctly signed with ``secret``."""
    text = b64(json.dumps(payload).encode())
    mac = hmac.new(secret, b"assay-session." + text.encode(), hashlib.sha256).digest()
    return f"{text}.{b64(mac)}"


def test_a_cookie_round_trips_until_it_expires() -> None:
    clock = ManualClock(START)
    sessions = signer(clock, ttl=3600)
    cookie = sessions.issue("k3v9q2m7x0ab", "Ada Oncall", "admin")
    assert COOKIE_CHARS.match(cookie)
    assert sessions.verify(cookie) == Session("k3v9q2m7x0ab", "Ada Oncall", "admin", START + 3600)
    clock.advance(3599)
    assert sessions.verify(cookie) is not None
    clock.advance(1)
    assert sessions.verify(cookie) is None


def test_the_default_lifetime_is_eight_hours() -> None:
    sessions = SessionSigner(SECRET, clock=ManualClock(START))
    assert sessions.ttl == DEFAULT_TTL == 8 * 3600
    found = sessions.verify(sessions.issue("k1", "n", "read"))
    assert found is not None and found.expires == START + 8 * 3600


def test_a_replica_with_the_same_secret_accepts_the_cookie() -> None:
    cookie = signer().issue("k1", "Ada", "read")
    assert signer(ManualClock(START + 5)).verify(cookie) is not None
    assert signer(secret=b"another secret, 32 bytes long!!!").verify(cookie) is None


def test_an_altered_cookie_is_refused() -> None:
    sessions = signer()
    cookie = sessions.issue("k1", "Rita", "read")
    payload, mac = cookie.split(".")
    raised = b64(json.dumps([1, "k1", "admin", "Rita", START + 60]).encode())
    assert sessions.verify(f"{raised}.{mac}") is None
    assert sessions.verify(f"{payload}.{b64(b'x' * 32)}") is None
    assert sessions.verify(f"{payload}.{mac[:-2]}") is None
    assert sessions.verify(f"{payload}.{mac}.{mac}") is None
    assert sessions.verify(f"{payload}x.{mac}") is None


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "not base64!.also not",
        "é.é",
        "x" * (MAX_COOKIE_CHARS + 1),
        "YWJj.YWJj=",
        "YWJj+.YWJj/",
    ],
)
def test_malformed_cookies_are_refused(cookie: str | None) -> None:
    assert signer().verify(cookie) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"key_id": "k1"},
        [1, "k1", "read", "Ada"],
        [2, "k1", "read", "Ada", START + 60],
        [1, "", "read", "Ada", START + 60],
        [1, "k1", "", "Ada", START + 60],
        [1, "k1", "read", None, START + 60],
        [1, 7, "read", "Ada", START + 60],
        [1, "k1", "read", "Ada", "tomorrow"],
        [1, "k1", "read", "Ada", True],
        [1, "k1", "read", "Ada", START - 1],
        "just text",
    ],
)
def test_well_signed_but_wrong_payloads_are_refused(payload: object) -> None:
    assert signer().verify(forge(payload)) is None


def test_a_well_signed_payload_that_is_not_json_is_refused() -> None:
    text = b64(b"\xff\xfe not json")
    mac = hmac.new(SECRET, b"assay-session." + text.encode(), hashlib.sha256).digest()
    assert signer().verify(f"{text}.{b64(mac)}") is None


def test_the_forging_helper_matches_the_signer() -> None:
    """Guards the guard: the payloads above fail for what they hold, not for their MAC."""
    assert signer().verify(forge([1, "k1", "read", "Ada", START + 60])) == Session(
        "k1", "Ada", "read", START + 60
    )


@pytest.mark.parametrize(
    ("secret", "ttl", "problem"),
    [
        (b"short", 60.0, "at least 16"),
        ("a text secret of 32 characters!!", 60.0, "at least 16"),
        (SECRET, 0.0, "positive"),
        (SECRET, -5.0, "positive"),
        (SECRET, float("inf"), "positive"),
        (SECRET, float("nan"), "positive"),
    ],
)
def test_bad_settings_are_refused(secret: bytes, ttl: float, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SessionSigner(secret, clock=ManualClock(START), ttl=ttl)


@pytest.mark.parametrize(
    ("key_id", "name", "role"), [("", "Ada", "read"), ("k1", "Ada", ""), ("k1", None, "read")]
)
def test_issue_needs_an_id_a_role_and_a_name(key_id: str, name: str, role: str) -> None:
    with pytest.raises(ValueError):
        signer().issue(key_id, name, role)


texts = st.text(min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(key_id=texts, name=st.text(max_size=200), role=texts)
def test_any_identity_round_trips_in_cookie_safe_characters(
    key_id: str, name: str, role: str
) -> None:
    sessions = signer()
    cookie = sessions.issue(key_id, name, role)
    assert COOKIE_CHARS.match(cookie)
    assert sessions.verify(cookie) == Session(key_id, name, role, START + 60)


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=10_000),
    replacement=st.sampled_from("ABCabc012_-.=+/ "),
)
def test_changing_any_one_character_invalidates_the_cookie(position: int, replacement: str) -> None:
    sessions = signer()
    cookie = sessions.issue("k3v9q2m7x0ab", "Ada Oncall", "admin")
    i = position % len(cookie)
    assume(cookie[i] != replacement)
    altered = cookie[:i] + replacement + cookie[i + 1 :]
    assert sessions.verify(altered) is None
