"""Run an audit: plan the checks the spec allows, run every one, apply policy, build the Run.

Everything a user can get wrong is checked before the first check runs — overrides, waivers,
every file the spec names and every column it names — so bad input fails fast with exit 2
and nothing stored. After that, what the data reveals is a finding: a check that raises
becomes an ``error`` finding and the audit goes on.
"""

from __future__ import annotations

import mimetypes
import platform
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import yaml

from assay import _gc
from assay._version import __version__
from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import (
    CAPABILITIES,
    DOMAINS,
    REGISTRY,
    CheckInfo,
    Finding,
    Severity,
    Status,
)
from assay.compliance import validate_catalogue
from assay.errors import COLUMN_MISSING, InputError
from assay.policy import apply_waivers, params_for, validate_overrides
from assay.profiles.engine import Executor, ScanOptions, pooled, wants_workers
from assay.profiles.pool import WorkerPool, local_processes
from assay.profiles.table import TableProfile
from assay.run import Run, compute_verdict
from assay.sources.datasets import Dataset, open_dataset
from assay.spec.models import DatasetSchema, Spec

if TYPE_CHECKING:
    from assay.sources.models import Model

Progress = Callable[[str, int, int], None]
"""Called as ``progress(description, done, total)`` while the audit runs."""

_SECRET_KEY = re.compile(
    r"(api[_-]?key|token|secret|password|passwd|credential|authorization)", re.I
)
REDACTED = "***redacted***"


def _secret(key: object) -> bool:
    """A key whose value is a secret (``api_key``, ``token``), not one that names where a
    secret is kept (``api_key_env``: the name of an environment variable)."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and not key.endswith("_env")


load_builtin()

_PACKAGES = ("pyarrow", "polars", "datasketches", "numpy", "scipy", "scikit-learn", "pydantic")


@dataclass(frozen=True)
class Planned:
    """A check the plan runs, or skips with the reason."""

    info: CheckInfo
    skip: str | None = None


@dataclass
class AuditOutcome:
    """A finished audit: the run record and the bytes of every artefact it references."""

    run: Run
    blobs: dict[str, bytes] = field(default_factory=dict)


def capabilities(spec: Spec, *, baseline: bool = False) -> set[str]:
    """What the spec provides, in the vocabulary of :data:`CAPABILITIES`."""
    caps: set[str] = set()
    ds = spec.datasets
    if ds:
        caps.add("datasets")
    if any(d.target for d in ds.values()):
        caps.add("target")
    if "train" in ds:
        caps.add("train")
    if "train" in ds and any(spec.role_of(n) == "test" for n in ds):
        caps.add("train_test")
    if any(d.schema_ is not None for d in ds.values()):
        caps.add("schema")
    if any(
        d.id
        or (
            isinstance(d.schema_, DatasetSchema)
            and any(c.unique for c in d.schema_.columns.values())
        )
        for d in ds.values()
    ):
        caps.add("ids")
    if any(d.sha256 or d.blake3 for d in ds.values()):
        caps.add("checksums")
    if spec.lineage:
        caps.add("lineage")
    if spec.model:
        caps.add("model")
    if spec.documents:
        caps.add("documents")
    if spec.generative:
        caps.add("generative")
    if any(d.sensitive for d in ds.values()):
        caps.add("sensitive")
    if any(d.prediction or d.score for d in ds.values()):
        caps.add("predictions")
    if spec.model or "predictions" in caps:
        caps.add("scored")
    if any(spec.role_of(n) == "ood" for n in ds):
        caps.add("ood")
    if spec.serving is not None:
        caps.add("serving")
    if spec.compliance is not None:
        caps.add("compliance")
    if spec.performance is not None:
        caps.add("performance")
    if spec.monitor is not None:
        caps.add("monitor")
    roles = {spec.role_of(n) for n in ds}
    if roles & {"reference", "train"} and "current" in roles:
        caps.add("reference_current")
    if baseline:
        caps.add("baseline")
    return caps


def plan(spec: Spec, *, baseline: bool = False) -> list[Planned]:
    """Every registered check in report order, each to run or skipped with the reason."""
    validate_overrides(spec)
    caps = capabilities(spec, baseline=baseline)
    planned = []
    for info in sorted(
        REGISTRY.values(), key=lambda i: (DOMAINS.index(i.domain), i.after_checks, i.id)
    ):
        override = spec.checks.get(info.id)
        missing = sorted(info.requires - caps)
        if override and not override.enabled:
            planned.append(Planned(info, f"disabled in the spec (checks.{info.id}.enabled: false)"))
        elif missing:
            needs = "; ".join(CAPABILITIES[m] for m in missing)
            planned.append(Planned(info, f"not applicable: needs {needs}"))
        else:
            planned.append(Planned(info))
    return planned


def open_inputs(spec: Spec) -> dict[str, Dataset]:
    """Open every dataset and check every column the spec names is there (else InputError).

    Datasets given as stored profiles are loaded by :func:`open_profiles` instead.
    """
    datasets = {
        name: open_dataset(spec, name) for name, ds in spec.datasets.items() if not ds.profile_only
    }
    for name, ds in datasets.items():
        _check_named_columns(spec, name, ds.columns, ds.label)
    validate_catalogue(spec)  # a malformed compliance.catalogue override: exit 2 up front
    if spec.documents is not None and not spec.resolve(spec.documents).is_dir():
        raise InputError(
            f"{spec.where('documents')}: documents folder {spec.resolve(spec.documents)} "
            "does not exist. "
            "Create it or fix the path."
        )
    return datasets


def open_model(spec: Spec) -> Model | None:
    """The spec's model, loaded and checked up front (``InputError`` if it cannot be used)."""
    if spec.model is None:
        return None
    from assay.sources.models import load_model

    return load_model(spec)


