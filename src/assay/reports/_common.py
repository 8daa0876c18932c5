"""What every report format reads off a stored run: orderings, counts, artefacts, fingerprints.

Nothing here looks at data. Counts are tallies of the stored findings; artefact contents come
from the ``load`` callable (sha256 hex → bytes) that the evidence repository provides.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.checks._registry import DOMAIN_TITLES, DOMAINS, Finding, Metric, Severity, Status
from assay.evidence import Approval
from assay.evidence import key_fingerprint as public_key_fingerprint
from assay.run import Artefact, Run

Loader = Callable[[str], bytes]
"""Returns the bytes of the artefact with the given sha256 hex digest."""

SHORT_ID_LENGTH = 12
"""Characters of a run id shown where space is short; the full id is always shown too."""

STATUS_ORDER = (
    Status.FAIL,
    Status.ERROR,
    Status.WARN,
    Status.WAIVED,
    Status.SKIPPED,
    Status.PASS,
)
"""Statuses from most to least in need of attention: the order reports list findings in."""

STATUS_COLOURS = {
    "pass": "#1a7f37",
    "warn": "#bf8700",
    "fail": "#cf222e",
    "error": "#8250df",
    "skipped": "#8c959f",
    "waived": "#0969da",
}
"""One colour per status, shared by the plots and the report's stylesheet."""

MANIFEST_PREFIX = "manifest/"
JSON_MEDIA_TYPE = "application/json"
INLINE_JSON_LIMIT = 20_000
"""JSON evidence up to this many bytes is shown inline in the HTML report."""

UNDEFINED_TEXT = "undefined"


def short_id(run_id: str) -> str:
    """The first characters of a run id, enough to tell runs apart in one repository."""
    return run_id[:SHORT_ID_LENGTH]


def domain_title(domain: str) -> str:
    """The human title of a domain; a domain unknown to this version shows as its name."""
    return DOMAIN_TITLES.get(domain, domain)


def domains_in_order(findings: Iterable[Finding], *, all_known: bool = False) -> list[str]:
    """Domains in report order: the known ones in ``DOMAINS`` order, then any others sorted.

    With ``all_known`` every known domain is listed, even one without findings.
    """
    present = {f.domain for f in findings}
    known = [d for d in DOMAINS if all_known or d in present]
    return known + sorted(present - set(DOMAINS))


def status_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per status value, every status present (zero when none)."""
    counts = {s.value: 0 for s in STATUS_ORDER}
    for f in findings:
        counts[f.status.value] += 1
    return counts


def counts_by_domain(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """Domain → status → count, for every known domain plus any other that has findings."""
    return {
        d: status_counts(f for f in findings if f.domain == d)
        for d in domains_in_order(findings, all_known=True)
    }


def verdict_counts(run: Run) -> dict[str, int]:
    """The verdict's stored counts, with every status present."""
    counts = {s.value: 0 for s in STATUS_ORDER}
    counts.update({str(k): int(v) for k, v in run.verdict.counts.items()})
    return counts


def sort_key(finding: Finding) -> tuple[int, int, int, str, str]:
    """Most urgent first: by status, then severity, then domain order, check id and subject."""
    domain_rank = DOMAINS.index(finding.domain) if finding.domain in DOMAINS else len(DOMAINS)
    return (
        STATUS_ORDER.index(finding.status),
        -finding.severity.rank,
        domain_rank,
        finding.check_id,
        finding.subject,
    )


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=sort_key)


def fail_on_text(fail_on: Severity) -> str:
    """``major or worse``: which failed severities fail the gate."""
    return fail_on.value if fail_on is Severity.BLOCKER else f"{fail_on.value} or worse"


