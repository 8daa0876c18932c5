"""The dashboard and its sign-in, over HTTP and in headless Chromium.

A small FastAPI app mounts the dashboard next to a fixture ``GET /v1/summary`` and real
``POST /v1/incidents/{id}/ack|resolve`` that change the fixture, and runs on loopback in a real
uvicorn server. The full service's end-to-end test lives with the service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _browser import Guarded, browser, sign_in
from fastapi import FastAPI, HTTPException, Request
from playwright.sync_api import Browser, Page, expect

from assay.monitor.clock import ManualClock
from assay.monitor.dashboard import SESSION_COOKIE, mount_dashboard
from assay.monitor.sessions import Session, SessionSigner
from assay.serving._server import Running, running

__all__ = ["browser"]  # the imported fixture

NOW = 1_800_000_000.0
SCREENSHOT = "/tmp/assay-dashboard.png"
ADMIN_KEY = "amk_admin0000001_s3cret-admin"
READ_KEY = "amk_reader000001_s3cret-read"
INGEST_KEY = "amk_ingest000001_s3cret-ingest"
REVOKED_KEY = "amk_revoked00001_s3cret-old"
PSI = {
    "income": 0.31,
    "age": 0.04,
    "credit_limit": 0.24,
    "tenure_months": 0.08,
    "region": 0.12,
    "num_products": 0.01,
}
HOSTILE_OWNER = '<img src="x" onerror="window.pwned=1">ops@example.com'


@dataclass(frozen=True)
class Verified:
    key_id: str
    name: str
    role: str


@dataclass(frozen=True)
class Failure:
    reason: str
    key_id: str | None = None


KEYS = {
    ADMIN_KEY: Verified("admin0000001", "Ada Oncall", "admin"),
    READ_KEY: Verified("reader000001", "Rita Reader", "read"),
    INGEST_KEY: Verified("ingest000001", "model-server", "ingest"),
}


def verify_key(token: str) -> Verified | Failure:
    if token in KEYS:
        return KEYS[token]
    if token == REVOKED_KEY:
        return Failure("revoked", "revoked00001")
    if not token.startswith("amk_"):
        return Failure("malformed")
    return Failure("unknown")


def build_summary(now: float) -> dict[str, Any]:
    """What the service's summary would say a few minutes into an incident."""
    throughput = [
        [now - s, 140 + int(40 * math.sin(s / 25))] for s in range(300, 0, -1) if s % 47 != 0
    ]
    minutes = range(30, 0, -1)
    return {
        "now": now,
        "replica": "host-1a2b",
        "route": {"target": "fallback", "since": now - 420, "incident": 2, "degraded_mode": False},
        "stats": {"events_stored": 48210, "labels": 9120, "kpis": 310, "busy": 0, "duplicates": 12},
        "throughput": throughput,
        "signals": [
            {
                "signal": "input_shift",
                "subject": "inputs",
                "window": "events=1000",
                "end": now - 600,
                "n": 1000,
                "metrics": {"share_drifted": 0.0, "max_psi": 0.05},
                "details": {"psi": {"income": 0.05, "age": 0.01, "region": 0.02}},
            },
            {
                "signal": "input_shift",
                "subject": "inputs",
                "window": "events=1000",
                "end": now - 20,
                "n": 1000,
                "metrics": {"share_drifted": 2 / 6, "max_psi": 0.31, "max_wasserstein": 0.2},
                "details": {"psi": dict(PSI)},
            },
            {
                "signal": "accuracy",
                "subject": "model",
                "window": "labels=500",
                "end": now - 30,
                "n": 500,
                "metrics": {"accuracy": 0.84},
                "details": {},
            },
        ],
        "history": {
            "accuracy": [[now - 60 * m, round(0.84 + 0.07 * m / 30, 4)] for m in minutes],
            "p50_ms": [[now - 60 * m, 18 + (m % 4)] for m in minutes],
            "p95_ms": [[now - 60 * m, 42 + 2 * (m % 5)] for m in minutes],
            "p99_ms": [[now - 60 * m, 75 + 25 * (m < 8) + (m % 7)] for m in minutes],
            "share_drifted": [[now - 60 * m, 0.0 if m > 6 else 2 / 6] for m in minutes],
        },
        "drift_threshold": 0.2,
        "incidents": [
            {
                "id": 1,
                "rule": "inputs-drifted",
                "signal": "input_shift",
                "subject": "inputs",
                "severity": "major",
                "owner": HOSTILE_OWNER,
                "status": "open",
                "opened_at": now - 300,
                "deadline": now + 600,
                "level": 0,
                "runbook": "https://runbooks.example.com/drift",
                "fired": 3,
            },
            {
                "id": 2,
                "rule": "accuracy-drop",
                "signal": "accuracy",
                "subject": "model",
                "severity": "blocker",
                "owner": "ml-oncall@example.com",
                "status": "open",
                "opened_at": now - 1300,
                "deadline": now - 100,
                "level": 1,
                "runbook": "javascript:alert(1)",
                "fired": 1,
            },
            {
                "id": 3,
                "rule": "latency-high",
                "signal": "latency",
                "subject": "endpoint",
                "severity": "minor",
                "owner": "platform@example.com",
                "status": "resolved",
                "opened_at": now - 7200,
                "deadline": None,
                "level": 0,
                "runbook": None,
                "fired": 2,
            },
        ],
        "actions": [
            {
                "seq": 1,
                "incident_id": 1,
                "action": "alert",
                "started": now - 299,
                "finished": now - 298.6,
                "outcome": "ok",
                "attempts": 1,
                "detail": {},
            },
            {
                "seq": 2,
                "incident_id": 2,
                "action": "route_to_fallback",
                "started": now - 420,
                "finished": now - 419.9,
                "outcome": "ok",
                "attempts": 1,
                "detail": {},
            },
            {
                "seq": 3,
                "incident_id": 2,
                "action": "webhook",
                "started": now - 410,
                "finished": None,
                "outcome": "retrying",
                "attempts": 3,
                "detail": {"status": 503},
            },
        ],
    }