def open_profiles(spec: Spec) -> dict[str, TableProfile]:
    """Load every dataset given as a stored profile (``profile:``), checking its columns."""
    profiles = {}
    for name, ds in spec.datasets.items():
        if ds.profile_only:
            assert ds.profile is not None
            path = spec.resolve(ds.profile)
            if not path.exists():
                raise InputError(
                    f"{spec.where('datasets', name, 'profile')}: profile {path} does not exist. "
                    "Write one with `assay profile DATA -o FILE`, or fix the path."
                )
            profiles[name] = TableProfile.load(path)
            _check_named_columns(spec, name, list(profiles[name].columns), str(path))
    return profiles


def _check_named_columns(spec: Spec, name: str, columns: list[str], label: str) -> None:
    for key, column in spec.datasets[name].named_columns().items():
        if column not in columns:
            raise InputError(
                COLUMN_MISSING.format(
                    path=spec.source or "spec",
                    line=spec.line_of("datasets", name, *_path(key)) or 1,
                    field=f"datasets.{name}.{key}",
                    column=column,
                    dataset=name,
                    file=label,
                    existing=", ".join(columns),
                )
            )


def _path(dotted: str) -> list[str | int]:
    """``sensitive.0.column`` → ``["sensitive", 0, "column"]`` (list positions are ints)."""
    return [int(p) if p.isdigit() else p for p in dotted.split(".")]


def run_audit(
    spec: Spec,
    *,
    datasets: Mapping[str, Dataset] | None = None,
    fail_on: Severity | None = None,
    baseline: Run | None = None,
    baseline_id: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    scan_options: ScanOptions | None = None,
    profiles: Mapping[str, TableProfile] | None = None,
    executor: Executor | None = None,
    model: Model | None = None,
    repository: Any = None,
) -> AuditOutcome:
    """Audit ``spec`` and return the run with its artefacts (not yet stored)."""
    now = now or datetime.now(UTC)
    planned = plan(spec, baseline=baseline is not None)
    if datasets is None:
        datasets = open_inputs(spec)
    if model is None:
        model = open_model(spec)
    findings: list[Finding] = []
    # Checks that read other checks' findings (after_checks) run last.
    to_run = sorted((p for p in planned if p.skip is None), key=lambda p: p.info.after_checks)
    if profiles is None:
        profiles = open_profiles(spec)
    sample = max((p.info.sample_rows for p in to_run), default=0)
    options = scan_options or ScanOptions(seed=spec.seed, sample_size=sample)
    with ExitStack() as stack:
        pool = None
        if executor is None and wants_workers(datasets):
            # Worker processes for the pass, kept for the checks' background work; once idle
            # they import what the planned checks need (scikit-learn for the classifier).
            warm = [module for p in to_run for module in p.info.imports]
            pool = stack.enter_context(WorkerPool(local_processes() - 1, warm=warm))
            executor = pooled(pool)
        ctx = Context(spec, datasets, options=options, executor=executor, stored=profiles)
        ctx.pool = pool
        ctx.model = model
        ctx.repository = repository
        ctx.now = now
        ctx.baseline = baseline
        ctx.findings = findings
        if progress:
            progress("profiling the datasets", 0, len(to_run))
        _ = ctx.scans  # one pass over every dataset before any check; unreadable data: exit 2
        _gc.resume()  # the command line paused the collector for start-up and the pass
        for item in to_run:
            if item.info.prepare is not None:
                _prepare(item.info, spec, ctx)
        for done, item in enumerate(to_run):
            if progress:
                progress(item.info.id, done, len(to_run))
            findings.extend(_run_one(item.info, spec, ctx))
        if progress:
            progress("done", len(to_run), len(to_run))
    for item in planned:
        if item.skip is not None:
            findings.append(_skipped(item.info, spec, item.skip))
    findings = apply_waivers(findings, spec, now.date())
    findings.sort(key=lambda f: (DOMAINS.index(f.domain), f.check_id, f.subject))
    spec_bytes, spec_media = _stored_spec(spec)
    spec_ref = ctx.add_artefact("spec/assay.yaml", spec_bytes, spec_media)
    _store_documents(spec, ctx)
    artefacts = ctx.artefacts
    verdict = compute_verdict(findings, fail_on or spec.policy.fail_on)
    run = Run(
        created=now.isoformat(timespec="seconds"),
        tool_version=__version__,
        system={"name": spec.system.name, "version": spec.system.version},
        seed=spec.seed,
        spec_sha256=spec_ref.removeprefix("sha256:"),
        inputs=[ds.fingerprint() for ds in datasets.values()],
        environment=environment(),
        findings=findings,
        verdict=verdict,
        artefacts=sorted((a for a, _ in artefacts.values()), key=lambda a: (a.name, a.sha256)),
        baseline=baseline_id,
    )
    return AuditOutcome(run, {sha: raw for sha, (_, raw) in artefacts.items()})


