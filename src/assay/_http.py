"""What the HTTP clients (model endpoints, chat endpoints, access probes) share."""

from __future__ import annotations

import urllib.error


def network_problem(exc: BaseException, timeout: float) -> str:
    """A request that got no answer, in words: timed out, refused, or why it failed."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within the timeout of {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    return f"the request failed ({type(reason).__name__}: {reason})"
