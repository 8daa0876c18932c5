"""The monitor's dashboard: a sign-in page and one self-contained live page.

``GET /login`` asks for an API key; ``POST /login`` checks it once and hands out a signed
session cookie (:mod:`assay.monitor.sessions`), so the key itself never stays in the browser.
``GET /`` serves the dashboard, a single HTML document with its CSS and JavaScript inline
(no CDN, no web fonts: the monitor may run air-gapped). The page polls ``GET /v1/summary``
every two seconds and draws its charts as inline SVG; acknowledging or resolving an incident
posts JSON to the incidents API with the same cookie. docs/monitor-dashboard.md describes the
page, the session model and the summary it reads.

Roles: ``read`` and ``admin`` keys may sign in (``ingest`` keys may not: they only send data);
only ``admin`` sees the Acknowledge and Resolve buttons, and the API refuses the calls to
anybody else anyway (403).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from assay.monitor.keys import allows
from assay.monitor.sessions import SessionSigner

SESSION_COOKIE: Final = "assay_session"
"""The cookie's name; the same as ``assay.monitor.app.SESSION_COOKIE``."""

VIEW_ROLE: Final = "read"
"""The role a key needs to sign in and see the page (``admin`` includes it)."""

ACT_ROLE: Final = "admin"
"""The role that acknowledges and resolves incidents; the page shows their buttons only to it."""

SUMMARY_PATH: Final = "/v1/summary"
MAX_LOGIN_BYTES: Final = 8192
"""A sign-in form is one key; a bigger body is refused unread (413)."""

LOGIN_MESSAGES: Final = {
    "missing": "Paste an API key to sign in.",
    "malformed": "That is not an API key: keys look like amk_<id>_<secret>.",
    "unknown": "Unknown API key. Check that you pasted all of it.",
    "bad_secret": "Unknown API key. Check that you pasted all of it.",
    "revoked": "This API key was revoked. Ask an admin for a new one.",
}
INGEST_REFUSED: Final = (
    "Key {key_id} has the role {role!r}, which can only send data. Sign in with a key that "
    "has the read or admin role."
)
NOTICES: Final = {
    "expired": "Your session ended. Sign in again to continue.",
    "signed_out": "You are signed out.",
}

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class CallerLike(Protocol):
    """What ``caller_of`` returns: ``assay.monitor.app.Caller`` or anything shaped like it."""

    @property
    def key_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def mount_dashboard(
    app: FastAPI,
    *,
    verify_key: Callable[[str], Any],
    sessions: SessionSigner,
    caller_of: Callable[[Request], CallerLike],
    poll_seconds: float = 2.0,
) -> None:
    """Add ``GET /login``, ``POST /login``, ``POST /logout`` and ``GET /`` to ``app``.

    ``verify_key(token)`` checks a pasted key: a result with ``key_id``, ``name`` and ``role``
    when it is good (``assay.monitor.keys.Verified``), otherwise one with a ``reason``
    (``Failure``); it should count revoked keys as bad. ``sessions`` signs the cookie.
    ``caller_of(request)`` says who a request comes from (the app's own: session cookie or
    bearer key) and raises an error with ``status`` 401 when nobody signed in; the dashboard
    then sends the browser to ``/login``. ``poll_seconds`` is how often the page refreshes.
    """
    if not poll_seconds > 0:
        raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
    lifetime = _duration(sessions.ttl)

    def form(*, error: str | None = None, notice: str | None = None, status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(18)
        page = (
            _environment()
            .get_template("login.html")
            .render(
                nonce=nonce,
                css=_asset("monitor.css"),
                error=error,
                notice=notice,
                lifetime=lifetime,
            )
        )
        return HTMLResponse(page, status_code=status, headers=_page_headers(nonce, scripts=False))

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        if sessions.verify(request.cookies.get(SESSION_COOKIE)) is not None:
            return _redirect("/")
        notice = next(
            (text for flag, text in NOTICES.items() if flag in request.query_params), None
        )
        return form(notice=notice)

    @app.post("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_LOGIN_BYTES:
            return form(error="The form is too large: paste only the key.", status=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BYTES:
                return form(error="The form is too large: paste only the key.", status=413)
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=20)
        token = (fields.get("key") or [""])[0].strip()
        if not token:
            return form(error=LOGIN_MESSAGES["missing"], status=400)
        result = await run_in_threadpool(verify_key, token)
        role = getattr(result, "role", None)
        if not isinstance(role, str):
            reason = str(getattr(result, "reason", "unknown"))
            message = LOGIN_MESSAGES.get(reason, LOGIN_MESSAGES["unknown"])
            return form(error=message, status=401)
        if not allows(role, VIEW_ROLE):
            message = INGEST_REFUSED.format(key_id=result.key_id, role=role)
            return form(error=message, status=403)
        cookie = sessions.issue(str(result.key_id), str(result.name), role)
        response = _redirect("/")
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(sessions.ttl),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        response = _redirect("/login?signed_out=1")
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        try:
            caller = await run_in_threadpool(caller_of, request)
        except Exception as exc:
            if _status_of(exc) == 401:
                return _redirect("/login")
            raise
        if not allows(caller.role, VIEW_ROLE):
            response = form(
                error=INGEST_REFUSED.format(key_id=caller.key_id, role=caller.role), status=403
            )
            response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
            return response
        nonce = secrets.token_urlsafe(18)
        page = (
            _environment()
            .get_template("dashboard.html")
            .render(
                nonce=nonce,
                css=_asset("monitor.css"),
                js=_asset("dashboard.js"),
                name=caller.name,
                role=caller.role,
                key_id=caller.key_id,
                can_act=allows(caller.role, ACT_ROLE),
                summary_url=SUMMARY_PATH,
                poll_ms=round(poll_seconds * 1000),
                poll_text=f"{poll_seconds:g}",
            )
        )
        return HTMLResponse(page, headers=_page_headers(nonce, scripts=True))


def _duration(seconds: float) -> str:
    """``28800`` → ``8 hours``; ``90`` → ``90 seconds``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def _page_headers(nonce: str, *, scripts: bool) -> dict[str, str]:
    """Headers of an HTML page: no caching, no framing, and a policy that lets the page run
    only its own inline style and script and talk only to its own origin."""
    script = f"'nonce-{nonce}'" if scripts else "'none'"
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src {script}; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {**_HEADERS, "Content-Security-Policy": policy}


def _status_of(exc: Exception) -> int | None:
    """The HTTP status an exception from ``caller_of`` stands for (``ApiError.status`` or
    ``HTTPException.status_code``), if any."""
    for attribute in ("status", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    return None


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("assay.monitor", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _asset(name: str) -> Markup:
    """A stylesheet or script from the templates folder, to inline as it is (it must not
    close its own element)."""
    text = (resources.files("assay.monitor") / "templates" / name).read_text(encoding="utf-8")
    closing = "</style" if name.endswith(".css") else "</script"
    if closing in text.lower():
        raise ValueError(f"{name} must not contain {closing}")
    return Markup(text)