class FakeMonitor:
    """The dashboard mounted on a small app whose summary and incidents are a dict."""

    def __init__(self, *, poll_seconds: float = 2.0) -> None:
        self.clock = ManualClock(NOW)
        self.signer = SessionSigner(b"k" * 32, clock=self.clock)
        self.summary = build_summary(NOW)
        self.calls: list[tuple[str, int, str, str]] = []
        app = FastAPI()

        def caller_of(request: Request) -> Session:
            found = self.signer.verify(request.cookies.get(SESSION_COOKIE))
            if found is None:
                raise HTTPException(401, "sign in first")
            return found

        @app.get("/v1/summary")
        def summary(request: Request) -> dict[str, Any]:
            caller_of(request)
            return self.summary

        @app.post("/v1/incidents/{incident_id}/{verb}")
        async def step(incident_id: int, verb: str, request: Request) -> dict[str, Any]:
            caller = caller_of(request)
            if caller.role != "admin":
                raise HTTPException(403, f"key {caller.key_id} has role 'read'; this needs 'admin'")
            if request.headers.get("content-type") != "application/json":
                raise HTTPException(415, "send JSON")
            if await request.json() != {}:
                raise HTTPException(422, "expected {}")
            found: list[dict[str, Any]] = [
                i for i in self.summary["incidents"] if i["id"] == incident_id
            ]
            if verb not in ("ack", "resolve") or not found:
                raise HTTPException(404, "no such incident")
            incident = found[0]
            self.calls.append((verb, incident_id, caller.name, request.headers["content-type"]))
            if verb == "ack":
                incident.update(status="acknowledged", acked_by=caller.name, deadline=None)
            else:
                incident.update(status="resolved")
            return incident

        mount_dashboard(
            app,
            verify_key=verify_key,
            sessions=self.signer,
            caller_of=caller_of,
            poll_seconds=poll_seconds,
        )
        self.app = app

    def incident(self, incident_id: int) -> dict[str, Any]:
        found: dict[str, Any] = next(i for i in self.summary["incidents"] if i["id"] == incident_id)
        return found


@pytest.fixture
def fake() -> FakeMonitor:
    return FakeMonitor()


@pytest.fixture
def served(fake: FakeMonitor) -> Iterator[Running]:
    with running(fake.app) as server:
        yield server


def signed_in(browser: Browser, served: Running, key: str, **options: Any) -> Guarded:
    guarded = Guarded(browser, served.url, **options)
    sign_in(guarded.page, served.url, key)
    expect(guarded.page).to_have_url(served.url + "/")
    return guarded


