"""security.access_control and security.access_log: full audits against real loopback HTTP
servers — a SECURE endpoint (401 without or with a wrong key, 200 with the right one) and an
INSECURE one (200 for everyone) — and against endpoints that are down, slow, failing or
answering with a web page; the access-log check on JSON-lines and combined-format logs."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.api import AuditResult, execute
from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.checks.security_access import (
    FIX_UNREACHABLE,
    LOG_NOT_DECLARED,
    LOG_UNREADABLE,
    PROBES,
    REFUSED,
    UNREACHABLE,
)
from assay.policy import params_for
from assay.runner import plan
from assay.spec.loader import spec_from_mapping

load_builtin()

KEY = "srv-Qm7Zt2Lx9Pw4Kc8Vb1Nr"
CHECKS = ("security.access_control", "security.access_log")


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("SERVING_KEY", KEY)


# ----------------------------------------------------------------------------- the endpoints


def _handler(kind: str, seen: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            auth = self.headers.get("Authorization") or ""
            seen.append(auth)
            with suppress(OSError):  # the client may have given up (slow)
                self._answer(auth)

        def do_GET(self) -> None:
            self.do_POST()

        def _answer(self, auth: str) -> None:
            if kind == "secure":
                if auth == f"Bearer {KEY}":
                    # Echoes the key: the check must scrub it from its evidence.
                    self._send(200, {"predictions": [], "caller": auth, "method": self.command})
                else:
                    self._send(401, {"error": "invalid API key", "got": auth})
            elif kind == "insecure":
                self._send(200, {"predictions": []})
            elif kind == "refuse_all":
                self._send(401, {"error": "invalid API key"})
            elif kind == "redirect":
                self.send_response(302)
                self.send_header("Location", "/login")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif kind == "failing":
                self._send(500, {"error": "model crashed"})
            elif kind == "html":
                body = b"<html><body>Welcome</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif kind == "slow":
                time.sleep(0.5)
                self._send(200, {"predictions": []})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(kind: str) -> Iterator[tuple[str, list[str]]]:
    """A loopback endpoint of ``kind``: its URL and the Authorization headers it received."""
    seen: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(kind, seen))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/predict", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def audit(root: Path, serving: dict[str, Any], **extra: Any) -> AuditResult:
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"x": [1, 2, 3, None]}), root / "train.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "pricing model"},
            "datasets": {"train": {"path": "train.parquet"}},
            "serving": {"key_env": "SERVING_KEY", **serving},
            **extra,
        },
        base_dir=root,
    )
    return execute(spec, repo=root / "repo")


def found(result: AuditResult, check_id: str) -> Finding:
    (finding,) = [f for f in result.run.findings if f.check_id == check_id]
    return finding


def stored_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / "repo").rglob("*")) if p.is_file())


# ---------------------------------------------------------------------------- access control


def test_the_secure_endpoint_passes(tmp_path: Path) -> None:
    with serve("secure") as (url, seen):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_control")
    assert finding.status is Status.PASS and finding.subject == "serving"
    assert finding.message == REFUSED.format(
        url=url,
        probes="without credentials → HTTP 401, with a wrong key → HTTP 401",
        valid="the valid key from environment variable SERVING_KEY was not refused (HTTP 200)",
    )
    assert finding.metrics == {
        "n_probes": 3,
        "accepted_probes": 0,
        "unclear_probes": 0,
        "refused_probes": 2,
        "error_probes": 0,
        "valid_key_refused": 0,
    }
    assert seen[0] == "" and seen[2] == f"Bearer {KEY}"
    assert seen[1].startswith("Bearer assay-probe-") and KEY not in seen[1]


def test_a_get_endpoint_is_probed_with_get(tmp_path: Path) -> None:
    with serve("secure") as (url, seen):
        result = audit(tmp_path, {"url": url, "method": "GET"})
    finding = found(result, "security.access_control")
    assert finding.status is Status.PASS and len(seen) == 3
    record = json.loads(result.load(finding.evidence[0]))
    assert record["method"] == "GET" and '"method": "GET"' in record["probes"][2]["response"]


def test_the_insecure_endpoint_fails_naming_each_probe(tmp_path: Path) -> None:
    with serve("insecure") as (url, _):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_control")
    assert finding.status is Status.FAIL
    assert finding.message == (
        f"{url} served requests that had no valid key: without credentials → HTTP 200, "
        "with a wrong key → HTTP 200."
    )
    assert finding.metrics["accepted_probes"] == 2 and finding.metrics["valid_key_refused"] == 0
    assert finding.threshold is not None and finding.threshold.metric == "accepted_probes"
    assert result.run.verdict.status == "fail"  # a blocker


def test_the_wrong_key_is_derived_from_the_seed(tmp_path: Path) -> None:
    with serve("secure") as (url, seen):
        audit(tmp_path / "a", {"url": url})
        audit(tmp_path / "b", {"url": url})
        audit(tmp_path / "c", {"url": url}, seed=7)
    wrong = seen[1::3]
    assert wrong[0] == wrong[1] != wrong[2]


def test_the_key_never_reaches_the_stored_run(tmp_path: Path) -> None:
    with serve("secure") as (url, seen):
        result = audit(tmp_path, {"url": url})
    assert f"Bearer {KEY}" in seen  # it was sent, and the endpoint echoed it back
    finding = found(result, "security.access_control")
    record = json.loads(result.load(finding.evidence[0]))
    assert record["valid_key"] == "environment variable SERVING_KEY"
    assert [(p["probe"], p["status"], p["outcome"]) for p in record["probes"]] == [
        ("no_credentials", 401, "refused"),
        ("wrong_key", 401, "refused"),
        ("valid_key", 200, "accepted"),
    ]
    assert "***redacted***" in record["probes"][1]["response"]  # the wrong key, echoed
    assert "***redacted***" in record["probes"][2]["response"]  # the valid key, echoed
    wrong = seen[1].removeprefix("Bearer ")
    raw = stored_bytes(tmp_path) + json.dumps([f.to_json() for f in result.run.findings]).encode()
    assert KEY.encode() not in raw
    assert wrong.encode() not in raw


def test_without_a_key_the_valid_probe_is_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVING_KEY")
    with serve("refuse_all") as (url, seen):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_control")
    assert len(seen) == 2
    assert finding.status is Status.PASS
    assert "no valid key was sent (environment variable SERVING_KEY is not set)" in (
        finding.message
    )
    assert finding.metrics["valid_key_refused"] is None
    assert finding.undefined == {
        "valid_key_refused": "no valid key was sent (environment variable SERVING_KEY is not set)"
    }


def test_an_endpoint_that_refuses_the_valid_key_too_is_not_verified(tmp_path: Path) -> None:
    with serve("refuse_all") as (url, _):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_control")
    assert finding.status is Status.ERROR
    assert finding.message.startswith(
        f"{url} refused the valid key from environment variable SERVING_KEY too (HTTP 401)"
    )
    assert finding.metrics["valid_key_refused"] == 1


def test_a_redirect_is_no_refusal(tmp_path: Path) -> None:
    with serve("redirect") as (url, _):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_control")
    assert finding.status is Status.WARN
    assert "without credentials → a redirect (HTTP 302 to /login), not a refusal" in (
        finding.message
    )
    assert finding.metrics["unclear_probes"] == 2


NO_ANSWER = {
    "down": "the connection was refused",
    "slow": "no answer within the timeout of 0.05 s",
}
ANSWER = {
    "failing": "the endpoint answered HTTP 500 Internal Server Error",
    "html": "the endpoint answered HTTP 200 with a body that is not JSON (Expecting value at "
    "character 0)",
}


@pytest.mark.parametrize("kind", ["down", "slow", "failing", "html"])
def test_a_broken_endpoint_is_an_error_and_the_audit_goes_on(tmp_path: Path, kind: str) -> None:
    if kind == "down":
        url = f"http://127.0.0.1:{closed_port()}/v1/predict"
        result = audit(tmp_path, {"url": url, "timeout": 0.05})
        seen: list[str] = []
    else:
        with serve(kind) as (url, seen):
            result = audit(tmp_path, {"url": url, "timeout": 0.05})
    if kind in NO_ANSWER:  # the first probe got no answer: the others were not sent
        problems = f"the request without credentials: {NO_ANSWER[kind]}"
        assert len(seen) <= 1
    else:
        problems = "; ".join(f"the request {how}: {ANSWER[kind]}" for how in PROBES.values())
        assert len(seen) == 3
    finding = found(result, "security.access_control")
    assert finding.status is Status.ERROR
    assert finding.message == UNREACHABLE.format(url=url, problems=problems)
    assert finding.metrics["accepted_probes"] == 0
    assert finding.remediation == FIX_UNREACHABLE
    others = [f for f in result.run.findings if f.check_id.startswith("integrity.")]
    assert any(f.status in (Status.WARN, Status.FAIL) for f in others)  # the nulls in x


def test_without_a_serving_endpoint_the_checks_are_not_applicable() -> None:
    spec = spec_from_mapping({"version": 1, "system": {"name": "tabular"}})
    reasons = {p.info.id: p.skip for p in plan(spec) if p.info.id in CHECKS}
    assert reasons == dict.fromkeys(
        CHECKS, "not applicable: needs a `serving:` endpoint (the deployed prediction endpoint)"
    )


# -------------------------------------------------------------------------------- access log


def check_log(root: Path, text: str | None, fmt: str = "jsonl") -> tuple[Finding, dict[str, Any]]:
    """Run security.access_log on a log with ``text`` (``None``: no file)."""
    root.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (root / "access.log").write_text(text)
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "pricing model"},
            "serving": {
                "url": "http://127.0.0.1:9/predict",
                "access_log": "access.log",
                "access_log_format": fmt,
            },
        },
        base_dir=root,
    )
    ctx = Context(spec, {})
    info = REGISTRY["security.access_log"]
    (finding,) = info.function(ctx, params_for(info, spec))
    evidence: dict[str, Any] = {}
    if finding.evidence:
        ((_, raw),) = ctx.artefacts.values()
        evidence = json.loads(raw)
    return finding, evidence


def jsonl(*entries: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def test_a_good_jsonl_log_passes(tmp_path: Path) -> None:
    text = jsonl(
        *(
            {"ts": f"2024-05-01T10:00:0{i}Z", "key_id": f"k{i}", "path": "/v1/predict"}
            for i in range(5)
        ),
        {"@timestamp": "2024-05-01T10:01:00Z", "user": {"id": 7}, "request": {"uri": "/v1"}},
        {"timestamp": "2024-05-01T10:02:00Z", "path": "/v1/predict", "status": 401},
    )
    finding, evidence = check_log(tmp_path, text)
    assert finding.status is Status.PASS, finding.message
    assert finding.metrics == {
        "n_lines": 7,
        "n_entries": 7,
        "n_refused": 1,
        "malformed_lines": 0,
        "malformed_ratio": 0.0,
        "missing_who_ratio": 0.0,
        "missing_what_ratio": 0.0,
        "missing_when_ratio": 0.0,
    }
    assert evidence["fields"] == {
        "who": {"key_id": 5, "user": 1},
        "what": {"path": 6, "uri": 1},
        "when": {"ts": 5, "@timestamp": 1, "timestamp": 1},
    }
    assert evidence["path"] == "access.log" and evidence["format"] == "jsonl"


def test_anonymous_entries_fail_with_masked_examples(tmp_path: Path) -> None:
    named = [{"time": "t", "user_id": "u1", "endpoint": "/predict"}] * 6
    anonymous = [
        {"time": "t", "user": "-", "endpoint": "/predict", "email": "dana.whitfield@example.com"},
        {"time": "t", "user": None, "endpoint": "/predict"},
        {"time": "t", "endpoint": "/predict", "client_ip": "203.0.113.9"},
        {"time": "t", "user_id": "u2"},
    ]
    finding, evidence = check_log(tmp_path, jsonl(*named, *anonymous))
    assert finding.status is Status.FAIL
    assert finding.metrics["missing_who_ratio"] == pytest.approx(0.3)
    assert finding.metrics["missing_what_ratio"] == pytest.approx(0.1)
    assert finding.threshold is not None and finding.threshold.metric == "missing_who_ratio"
    assert finding.message == (
        f"{tmp_path / 'access.log'} (jsonl): 10 entries in 10 lines; 30.0% of the served "
        "requests without who, 10.0% without what, 0.0% without when, 0 malformed lines; "
        "missing_who_ratio ≤ 0 (warn), ≤ 0.05 (fail) is breached (missing_who_ratio = 0.3)."
    )
    examples = evidence["examples"]["missing_who"]
    assert len(examples) == 3
    assert "d***@e***.com" in examples[0] and "dana.whitfield" not in json.dumps(evidence)
    assert "203.*.*.*" in examples[2]


def test_a_combined_log_reads_the_remote_user(tmp_path: Path) -> None:
    lines = [
        '10.0.0.1 - alice [01/May/2024:10:00:00 +0000] "POST /v1/predict HTTP/1.1" 200 51 '
        '"-" "python-requests/2.31"',
        '10.0.0.2 - key-7f3a [01/May/2024:10:00:01 +0000] "POST /v1/predict HTTP/1.1" 200 51 '
        '"-" "curl/8.0"',
        '10.0.0.3 - - [01/May/2024:10:00:02 +0000] "POST /v1/predict HTTP/1.1" 401 0 "-" "-"',
        '10.0.0.4 - - [01/May/2024:10:00:03 +0000] "POST /v1/predict HTTP/1.1" 200 51 "-" "-"',
    ]
    finding, evidence = check_log(tmp_path, "\n".join(lines) + "\n", fmt="combined")
    assert finding.status is Status.FAIL  # one of three served requests is anonymous
    assert finding.metrics["n_entries"] == 4 and finding.metrics["n_refused"] == 1
    assert finding.metrics["missing_who_ratio"] == pytest.approx(1 / 3)
    assert finding.metrics["missing_what_ratio"] == 0.0
    assert finding.metrics["missing_when_ratio"] == 0.0
    assert evidence["examples"]["missing_who"] == [
        '10.*.*.* - - [01/May/2024:10:00:03 +0000] "POST /v1/predict HTTP/1.1" 200 51 "-" "-"'
    ]
    good, _ = check_log(tmp_path / "good", "\n".join(lines[:3]) + "\n", fmt="combined")
    assert good.status is Status.PASS, good.message


def test_malformed_lines_are_counted(tmp_path: Path) -> None:
    good = jsonl(*[{"ts": "t", "key_id": "k", "path": "/p"}] * 18)
    finding, evidence = check_log(tmp_path, good + "not json at all\n[1, 2]\n")
    assert finding.metrics["malformed_lines"] == 2 and finding.metrics["n_entries"] == 18
    assert finding.metrics["malformed_ratio"] == pytest.approx(0.1)
    assert finding.status is Status.WARN  # 10 % is at the fail level, not beyond it
    assert evidence["examples"]["malformed"] == ["not json at all", "[1, 2]"]
    combined, _ = check_log(tmp_path / "c", good, fmt="combined")  # the wrong format declared
    assert combined.status is Status.FAIL and combined.metrics["malformed_ratio"] == 1.0


@pytest.mark.parametrize("kind", ["missing", "empty", "folder"])
def test_a_missing_or_empty_log_fails(tmp_path: Path, kind: str) -> None:
    if kind == "folder":
        (tmp_path / "access.log").mkdir(parents=True)
    finding, _ = check_log(tmp_path, "" if kind == "empty" else None)
    assert finding.status is Status.FAIL
    assert finding.metrics["n_entries"] == 0
    path = tmp_path / "access.log"
    if kind == "empty":
        assert finding.message.startswith(f"{path} (jsonl): 0 entries in 0 lines;")
        assert finding.undefined["missing_who_ratio"] == "the log has no entries"
    else:
        problem = "does not exist" if kind == "missing" else "is not a file"
        assert finding.message == LOG_UNREADABLE.format(
            path=path, problem=problem, owner="unassigned"
        )
        assert finding.undefined["malformed_ratio"] == f"the log {problem}"


def test_no_declared_log_is_skipped(tmp_path: Path) -> None:
    with serve("secure") as (url, _):
        result = audit(tmp_path, {"url": url})
    finding = found(result, "security.access_log")
    assert finding.status is Status.SKIPPED and finding.message == LOG_NOT_DECLARED


def test_a_log_in_a_full_audit(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.jsonl").write_text(
        jsonl({"ts": "t", "key_id": "k1", "path": "/v1/predict", "auth": f"Bearer {KEY}"})
    )
    with serve("secure") as (url, _):
        result = audit(tmp_path, {"url": url, "access_log": "logs/access.jsonl"})
    finding = found(result, "security.access_log")
    assert finding.status is Status.PASS
    assert KEY.encode() not in stored_bytes(tmp_path)