DOCUMENT_LIMIT = 2_000_000
"""Documents larger than this (bytes) are not stored with the run; their names and sizes are."""


def _store_documents(spec: Spec, ctx: Context) -> None:
    """Keep the ``documents:`` folder's files as evidence of the run (``documents/<path>``).

    The model card and datasheet are built from the stored run alone, so the human-written
    parts they quote must be in the run too, as they were when it was audited.
    """
    if spec.documents is None:
        return
    folder = spec.resolve(spec.documents)
    skipped = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(".") or "/." in relative:
            continue
        size = path.stat().st_size
        if size > DOCUMENT_LIMIT:
            skipped.append({"path": relative, "bytes": size})
            continue
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix.lower() in (".md", ".markdown"):
            media = "text/markdown"
        ctx.add_artefact(f"documents/{relative}", path.read_bytes(), media)
    if skipped:
        ctx.add_artefact("documents/_not_stored.json", {"limit": DOCUMENT_LIMIT, "files": skipped})


def _prepare(info: CheckInfo, spec: Spec, ctx: Context) -> None:
    """Let a check start background work now (it collects it when it runs)."""
    assert info.prepare is not None
    with suppress(Exception):  # the check then runs the work itself and reports what fails
        info.prepare(ctx, params_for(info, spec))


def _run_one(info: CheckInfo, spec: Spec, ctx: Context) -> list[Finding]:
    params = params_for(info, spec)
    try:
        return list(info.function(ctx, params))
    except Exception as exc:  # a check that raises must not stop the audit
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        return [
            params.finding(
                "*",
                status=Status.ERROR,
                message=f"the check raised {type(exc).__name__}: {exc} (at {where}).",
                remediation="The check could not judge this input. Report it with the run id, "
                "or disable the check in the spec while it is fixed.",
            )
        ]


def _skipped(info: CheckInfo, spec: Spec, reason: str) -> Finding:
    return params_for(info, spec).finding(
        "*", status=Status.SKIPPED, message=reason + ".", remediation=""
    )


def _stored_spec(spec: Spec) -> tuple[bytes, str]:
    """The spec as stored in evidence: byte-for-byte, unless a secret had to be redacted."""
    data = yaml.safe_load(spec.raw) if spec.raw else None
    redacted, changed = _redact(data)
    if not changed:
        return spec.raw, "application/yaml"
    return yaml.safe_dump(redacted, sort_keys=False).encode(), "application/yaml"


def _redact(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        out, changed = {}, False
        for key, item in value.items():
            if _secret(key) and item not in (None, ""):
                out[key], changed = REDACTED, True
            else:
                out[key], sub = _redact(item)
                changed = changed or sub
        return out, changed
    if isinstance(value, list):
        items = [_redact(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def environment() -> dict[str, Any]:
    """Where the audit ran: Python, platform and the versions of the libraries that compute."""
    packages: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "assay": __version__,
        "packages": packages,
    }