def incident_row(page: Page, incident_id: int) -> Any:
    return page.locator(f"#incident-list tr[data-incident='{incident_id}']")


# ----------------------------------------------------------------------------- over HTTP


def http(served: Running) -> httpx.Client:
    return httpx.Client(base_url=served.url, follow_redirects=False, timeout=10)


def login(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/login", data={"key": key})


def test_the_page_without_a_session_redirects_to_login(served: Running) -> None:
    with http(served) as client:
        answer = client.get("/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"
        client.cookies.set(SESSION_COOKIE, "forged.cookie")
        assert client.get("/").headers["location"] == "/login"


def test_login_sets_a_strict_http_only_session_cookie(fake: FakeMonitor, served: Running) -> None:
    with http(served) as client:
        answer = login(client, ADMIN_KEY)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "samesite=strict" in cookie.lower()
        assert "max-age=28800" in cookie.lower()
        assert "secure" not in attributes  # plain http on loopback
        value = answer.cookies[SESSION_COOKIE]
        assert ADMIN_KEY not in cookie
        expected = Session("admin0000001", "Ada Oncall", "admin", NOW + 28800)
        assert fake.signer.verify(value) == expected
        page = client.get("/")
        assert page.status_code == 200
        assert "Ada Oncall" in page.text


def test_login_over_https_marks_the_cookie_secure(served: Running) -> None:
    """Behind a TLS proxy on loopback, uvicorn takes the scheme from ``X-Forwarded-Proto``."""
    with http(served) as client:
        answer = client.post(
            "/login", data={"key": READ_KEY}, headers={"X-Forwarded-Proto": "https"}
        )
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower().split("; ")


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("amk_nobody000001_guess", 401, "Unknown API key"),
        ("hunter2", 401, "That is not an API key"),
        (REVOKED_KEY, 401, "was revoked"),
        (INGEST_KEY, 403, "can only send data"),
        ("   ", 400, "Paste an API key"),
    ],
)
def test_login_refuses_with_the_reason(
    served: Running, key: str, status: int, message: str
) -> None:
    with http(served) as client:
        answer = login(client, key)
        assert answer.status_code == status
        assert message in answer.text
        assert "set-cookie" not in answer.headers
        assert key.strip() not in answer.text or not key.strip()  # the key is not echoed back


def test_login_refuses_an_oversized_form(served: Running) -> None:
    with http(served) as client:
        answer = client.post("/login", content=b"key=" + b"a" * 20_000)
    assert answer.status_code == 413
    assert "too large" in answer.text


def test_pages_are_self_contained_and_locked_down(served: Running) -> None:
    with http(served) as client:
        login_page = client.get("/login")
        login(client, ADMIN_KEY)
        page = client.get("/")
    for answer in (login_page, page):
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-frame-options"] == "DENY"
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "connect-src 'self'" in policy
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", answer.text)
        assert "@import" not in answer.text and "url(" not in answer.text
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce is not None and f'<script nonce="{nonce.group(1)}">' in page.text


def test_signed_in_visit_to_login_goes_to_the_page(served: Running) -> None:
    with http(served) as client:
        login(client, READ_KEY)
        answer = client.get("/login")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_logout_clears_the_cookie(served: Running) -> None:
    with http(served) as client:
        login(client, ADMIN_KEY)
        answer = client.post("/logout")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?signed_out=1"
        assert f'{SESSION_COOKIE}=""' in answer.headers["set-cookie"]
        assert "max-age=0" in answer.headers["set-cookie"].lower()
        assert client.get("/").headers["location"] == "/login"


def test_a_name_in_the_page_is_escaped(fake: FakeMonitor, served: Running) -> None:
    cookie = fake.signer.issue("x1", '<script>alert("x")</script>', "read")
    with http(served) as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        page = client.get("/")
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


# ---------------------------------------------------------------------------- in Chromium