def format_metric(value: Metric) -> str:
    """A metric for people: four significant digits, ``undefined`` for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return UNDEFINED_TEXT
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def key_metrics(finding: Finding, *, limit: int = 3) -> list[tuple[str, str]]:
    """Up to ``limit`` (name, formatted value) pairs, the graded metric first."""
    names = list(finding.metrics)
    if finding.threshold and finding.threshold.metric in finding.metrics:
        names.remove(finding.threshold.metric)
        names.insert(0, finding.threshold.metric)
    return [(n, format_metric(finding.metrics[n])) for n in names[:limit]]


def graded_value(finding: Finding) -> float | None:
    """The value of the metric a finding's threshold grades, when it is a finite number."""
    if finding.threshold is None:
        return None
    value = finding.metrics.get(finding.threshold.metric)
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def finding_label(finding: Finding) -> str:
    """``check_id[subject]``: how JUnit and the plots name a finding."""
    return f"{finding.check_id}[{finding.subject}]"


def ref_digest(ref: str) -> str:
    """The hex digest of a ``sha256:<hex>`` evidence reference (a bare digest passes through)."""
    return ref.removeprefix("sha256:")


def key_fingerprint(approval: Mapping[str, Any]) -> str | None:
    """The fingerprint of the key that signed an approval, as ``assay approve`` prints it.

    A fingerprint stored with the approval wins; otherwise it is derived from ``public_key``
    (``ed25519:`` and 16 hex digits). ``None`` when the approval names no key.
    """
    stored = approval.get("key_fingerprint") or approval.get("fingerprint")
    if stored:
        return str(stored)
    public_key = approval.get("public_key")
    return public_key_fingerprint(str(public_key)) if public_key else None


SIGNATURE_STATUSES = ("valid", "invalid", "other_run", "unsigned", "unreadable")
"""What :func:`signature_status` can say about an approval."""

_APPROVAL_FIELDS = ("schema", "run", "verdict", "by", "at", "public_key", "signature")
"""The fields of a stored ``assay.approval/1`` record; other keys beside them are ignored."""


def signature_status(approval: Mapping[str, Any], run_id: str) -> str:
    """Whether an approval's Ed25519 signature holds, and for this run.

    ``valid``: it verifies with the embedded key and approves ``run_id``; ``invalid``: it does
    not verify (the record was changed after signing); ``other_run``: it verifies but approves
    another run; ``unsigned``: no signature; ``unreadable``: not an approval record.
    """
    if not approval.get("signature"):
        return "unsigned"
    try:
        record = Approval.from_json({k: approval[k] for k in _APPROVAL_FIELDS if k in approval})
    except ValueError:
        return "unreadable"
    if not record.signature_valid():
        return "invalid"
    return "valid" if record.run == run_id else "other_run"


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, mapping keys as strings and non-finite floats as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Content:
    """What a report could read of an artefact: parsed JSON, or why it could not."""

    data: Any = None
    problem: str | None = None


class Artefacts:
    """The run's artefacts by digest, with their contents loaded once on demand."""

    def __init__(self, run: Run, load: Loader) -> None:
        self._by_digest = {a.sha256: a for a in run.artefacts}
        self._all = list(run.artefacts)
        self._load = load
        self._cache: dict[str, Content] = {}

    def get(self, ref: str) -> Artefact | None:
        """The artefact an evidence reference points at, if the run lists it."""
        return self._by_digest.get(ref_digest(ref))

    def json_content(self, digest: str) -> Content:
        """The artefact's bytes parsed as JSON, or the reason they could not be read."""
        if digest not in self._cache:
            self._cache[digest] = self._read_json(digest)
        return self._cache[digest]

    def _read_json(self, digest: str) -> Content:
        try:
            raw = self._load(digest)
        except (KeyError, OSError, LookupError) as exc:
            return Content(problem=f"content unavailable ({type(exc).__name__}: {exc})")
        try:
            return Content(data=json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return Content(problem=f"content is not valid JSON ({exc})")

    def manifests(self) -> list[tuple[Artefact, Content]]:
        """Dataset manifests (JSON artefacts named ``manifest/…``) with their contents."""
        return [
            (a, self.json_content(a.sha256))
            for a in self._all
            if a.media_type == JSON_MEDIA_TYPE and a.name.startswith(MANIFEST_PREFIX)
        ]
