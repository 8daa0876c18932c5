"""The Python API: audit a spec, optionally storing the run in an evidence repository.

Example::

    import assay
    run = assay.audit("assay.yaml", repo=".assay")
    print(run.verdict.status, len(run.findings))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.checks._registry import Severity
from assay.errors import AssayError
from assay.evidence import Repository
from assay.profiles.engine import Executor, ScanOptions, scan
from assay.profiles.table import TableProfile
from assay.run import Run
from assay.runner import Progress, open_inputs, open_model, open_profiles, plan, run_audit
from assay.sources.datasets import open_dataset
from assay.spec import Spec, load_spec, spec_from_mapping


@dataclass(frozen=True)
class AuditResult:
    """A finished audit: the run, its id, and where it is stored (``None`` if it is not)."""

    run: Run
    run_id: str
    repository: Repository | None
    blobs: Mapping[str, bytes]

    def load(self, sha256: str) -> bytes:
        """The bytes of an artefact of this run, by its digest or a finding's ``sha256:…``."""
        sha256 = sha256.removeprefix("sha256:")
        if sha256 in self.blobs:
            return self.blobs[sha256]
        if self.repository is None:
            raise KeyError(sha256)
        return self.repository.get(sha256)


def as_spec(spec: Spec | str | Path | Mapping[str, Any]) -> Spec:
    """A :class:`Spec` from a spec, a path to ``assay.yaml``, or a mapping."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str | Path):
        return load_spec(spec)
    return spec_from_mapping(spec)


def execute(
    spec: Spec | str | Path | Mapping[str, Any],
    *,
    repo: Repository | str | Path | None = None,
    fail_on: Severity | str | None = None,
    baseline: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> AuditResult:
    """Validate everything up front, audit, and store the run if ``repo`` is given.

    Order matters for bad input: the spec and its overrides, the baseline, then every input
    are checked before the repository is created or written, so a bad input leaves it as it
    was.
    """
    spec = as_spec(spec)
    plan(spec)
    baseline_run = baseline_id = None
    if baseline is not None:
        if repo is None:
            raise ValueError("a baseline needs a repository to read it from")
        existing = (
            repo if isinstance(repo, Repository) else Repository.open(Path(repo), create=False)
        )
        stored = existing.resolve(baseline)
        baseline_run, baseline_id = stored.run, stored.id
    existing_repo: Repository | None = repo if isinstance(repo, Repository) else None
    if repo is not None and not isinstance(repo, Repository):
        Repository.check(repo)  # writable? checked now; created only when the run is stored
        if (Path(repo) / "FORMAT").is_file():
            existing_repo = Repository.open(Path(repo), create=False)
    datasets = open_inputs(spec)
    profiles = open_profiles(spec)
    model = open_model(spec)
    outcome = run_audit(
        spec,
        datasets=datasets,
        fail_on=Severity(fail_on) if fail_on else None,
        baseline=baseline_run,
        baseline_id=baseline_id,
        now=now,
        progress=progress,
        profiles=profiles,
        executor=executor_for(engine, scheduler),
        model=model,
        repository=existing_repo,
    )
    if repo is None:
        return AuditResult(outcome.run, outcome.run.id, None, outcome.blobs)
    repository = repo if isinstance(repo, Repository) else Repository.open(Path(repo))
    stored = repository.store_run(outcome.run, outcome.blobs)
    # Reports render what was stored, read back, never the in-memory copy.
    return AuditResult(repository.load_run(stored.id), stored.id, repository, outcome.blobs)


ENGINES = ("local", "dask")


def executor_for(engine: str, scheduler: str | None) -> Executor | None:
    """The profile pass's executor: ``None`` lets the local engine choose (inline or pool)."""
    if engine not in ENGINES:
        raise AssayError(f"engine {engine!r} is not one of {', '.join(ENGINES)}.")
    if engine == "local":
        if scheduler is not None:
            raise AssayError("--scheduler needs --engine dask.")
        return None
    from assay.profiles.distributed import dask_executor

    return dask_executor(scheduler)


def profile(
    data: Any,
    *,
    format: str | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    exact_limit: int | None = None,
) -> TableProfile:
    """The profile of a table: a path (Parquet, CSV, Arrow IPC) or a pandas/polars/Arrow table.

    Example::

        profile = assay.profile("data/train.parquet")
        profile["age"].quantiles([0.5])
    """
    entry: dict[str, Any] = {"format": format} if format else {}
    if isinstance(data, str | Path):
        entry["path"] = str(Path(data).resolve())
    else:
        entry["data"] = data
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "profile"}, "datasets": {"data": entry}}
    )
    ds = open_dataset(spec, "data")
    options = ScanOptions(row_hashes=False, exact_limit=exact_limit)
    return scan({"data": ds}, options, executor=executor_for(engine, scheduler))["data"].profile


def audit(
    spec: Spec | str | Path | Mapping[str, Any],
    *,
    repo: str | Path | None = None,
    fail_on: Severity | str | None = None,
    baseline: str | None = None,
) -> Run:
    """Audit ``spec`` (a path, a mapping or a :class:`Spec`) and return the run.

    With ``repo`` the run is stored in that evidence repository (and ``baseline`` — a run
    reference such as ``"approved"`` — adds regression findings against that run).
    """
    return execute(spec, repo=repo, fail_on=fail_on, baseline=baseline).run