@pytest.mark.browser
def test_admin_sees_charts_incidents_route_and_actions(browser: Browser, served: Running) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    expect(page.locator("#who-name")).to_have_text("Ada Oncall")
    expect(page.locator("#who-role")).to_have_text("admin")
    expect(page.locator("#live")).to_contain_text("Live")
    expect(page.locator("#replica")).to_have_text("replica host-1a2b")

    drift = page.locator("#drift-plot svg.plot")
    expect(drift.locator("rect.bar")).to_have_count(len(PSI))
    expect(drift.locator("rect.bar.over")).to_have_count(2)
    expect(drift.locator("line.threshold")).to_have_count(1)
    features = drift.locator("rect.bar").evaluate_all("bars => bars.map(b => b.dataset.feature)")
    assert features == sorted(PSI, key=lambda f: -PSI[f])
    expect(page.locator("#drift-note")).to_contain_text("2 of 6 above 0.2")
    expect(page.locator("#accuracy-plot svg path.line")).to_have_count(1)
    expect(page.locator("#accuracy-note")).to_have_text("latest 0.842")
    expect(page.locator("#latency-plot svg path.line")).to_have_count(3)
    expect(page.locator("#throughput-plot svg path.line")).to_have_count(1)
    for plot in page.locator("svg.plot").all():
        expect(plot).to_have_attribute("role", "img")
        box = plot.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100

    rows = page.locator("#incident-list tbody tr")
    expect(rows).to_have_count(2)  # the resolved incident is not listed
    expect(rows.first).to_have_attribute("data-incident", "2")  # blocker before major
    expect(incident_row(page, 2).locator(".countdown")).to_have_text(
        re.compile(r"^overdue 1m 4\ds$")
    )
    expect(incident_row(page, 2).locator(".countdown")).to_have_class(re.compile("overdue"))
    expect(incident_row(page, 1).locator(".countdown")).to_have_text(
        re.compile(r"^in (10m 00s|9m 5\ds)$")
    )
    expect(incident_row(page, 1)).to_contain_text(HOSTILE_OWNER)  # shown as text
    expect(page.locator("#incident-list img")).to_have_count(0)
    link = incident_row(page, 1).get_by_role("link", name="Runbook for incident 1")
    expect(link).to_have_attribute("href", "https://runbooks.example.com/drift")
    expect(incident_row(page, 2).locator("a")).to_have_count(0)  # a javascript: URL is no link
    expect(page.locator("#incident-list")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="Acknowledge incident 1")).to_be_visible()
    expect(page.get_by_role("button", name="Resolve incident 2")).to_be_visible()
    expect(page.locator("#open-count")).to_have_text("2")
    wrap = page.locator("#incident-list .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth")  # the buttons are in view

    expect(page.locator("#route-target")).to_have_text("fallback")
    expect(page.locator("#route-since")).to_contain_text("since")
    expect(page.locator("#route-since")).to_contain_text("incident #2")
    expect(page.locator("#route-degraded .badge")).to_have_count(0)
    expect(page.locator("#events")).to_have_text("48,210")

    actions = page.locator("#action-list tbody tr")
    expect(actions).to_have_count(3)
    expect(actions.first).to_have_attribute("data-seq", "1")  # newest first
    expect(actions.nth(1)).to_contain_text("retrying")

    assert page.evaluate("window.pwned") is None
    page.screenshot(path=SCREENSHOT, full_page=True)
    guarded.assert_clean()


@pytest.mark.browser
def test_acknowledge_moves_an_incident_out_of_the_open_list(
    browser: Browser, fake: FakeMonitor, served: Running
) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    row = incident_row(page, 1)
    expect(row).to_have_attribute("data-status", "open")
    page.get_by_role("button", name="Acknowledge incident 1").click()
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(row.locator("td.status")).to_contain_text("acknowledged")
    expect(row.locator("td.status")).to_contain_text("by Ada Oncall")
    expect(row.get_by_role("button", name="Acknowledge incident 1")).to_have_count(0)
    expect(row.get_by_role("button", name="Resolve incident 1")).to_be_visible()
    expect(page.locator("#incidents-count")).to_have_text("1 open · 1 acknowledged")
    expect(page.locator("#open-count")).to_have_text("1")
    assert fake.calls == [("ack", 1, "Ada Oncall", "application/json")]
    assert fake.incident(1)["status"] == "acknowledged"

    # the keyboard works too: focus the other incident's button and press Enter
    page.get_by_role("button", name="Acknowledge incident 2").focus()
    page.keyboard.press("Enter")
    expect(incident_row(page, 2)).to_have_attribute("data-status", "acknowledged")
    expect(page.locator("#open-count")).to_have_text("0")
    guarded.assert_clean()


