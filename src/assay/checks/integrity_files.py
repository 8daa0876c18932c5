"""File-level integrity checks: dataset manifests, pinned checksums and declared lineage.

These read file bytes, not table values: a checksum says the audited file is the one that
was pinned, and lineage says the audited files come out of the declared steps unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.integrity_common import file_label, graded, listing, plural
from assay.sources.datasets import file_sha256
from assay.sources.digests import Algorithm
from assay.spec.models import FileRef, LineageStep

CHECKSUM_OK = "{name}: {file} has the declared {algorithm} {sha}."
CHECKSUM_BAD = (
    "{name}: {file} has {algorithm} {actual}, but the spec declares {expected}; the file "
    "changed since it was pinned."
)
MANIFEST = "{name}: {rows:,} rows × {columns:,} columns from {file} ({size}, {algorithm} {sha})."
PINS: tuple[Algorithm, ...] = ("sha256", "blake3")
"""The digests a dataset can be pinned by in the spec (``sha256:``, ``blake3:``)."""
LINEAGE_END = "lineage"


def short(sha: str | None) -> str:
    """The first 12 hex digits of a digest, as messages show it (the evidence has all 64)."""
    return "none" if sha is None else sha[:12]


# integrity.manifest ------------------------------------------------------------------------


@check(
    "integrity.manifest",
    domain="integrity",
    title="Dataset manifests",
    severity=Severity.INFO,
    remediation="",
)
def manifest(ctx: Context, params: CheckParams) -> list[Finding]:
    """Informational: each dataset's manifest (file, digest, rows, columns) as evidence."""
    findings = []
    for name, ds in ctx.datasets.items():
        message = MANIFEST.format(
            name=name,
            rows=ds.rows,
            columns=len(ds.columns),
            file=file_label(ctx, name),
            size=_size(ds.size),
            algorithm=ds.algorithm,
            sha=short(ds.digest),
        )
        metrics = {"rows": ds.rows, "columns": len(ds.columns), "bytes": ds.size}
        findings.append(
            params.finding(
                name,
                status=Status.PASS,
                message=message,
                metrics=metrics,
                evidence=(ctx.manifest(name),),
            )
        )
    return findings


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


# integrity.checksums -----------------------------------------------------------------------


@check(
    "integrity.checksums",
    domain="integrity",
    title="Dataset files match their pinned digests",
    severity=Severity.BLOCKER,
    requires=("checksums",),
    remediation="Find out why the file changed; if the new file is the one to audit, pin it "
    "again: set `sha256:` to the output of `sha256sum FILE` (or `blake3:` to `b3sum FILE`).",
)
def checksums(ctx: Context, params: CheckParams) -> list[Finding]:
    """Every dataset with a ``sha256:`` or ``blake3:`` in the spec is byte for byte the file
    that was pinned."""
    findings = []
    for name, ds in ctx.datasets.items():
        pins = {a: d for a in PINS if (d := getattr(ds.spec, a)) is not None}
        if not pins:
            continue
        evidence = (ctx.manifest(name),)
        if ds.path is None:
            findings.append(
                params.finding(
                    name,
                    status=Status.SKIPPED,
                    message=f"{name}: an in-memory table has no file bytes to compare with "
                    f"the declared {' and '.join(pins)}.",
                    evidence=evidence,
                    remediation="Audit the file itself to verify its checksum.",
                )
            )
            continue
        actual = {a: ds.digests.get(a) for a in pins}
        wrong = [a for a in pins if actual[a] != pins[a]]
        algorithm = wrong[0] if wrong else next(iter(pins))
        same = not wrong
        template = CHECKSUM_OK if same else CHECKSUM_BAD
        message = template.format(
            name=name,
            file=file_label(ctx, name),
            algorithm=algorithm,
            sha=pins[algorithm],
            actual=actual[algorithm],
            expected=pins[algorithm],
        )
        findings.append(
            params.finding(
                name,
                status=Status.PASS if same else Status.FAIL,
                message=message,
                metrics={"checksum_mismatches": 0 if same else 1},
                evidence=evidence,
            )
        )
    return findings


