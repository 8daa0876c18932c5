"""Access control of the spec's ``serving:`` endpoint, and its access log.

Two checks (docs/checks-security-access.md):

- ``security.access_control`` sends the spec's harmless ``request`` to the endpoint without
  credentials and with a wrong key — a random key derived from the spec's seed — and both must
  be refused with 401 or 403; with ``key_env`` set and the variable present, the same request
  with that key must not be refused, or the refusals prove nothing. The key is sent in
  ``auth_header`` as ``<auth_scheme> <key>`` and never stored: evidence names only the
  variable, and a response that echoes a key has it replaced by ``***redacted***``.
- ``security.access_log`` reads the declared ``access_log`` (JSON lines or Apache/nginx
  combined format) and measures how many entries say who accessed what, and when.

An endpoint that is down, slow, answers 5xx, or answers 2xx with a body that is not JSON is an
``error`` finding naming the URL and what happened; the rest of the audit runs.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from assay._http import network_problem
from assay.checks._access_log import LogStats, Secrets, read_log, unreadable
from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.spec.models import ServingEndpoint

MAX_BODY = 65_536
"""Bytes of a response read: enough to tell JSON from a web page."""

# --------------------------------------------------------------------------- access control

Outcome = Literal["refused", "accepted", "unclear", "error", "not sent"]

PROBES = {
    "no_credentials": "without credentials",
    "wrong_key": "with a wrong key",
    "valid_key": "with the valid key",
}
"""Probe name → how its request was made (for messages)."""

ACCEPTED = "{url} served requests that had no valid key: {probes}{errors}."
UNREACHABLE = "{url}: {problems}. Access control is not verified."
VALID_REFUSED = (
    "{url} refused the valid key from {source} too (HTTP {status}), so its refusals of the "
    "other probes ({probes}) cannot be told from an endpoint that refuses everything. Access "
    "control is not verified."
)
REFUSED = "{url} refused every request without a valid key ({probes}); {valid}."
UNCLEAR = (
    "{url} did not clearly refuse every request without a valid key ({probes}): only 401 or "
    "403 is a refusal; {valid}."
)

FIX_UNREACHABLE = (
    "Make the endpoint reachable from where the audit runs and answer within "
    "`serving.timeout` with JSON (set `serving.request` to a request it can serve); the "
    "message says what failed. Access control is not verified until the audit runs again."
)
FIX_VALID_REFUSED = (
    "Put a key the endpoint accepts in the variable named by `serving.key_env` (and check "
    "`auth_header` and `auth_scheme`), or fix the endpoint if it refuses every key."
)
FIX_UNCLEAR = (
    "Answer requests without a valid credential with 401 (or 403) before any other "
    "processing, rather than a redirect or another 4xx; check `serving.url` if it is a 404."
)


@dataclass(frozen=True)
class ProbeResult:
    """One request to the endpoint and what came back (never the key)."""

    name: str
    status: int | None
    outcome: Outcome
    problem: str = ""
    response: str = ""

    @property
    def summary(self) -> str:
        """``without credentials → HTTP 401``, or what went wrong instead."""
        what = f"HTTP {self.status}" if self.outcome in ("refused", "accepted") else self.problem
        return f"{PROBES[self.name]} → {what}"

    def to_json(self) -> dict[str, Any]:
        return {
            "probe": self.name,
            "request": PROBES[self.name],
            "status": self.status,
            "outcome": self.outcome,
            "problem": self.problem,
            "response": self.response,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect instead of following it (a redirect to a login page is no 401)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def wrong_key(params: CheckParams, valid: str | None) -> str:
    """A random key, derived from the spec's seed, that is not the valid one."""
    rng = random.Random(params.rng_seed("serving", "wrong_key"))
    while True:
        key = "assay-probe-" + "".join(rng.choices("0123456789abcdef", k=32))
        if key != valid:
            return key