@pytest.mark.browser
def test_resolve_asks_for_confirmation(
    browser: Browser, fake: FakeMonitor, served: Running
) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    page.get_by_role("button", name="Resolve incident 2").click()
    confirm = page.get_by_role("button", name="Confirm: resolve incident 2")
    expect(confirm).to_have_text("Confirm resolve")
    assert fake.incident(2)["status"] == "open"
    confirm.click()
    expect(incident_row(page, 2)).to_have_count(0)
    assert fake.calls == [("resolve", 2, "Ada Oncall", "application/json")]

    page.get_by_role("button", name="Resolve incident 1").click()
    page.get_by_role("button", name="Confirm: resolve incident 1").click()
    expect(page.locator("#no-incidents")).to_have_text("No open incidents. Every rule is quiet.")
    expect(page.locator("#open-sub")).to_have_text("all clear")
    guarded.assert_clean()


@pytest.mark.browser
def test_an_unconfirmed_resolve_lapses(browser: Browser, served: Running) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    page.get_by_role("button", name="Resolve incident 1").click()
    expect(page.get_by_role("button", name="Confirm: resolve incident 1")).to_be_visible()
    expect(page.get_by_role("button", name="Resolve incident 1")).to_be_visible(timeout=8000)
    guarded.assert_clean()


@pytest.mark.browser
def test_a_read_role_sees_no_buttons_and_the_server_refuses(
    browser: Browser, fake: FakeMonitor, served: Running
) -> None:
    guarded = signed_in(browser, served, READ_KEY)
    page = guarded.page
    expect(page.locator("#who-role")).to_have_text("read")
    expect(page.locator("#incident-list tbody tr")).to_have_count(2)
    expect(page.locator("#incident-list button")).to_have_count(0)
    expect(page.locator("#incidents")).to_contain_text("Read-only")
    status = page.evaluate(
        """() => fetch("/v1/incidents/1/ack", {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => r.status)"""
    )
    assert status == 403
    assert fake.incident(1)["status"] == "open"
    guarded.assert_clean(allowed_errors=("403",))