# integrity.lineage -------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileState:
    """What one declared file of a lineage step turned out to be."""

    role: str  # "input" or "output"
    ref: FileRef
    actual: str | None
    state: str  # "verified", "mismatch", "missing", "not a file", "unreadable"

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "path": str(self.ref.path),
            "declared_sha256": self.ref.sha256,
            "actual_sha256": self.actual,
            "state": self.state,
        }


class _Hasher:
    """Hashes each file at most once per check run; dataset files were hashed when opened."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._cache: dict[Path, tuple[str | None, str]] = {
            ds.path.resolve(): (ds.sha256, "")
            for ds in ctx.datasets.values()
            if ds.path is not None
        }

    def state(self, role: str, ref: FileRef) -> _FileState:
        path = self._ctx.spec.resolve(ref.path).resolve()
        if path not in self._cache:
            self._cache[path] = _hash(path)
        actual, problem = self._cache[path]
        if actual is None:
            return _FileState(role, ref, None, problem)
        return _FileState(role, ref, actual, "verified" if actual == ref.sha256 else "mismatch")


def _hash(path: Path) -> tuple[str | None, str]:
    if not path.exists():
        return None, "missing"
    if not path.is_file():
        return None, "not a file"
    try:
        return file_sha256(path)[0], ""
    except OSError:
        return None, "unreadable"


@check(
    "integrity.lineage",
    domain="integrity",
    title="Lineage steps are consistent and their files unchanged",
    thresholds=(
        Threshold("hash_mismatches", fail=0),
        Threshold("broken_links", fail=0),
        Threshold("missing_files", warn=0),
        Threshold("unlinked_datasets", warn=0),
    ),
    requires=("lineage",),
    remediation="Re-run the step that writes the changed file and record its new sha256, or "
    "restore the file; declare every external source as an input of the first step.",
)
def lineage(ctx: Context, params: CheckParams) -> list[Finding]:
    """Each declared step: its files match their sha256 and its inputs come from earlier steps.

    An input of a later step must be an output of an earlier step or a raw input of the
    first; files that are not present cannot be verified (warn). A last finding, subject
    ``lineage``, checks that every audited dataset file is an output of some step.
    """
    steps = ctx.spec.lineage
    hasher = _Hasher(ctx)
    datasets_at = {
        ds.path.resolve(): name for name, ds in ctx.datasets.items() if ds.path is not None
    }
    raw_inputs = {ref.sha256 for ref in steps[0].inputs} if steps else set()
    produced: dict[str, str] = {}  # sha256 → name of the latest step that outputs it
    names = [step.name for step in steps]
    findings = []
    for i, step in enumerate(steps):
        subject = (
            f"lineage:{step.name}"
            if names.count(step.name) == 1
            else f"lineage:{step.name} #{i + 1}"
        )
        files = [hasher.state("input", r) for r in step.inputs] + [
            hasher.state("output", r) for r in step.outputs
        ]
        broken = (
            []
            if i == 0
            else [r for r in step.inputs if r.sha256 not in produced and r.sha256 not in raw_inputs]
        )
        findings.append(
            _step_finding(ctx, params, subject, step, files, broken, steps[0].name, datasets_at)
        )
        for ref in step.outputs:
            produced[ref.sha256] = step.name
    findings.append(_end_finding(ctx, params, steps, produced))
    return findings


def _step_finding(
    ctx: Context,
    params: CheckParams,
    subject: str,
    step: LineageStep,
    files: list[_FileState],
    broken: list[FileRef],
    first: str,
    datasets_at: dict[Path, str],
) -> Finding:
    mismatched = [f for f in files if f.state == "mismatch"]
    unverified = [f for f in files if f.state not in ("verified", "mismatch")]
    metrics = {
        "hash_mismatches": len(mismatched),
        "missing_files": len(unverified),
        "broken_links": len(broken),
        "files_verified": sum(f.state == "verified" for f in files),
    }
    problems = [
        f"{f.role} {f.ref.path} has sha256 {short(f.actual)}, declared {short(f.ref.sha256)}"
        for f in mismatched
    ]
    problems += [
        f"input {r.path} (sha256 {short(r.sha256)}) is neither an output of an earlier step "
        f"nor a raw input of step {first!r}"
        for r in broken
    ]
    problems += [
        f"{f.role} {f.ref.path} is {_absence(f.state)}, so it cannot be verified"
        for f in unverified
    ]
    if problems:
        message = f"{subject}: " + "; ".join(problems) + "."
    else:
        counts = f"{plural(len(step.inputs), 'input')} and {plural(len(step.outputs), 'output')}"
        message = f"{subject}: {counts} match their declared sha256"
        message += (
            "." if not step.inputs else " and the inputs come from earlier steps or raw inputs."
        )
    artefact = {
        "step": step.name,
        "transform": step.transform,
        "code": step.code,
        "files": [f.to_json() for f in files],
        "broken_links": [{"path": str(r.path), "sha256": r.sha256} for r in broken],
    }
    manifests = sorted(
        {
            ctx.manifest(datasets_at[p])
            for f in files
            if (p := ctx.spec.resolve(f.ref.path).resolve()) in datasets_at
        }
    )
    evidence = (*manifests, ctx.add_artefact(f"integrity.lineage/{step.name}.json", artefact))
    return graded(
        params,
        subject,
        metrics,
        ["hash_mismatches", "broken_links", "missing_files"],
        message=message,
        evidence=evidence,
    )


def _absence(state: str) -> str:
    return {
        "missing": "not present",
        "not a file": "a folder, not a file",
        "unreadable": "not readable",
    }[state]


def _end_finding(
    ctx: Context, params: CheckParams, steps: list[LineageStep], produced: dict[str, str]
) -> Finding:
    """Whether every audited dataset file is an output of a declared step."""
    files = {name: ds for name, ds in ctx.datasets.items() if ds.path is not None}
    in_memory = [name for name, ds in ctx.datasets.items() if ds.path is None]
    evidence = tuple(ctx.manifest(name) for name in ctx.datasets)
    if not files:
        reason = "no audited dataset is a file" + (
            f" (in memory: {listing(in_memory)})" if in_memory else ""
        )
        return params.finding(
            LINEAGE_END,
            status=Status.SKIPPED,
            message=f"{LINEAGE_END}: {reason}.",
            evidence=evidence,
        )
    linked = {name: produced[ds.sha256] for name, ds in files.items() if ds.sha256 in produced}
    unlinked = [name for name in files if name not in linked]
    metrics = {"unlinked_datasets": len(unlinked), "linked_datasets": len(linked)}
    parts = []
    if linked:
        parts.append(
            "outputs of declared steps: " + listing(f"{n} ({s!r})" for n, s in linked.items())
        )
    for name in unlinked:
        ds = files[name]
        at = ds.path.resolve() if ds.path is not None else None
        declared = [
            ref.sha256
            for step in steps
            for ref in step.outputs
            if ctx.spec.resolve(ref.path).resolve() == at
        ]
        hint = f", where a step declares sha256 {short(declared[-1])}" if declared else ""
        parts.append(
            f"{name} ({file_label(ctx, name)}, sha256 {short(ds.sha256)}) is not an output "
            f"of any step{hint}"
        )
    if in_memory:
        parts.append(f"in memory, so not linked: {listing(in_memory)}")
    message = f"{LINEAGE_END}: " + "; ".join(parts) + "."
    return graded(
        params, LINEAGE_END, metrics, ["unlinked_datasets"], message=message, evidence=evidence
    )