def resolve_key(
    endpoint: ServingEndpoint, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The valid key and where it came from, or why there is none (safe to store)."""
    environ = os.environ if environ is None else environ
    if endpoint.key_env is None:
        return None, "no `key_env`"
    key = environ.get(endpoint.key_env) or None
    if key is None:
        return None, f"environment variable {endpoint.key_env} is not set"
    return key, f"environment variable {endpoint.key_env}"


def send_probe(
    endpoint: ServingEndpoint, name: str, key: str | None, secrets: Secrets
) -> ProbeResult:
    """Send the spec's request once, with ``key`` (or no credential), and classify the answer."""
    headers = {"Accept": "application/json"}
    body = None
    if endpoint.method == "POST":
        body = endpoint.request.encode()
        headers["Content-Type"] = "application/json"
    if key is not None:
        scheme = endpoint.auth_scheme.strip()
        headers[endpoint.auth_header] = f"{scheme} {key}" if scheme else key
    request = urllib.request.Request(
        endpoint.url, data=body, method=endpoint.method, headers=headers
    )
    try:
        with _OPENER.open(request, timeout=endpoint.timeout) as response:
            status, reason = response.status, response.reason
            raw = response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        with exc:
            status, reason = exc.code, exc.reason
            raw = exc.read(MAX_BODY) if exc.fp is not None else b""
            location = exc.headers.get("Location", "") if exc.headers else ""
    except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        return ProbeResult(name, None, "error", network_problem(exc, endpoint.timeout))
    else:
        location = ""
    text = raw.decode("utf-8", errors="replace")
    snippet = secrets.snippet(text)
    if status in (401, 403):
        return ProbeResult(name, status, "refused", response=snippet)
    if status >= 500:
        problem = f"the endpoint answered HTTP {status} {reason}"
        return ProbeResult(name, status, "error", problem, snippet)
    if 200 <= status < 300:
        if text.strip():
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                problem = (
                    f"the endpoint answered HTTP {status} with a body that is not JSON "
                    f"({exc.msg} at character {exc.pos})"
                )
                return ProbeResult(name, status, "error", problem, snippet)
        return ProbeResult(name, status, "accepted", response=snippet)
    if 300 <= status < 400:
        where = f" to {secrets.snippet(location)}" if location else ""
        problem = f"a redirect (HTTP {status}{where}), not a refusal"
        return ProbeResult(name, status, "unclear", problem, snippet)
    problem = f"HTTP {status} {reason}, not a refusal"
    return ProbeResult(name, status, "unclear", problem, snippet)


def run_probes(
    endpoint: ServingEndpoint, params: CheckParams, environ: Mapping[str, str] | None = None
) -> tuple[list[ProbeResult], str]:
    """The probes' results in order, and where the valid key came from.

    After a probe that got no answer (down, timed out), the rest are not sent: they would only
    wait for the same timeout.
    """
    valid, source = resolve_key(endpoint, environ)
    wrong = wrong_key(params, valid)
    secrets = Secrets([k for k in (valid, wrong) if k])
    plan: list[tuple[str, str | None]] = [("no_credentials", None), ("wrong_key", wrong)]
    if valid is not None:
        plan.append(("valid_key", valid))
    results: list[ProbeResult] = []
    for name, key in plan:
        if any(r.outcome == "error" and r.status is None for r in results):
            results.append(ProbeResult(name, None, "not sent", "an earlier probe got no answer"))
        else:
            results.append(send_probe(endpoint, name, key, secrets))
    return results, source


@check(
    "security.access_control",
    domain="security",
    title="Serving endpoint refuses requests without a valid key",
    severity=Severity.BLOCKER,
    thresholds=(Threshold("accepted_probes", fail=0), Threshold("unclear_probes", warn=0)),
    requires=("serving",),
    remediation="Require a valid credential on every request to the endpoint — an API gateway "
    "or middleware that answers 401 to a missing or unknown key and 403 to a key without the "
    "right — and audit again.",
)
def access_control(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding (subject ``serving``) from two or three probes of the endpoint."""
    endpoint = ctx.spec.serving
    assert endpoint is not None
    probes, source = run_probes(endpoint, params)
    key_sent = any(p.name == "valid_key" for p in probes)
    evidence = ctx.add_artefact(
        "security/access_control.json",
        {
            "url": endpoint.url,
            "method": endpoint.method,
            "auth_header": endpoint.auth_header,
            "auth_scheme": endpoint.auth_scheme,
            "valid_key": source if key_sent else f"not sent: {source}",
            "wrong_key": "a random key derived from the spec's seed (not stored)",
            "timeout": endpoint.timeout,
            "probes": [p.to_json() for p in probes],
        },
    )
    return [_judge_access(params, endpoint, probes, source, (evidence,))]


def _judge_access(
    params: CheckParams,
    endpoint: ServingEndpoint,
    probes: list[ProbeResult],
    source: str,
    evidence: tuple[str, ...],
) -> Finding:
    url = endpoint.url
    unauthorised = [p for p in probes if p.name != "valid_key" and p.outcome != "not sent"]
    valid = next((p for p in probes if p.name == "valid_key"), None)
    accepted = [p for p in unauthorised if p.outcome == "accepted"]
    unclear = [p for p in unauthorised if p.outcome == "unclear"]
    errors = [p for p in probes if p.outcome == "error"]
    metrics: dict[str, Metric] = {
        "n_probes": sum(p.outcome != "not sent" for p in probes),
        "accepted_probes": len(accepted),
        "unclear_probes": len(unclear),
        "refused_probes": sum(p.outcome == "refused" for p in unauthorised),
        "error_probes": len(errors),
        "valid_key_refused": None,
    }
    undefined: dict[str, str] = {}
    if valid is None:
        undefined["valid_key_refused"] = f"no valid key was sent ({source})"
    elif valid.outcome in ("error", "not sent"):
        undefined["valid_key_refused"] = "the valid-key probe got no usable answer"
    else:
        metrics["valid_key_refused"] = int(valid.outcome == "refused")
    finding = partial(
        params.finding, "serving", metrics=metrics, undefined=undefined, evidence=evidence
    )
    if accepted:
        note = "; " + "; ".join(p.summary for p in errors) if errors else ""
        limit = params.thresholds["accepted_probes"]
        return finding(
            status=limit.grade(len(accepted)) or Status.FAIL,
            message=ACCEPTED.format(
                url=url, probes=", ".join(p.summary for p in accepted), errors=note
            ),
            threshold=limit,
        )
    if errors:
        problems = "; ".join(f"the request {PROBES[p.name]}: {p.problem}" for p in errors)
        return finding(
            status=Status.ERROR,
            message=UNREACHABLE.format(url=url, problems=problems),
            remediation=FIX_UNREACHABLE,
        )
    refusals = ", ".join(p.summary for p in unauthorised)
    if valid is not None and valid.outcome == "refused":
        return finding(
            status=Status.ERROR,
            message=VALID_REFUSED.format(
                url=url, source=source, status=valid.status, probes=refusals
            ),
            remediation=FIX_VALID_REFUSED,
        )
    if valid is not None:
        said = f"the valid key from {source} was not refused (HTTP {valid.status})"
    else:
        said = f"no valid key was sent ({source}), so an endpoint refusing every key passes too"
    if unclear:
        return finding(
            status=params.thresholds["unclear_probes"].grade(len(unclear)) or Status.WARN,
            message=UNCLEAR.format(url=url, probes=refusals, valid=said),
            threshold=params.thresholds["unclear_probes"],
            remediation=FIX_UNCLEAR,
        )
    return finding(
        status=Status.PASS,
        message=REFUSED.format(url=url, probes=refusals, valid=said),
        threshold=params.thresholds["accepted_probes"],
    )


# --------------------------------------------------------------------------------- access log


LOG_NOT_DECLARED = (
    "the `serving:` endpoint declares no `access_log`, so nothing shows who accessed it."
)
LOG_UNREADABLE = "the access log {path} {problem}; owner: {owner}."
LOG_SUMMARY = (
    "{path} ({format}): {n_entries} entries in {n_lines} lines; {who} of the served requests "
    "without who, {what} without what, {when} without when, {malformed} malformed lines{worst}."
)
FIX_LOG = (
    "Log every request to the endpoint with who made it (a user, key or client id — never the "
    "key itself), what it accessed (the path or model) and when; in combined format, put the "
    "caller in the remote-user field, or log JSON lines with `key_id`, `path` and `timestamp`."
)


ORDER = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@check(
    "security.access_log",
    domain="security",
    title="Access log records who accessed what, and when",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("n_entries", fail=1, direction="min"),
        Threshold("malformed_ratio", warn=0.01, fail=0.1),
        Threshold("missing_who_ratio", warn=0, fail=0.05),
        Threshold("missing_what_ratio", warn=0, fail=0.05),
        Threshold("missing_when_ratio", warn=0, fail=0.05),
    ),
    requires=("serving",),
    remediation=FIX_LOG,
)
def access_log(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding (subject ``serving:access_log``) about the declared access log."""
    endpoint = ctx.spec.serving
    assert endpoint is not None
    subject = "serving:access_log"
    if endpoint.access_log is None:
        return [
            params.finding(
                subject,
                status=Status.SKIPPED,
                message=LOG_NOT_DECLARED,
                remediation="Declare the endpoint's access log as `serving.access_log` "
                "(and `access_log_format`) so the audit can check it.",
            )
        ]
    path = ctx.spec.resolve(endpoint.access_log)
    fmt = endpoint.access_log_format
    problem = unreadable(path)
    valid, _ = resolve_key(endpoint)
    stats = LogStats()
    if problem is None:
        try:
            stats = read_log(path, fmt, Secrets([valid] if valid else []))
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    metrics, undefined = stats.metrics()
    if problem is not None:
        undefined = {name: f"the log {problem}" for name, v in metrics.items() if v is None}
        return [
            params.finding(
                subject,
                status=Status.FAIL,
                message=LOG_UNREADABLE.format(path=path, problem=problem, owner=params.owner),
                metrics=metrics,
                undefined=undefined,
                threshold=params.thresholds["n_entries"],
            )
        ]
    evidence = ctx.add_artefact(
        "security/access_log.json",
        {
            "path": str(endpoint.access_log),
            "format": fmt,
            "metrics": metrics,
            "undefined": undefined,
            "fields": stats.fields,
            "examples": stats.examples,
        },
    )
    status, threshold, worst = Status.PASS, params.thresholds["n_entries"], ""
    for metric, limit in params.thresholds.items():
        value = metrics.get(metric)
        grade = limit.grade(None if value is None else float(value))
        if grade is not None and ORDER[grade] > ORDER[status]:
            status, threshold = grade, limit
            worst = f"; {limit.describe()} is breached ({metric} = {_show(value)})"
    message = LOG_SUMMARY.format(
        path=path,
        format=fmt,
        n_entries=stats.n_entries,
        n_lines=stats.n_lines,
        who=_share(metrics["missing_who_ratio"]),
        what=_share(metrics["missing_what_ratio"]),
        when=_share(metrics["missing_when_ratio"]),
        malformed=stats.malformed,
        worst=worst,
    )
    return [
        params.finding(
            subject,
            status=status,
            message=message,
            metrics=metrics,
            undefined=undefined,
            threshold=threshold,
            evidence=(evidence,),
        )
    ]


def _share(value: Metric) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"


def _show(value: Metric) -> str:
    return "n/a" if value is None else f"{value:g}"