@pytest.mark.browser
def test_a_wrong_key_shows_the_reason(browser: Browser, served: Running) -> None:
    guarded = Guarded(browser, served.url)
    page = guarded.page
    page.goto(served.url + "/login")
    page.get_by_label("API key").fill("amk_nobody000001_guess")
    with page.expect_response(served.url + "/login") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text(
        "Unknown API key. Check that you pasted all of it."
    )
    expect(page.get_by_label("API key")).to_have_value("")

    page.get_by_label("API key").fill(INGEST_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("can only send data")
    assert [c for c in guarded.context.cookies() if c["name"] == SESSION_COOKIE] == []
    guarded.assert_clean(allowed_errors=("401", "403"))


@pytest.mark.browser
def test_no_session_lands_on_the_login_form(browser: Browser, served: Running) -> None:
    guarded = Guarded(browser, served.url)
    page = guarded.page
    page.goto(served.url + "/")
    expect(page).to_have_url(served.url + "/login")
    expect(page.get_by_role("heading", name="Sign in to the dashboard")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_focused()
    guarded.assert_clean()


@pytest.mark.browser
def test_a_session_cookie_is_http_only_and_strict(browser: Browser, served: Running) -> None:
    guarded = signed_in(browser, served, READ_KEY)
    (cookie,) = guarded.context.cookies()
    assert cookie["name"] == SESSION_COOKIE
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert guarded.page.evaluate("document.cookie") == ""
    guarded.assert_clean()


@pytest.mark.browser
def test_an_expired_session_returns_to_login(
    browser: Browser, fake: FakeMonitor, served: Running
) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    expect(page.locator("#incident-list tbody tr")).to_have_count(2)
    fake.clock.advance(8 * 3600 + 1)
    expect(page).to_have_url(served.url + "/login?expired=1", timeout=6000)
    expect(page.get_by_role("status")).to_have_text(
        "Your session ended. Sign in again to continue."
    )
    guarded.assert_clean(allowed_errors=("401",))


@pytest.mark.browser
def test_sign_out(browser: Browser, served: Running) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(served.url + "/login?signed_out=1")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(served.url + "/")
    expect(page).to_have_url(served.url + "/login")
    guarded.assert_clean()


@pytest.mark.browser
def test_the_page_follows_the_summary(browser: Browser, fake: FakeMonitor, served: Running) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    expect(page.locator("#drift-plot rect.bar")).to_have_count(6)
    signal = fake.summary["signals"][1]
    signal["details"]["psi"]["merchant_category"] = 0.5
    fake.summary["route"] = {
        "target": "primary",
        "since": NOW,
        "incident": None,
        "degraded_mode": True,
    }
    fake.summary["incidents"].append(
        {
            "id": 4,
            "rule": "kpi-conversion",
            "signal": "kpi",
            "subject": "conversion",
            "severity": "minor",
            "owner": "growth@example.com",
            "status": "open",
            "opened_at": NOW - 5,
            "deadline": NOW + 900,
            "level": 0,
            "runbook": None,
            "fired": 1,
        }
    )
    expect(page.locator("#drift-plot rect.bar")).to_have_count(7, timeout=6000)
    expect(page.locator("#drift-plot rect.bar").first).to_have_attribute(
        "data-feature", "merchant_category"
    )
    expect(page.locator("#incident-list tbody tr")).to_have_count(3)
    expect(page.locator("#route-target")).to_have_text("primary")
    expect(page.locator("#route-degraded")).to_have_text("degraded mode")
    guarded.assert_clean()


@pytest.mark.browser
def test_empty_states_read_well(browser: Browser, fake: FakeMonitor, served: Running) -> None:
    fake.summary.update(
        route={"target": "primary", "since": None, "incident": None, "degraded_mode": False},
        stats={"events_stored": 0, "labels": 0, "kpis": 0, "busy": 0, "duplicates": 0},
        throughput=[],
        signals=[],
        history={},
        incidents=[],
        actions=[],
    )
    guarded = signed_in(browser, served, ADMIN_KEY)
    page = guarded.page
    expect(page.locator("#no-incidents")).to_have_text("No open incidents. Every rule is quiet.")
    expect(page.locator("#no-actions")).to_contain_text("No automated actions yet.")
    expect(page.locator("#drift-plot")).to_contain_text("No drift measurement yet")
    expect(page.locator("#accuracy-plot")).to_contain_text("No accuracy yet")
    expect(page.locator("#latency-plot")).to_contain_text("No latency yet.")
    expect(page.locator("#throughput-plot")).to_contain_text("No events received yet.")
    expect(page.locator("#route-since")).to_have_text(
        "Predictions go to the primary model since the service started"
    )
    expect(page.locator("#open-count")).to_have_text("0")
    page.screenshot(path="/tmp/assay-dashboard-empty.png", full_page=True)
    guarded.assert_clean()


@pytest.mark.browser
def test_a_lost_connection_is_shown(browser: Browser, fake: FakeMonitor) -> None:
    with running(fake.app) as server:
        guarded = signed_in(browser, server, ADMIN_KEY)
        expect(guarded.page.locator("#live")).to_contain_text("Live")
    expect(guarded.page.locator("#live")).to_contain_text("Connection lost", timeout=6000)
    expect(guarded.page.locator("#incident-list tbody tr")).to_have_count(2)  # last known state
    guarded.assert_clean(allowed_errors=("ERR_CONNECTION_REFUSED", "Failed to fetch"))


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 760])
def test_the_page_fits_the_window(browser: Browser, served: Running, width: int) -> None:
    guarded = signed_in(browser, served, ADMIN_KEY, width=width)
    page = guarded.page
    expect(page.locator("#incident-list tbody tr")).to_have_count(2)
    expect(page.locator("#drift-plot rect.bar")).to_have_count(6)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for plot in page.locator("svg.plot").all():
        box = plot.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    if width == 760:
        page.screenshot(path="/tmp/assay-dashboard-narrow.png", full_page=True)
    guarded.assert_clean()


@pytest.mark.browser
def test_the_login_page_renders(browser: Browser, served: Running) -> None:
    guarded = Guarded(browser, served.url, width=1000, height=700)
    guarded.page.goto(served.url + "/login")
    guarded.page.screenshot(path="/tmp/assay-dashboard-login.png")
    expect(guarded.page.get_by_role("button", name="Sign in")).to_be_visible()
    guarded.assert_clean()
