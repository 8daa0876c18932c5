"""Reading a serving endpoint's access log, and scrubbing keys from stored text.

What ``security.access_log`` (in :mod:`assay.checks.security_access`) counts: per line of a
JSON-lines or Apache/nginx combined-format log, whether it names who made the request, what it
accessed and when (the field names: docs/checks-security-access.md#securityaccess_log).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.checks._registry import Metric
from assay.privacy import mask_text

SNIPPET = 200
"""Characters of a response or log line kept as evidence (after masking)."""
EXAMPLES = 3
"""Masked example lines kept per kind of defect in the access log's evidence."""
REDACTED = "***redacted***"


@dataclass
class Secrets:
    """Keys to scrub from anything stored: the valid key and the wrong one."""

    keys: list[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        for key in self.keys:
            if key:
                text = text.replace(key, REDACTED)
        return text

    def snippet(self, text: str) -> str:
        """``text`` scrubbed of keys, masked (personal data, known secrets) and shortened."""
        text = " ".join(self.scrub(text).split())
        text = text if len(text) <= SNIPPET else text[:SNIPPET] + "…"
        return mask_text(text, "partial")


WHO = (
    "user", "user_id", "userid", "username", "user_name", "remote_user", "key_id", "api_key_id",
    "apikey_id", "client_id", "principal", "subject", "sub", "caller", "account", "account_id",
    "identity",
)  # fmt: skip
"""JSON fields that say who made a request (a user, key or client id)."""
WHAT = (
    "path", "resource", "endpoint", "url", "uri", "route", "request", "request_path",
    "request_uri", "model", "model_id", "model_name", "action", "operation",
)  # fmt: skip
"""JSON fields that say what was accessed."""
WHEN = (
    "timestamp", "time", "ts", "@timestamp", "datetime", "date", "time_local", "logged_at",
    "created_at", "event_time",
)  # fmt: skip
"""JSON fields that say when."""
STATUS = ("status", "status_code", "http_status", "response_status")
"""JSON fields holding the HTTP status (a refused request has no identity to record)."""
ANONYMOUS = frozenset({"", "-", "anonymous", "anon", "unknown", "none", "null", "nobody"})
"""Values that name nobody."""

_COMBINED = re.compile(
    r"(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<size>\d+|-)'
    r'(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?'
)
_CLF_TIME = "%d/%b/%Y:%H:%M:%S %z"

ASPECTS = ("who", "what", "when")


@dataclass
class LogStats:
    """What an access log records: counts, the fields that said who, what and when, and a
    few masked examples of each defect."""

    n_lines: int = 0
    malformed: int = 0
    n_entries: int = 0
    n_refused: int = 0
    missing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ASPECTS, 0))
    fields: dict[str, dict[str, int]] = field(default_factory=lambda: {a: {} for a in ASPECTS})
    examples: dict[str, list[str]] = field(
        default_factory=lambda: {k: [] for k in ("malformed", *(f"missing_{a}" for a in ASPECTS))}
    )

    def example(self, kind: str, line: str, secrets: Secrets) -> None:
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(secrets.snippet(line))

    def metrics(self) -> tuple[dict[str, Metric], dict[str, str]]:
        """The finding's metrics, and why any of them is undefined."""
        served = self.n_entries - self.n_refused
        base = {"who": served, "what": self.n_entries, "when": self.n_entries}
        metrics: dict[str, Metric] = {
            "n_lines": self.n_lines,
            "n_entries": self.n_entries,
            "n_refused": self.n_refused,
            "malformed_lines": self.malformed,
            "malformed_ratio": self.malformed / self.n_lines if self.n_lines else None,
        }
        undefined = {}
        if not self.n_lines:
            undefined["malformed_ratio"] = "the log is empty"
        for aspect in ASPECTS:
            name = f"missing_{aspect}_ratio"
            metrics[name] = self.missing[aspect] / base[aspect] if base[aspect] else None
            if not self.n_entries:
                undefined[name] = "the log has no entries"
            elif not base[aspect]:
                undefined[name] = "every entry is a refused request (401 or 403)"
        return metrics, undefined


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ANONYMOUS
    if isinstance(value, Mapping):
        return any(_present(v) for v in value.values())
    if isinstance(value, list):
        return any(_present(v) for v in value)
    return True


def _flat(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-cased keys of ``entry`` and of the objects directly inside it."""
    flat: dict[str, Any] = {}
    for value in entry.values():
        if isinstance(value, Mapping):
            for inner, v in value.items():
                flat.setdefault(str(inner).lower(), v)
    for key, value in entry.items():
        flat[str(key).lower()] = value
    return flat


def _first(flat: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in flat and _present(flat[n])), None)


def _jsonl_entry(line: str) -> tuple[str | None, str | None, str | None, bool] | None:
    """(who field, what field, when field, refused) of a JSON line; ``None`` if malformed."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        return None
    flat = _flat(entry)
    status = next((flat[n] for n in STATUS if n in flat), None)
    refused = str(status).strip() in ("401", "403")
    return _first(flat, WHO), _first(flat, WHAT), _first(flat, WHEN), refused


def _combined_entry(line: str) -> tuple[str | None, str | None, str | None, bool] | None:
    """The same for a line in Apache/nginx combined (or common) log format."""
    match = _COMBINED.match(line)
    if match is None:
        return None
    who = "remote_user" if _present(match["user"]) else None
    parts = match["request"].split()
    what = "request" if len(parts) >= 2 and parts[1].startswith(("/", "http")) else None
    try:
        datetime.strptime(match["time"], _CLF_TIME)
        when: str | None = "time"
    except ValueError:
        when = None
    return who, what, when, match["status"] in ("401", "403")


def read_log(path: Path, fmt: str, secrets: Secrets) -> LogStats:
    """Count the entries of an access log; raises :class:`OSError` if it cannot be read."""
    parse = _jsonl_entry if fmt == "jsonl" else _combined_entry
    stats = LogStats()
    for line in _lines(path):
        stats.n_lines += 1
        parsed = parse(line)
        if parsed is None:
            stats.malformed += 1
            stats.example("malformed", line, secrets)
            continue
        stats.n_entries += 1
        who, what, when, refused = parsed
        stats.n_refused += refused
        for aspect, name in zip(ASPECTS, (who, what, when), strict=True):
            if name is not None:
                stats.fields[aspect][name] = stats.fields[aspect].get(name, 0) + 1
            elif aspect != "who" or not refused:  # a refused request has nobody to name
                stats.missing[aspect] += 1
                stats.example(f"missing_{aspect}", line, secrets)
    return stats


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip("\r\n")


def unreadable(path: Path) -> str | None:
    """Why ``path`` is no readable file, or ``None``."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None
