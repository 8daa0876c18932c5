"""The audit context: the spec, the opened datasets, and facts computed once and shared.

Checks ask the context for what they need — column statistics, an effective schema, exact
row facts, a dataset manifest — and the context computes each fact at most once per run.
Artefacts a check wants stored as evidence go through :meth:`Context.add_artefact`, which
returns the ``sha256:…`` reference a finding cites.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.checks._registry import Finding
from assay.profiles.engine import ScanOptions, ScanResult, scan
from assay.profiles.facts import ColumnStats, TableFacts
from assay.profiles.infer import infer_schema
from assay.profiles.pool import WorkerPool
from assay.profiles.table import TableProfile
from assay.run import Artefact, Run, canonical_json
from assay.sources.datasets import Dataset, schema_fingerprint
from assay.spec.models import DatasetSchema, InferredSchema, Spec

if TYPE_CHECKING:
    from assay.checks._evaluation import Evaluation
    from assay.sources.models import Model

MANIFEST_SCHEMA = "assay.manifest/1"


class Context:
    """Shared, lazily computed facts about one audit's inputs."""

    def __init__(
        self,
        spec: Spec,
        datasets: Mapping[str, Dataset],
        *,
        options: ScanOptions | None = None,
        executor: Any = None,
        stored: Mapping[str, TableProfile] | None = None,
    ) -> None:
        self.spec = spec
        self.datasets = dict(datasets)
        self.stored = dict(stored or {})
        """Datasets given as stored profiles (``profile:``): no rows, only profiles."""
        self.options = options or ScanOptions(seed=spec.seed)
        self._executor = executor
        self._stats: dict[str, dict[str, ColumnStats]] = {}
        self._schemas: dict[str, DatasetSchema | None] = {}
        self._manifests: dict[str, str] = {}
        self.artefacts: dict[str, tuple[Artefact, bytes]] = {}
        self.baseline: Run | None = None
        """The run this audit is compared with (``--baseline``), if any."""
        self.findings: list[Finding] = []
        """Findings of the checks run so far; complete for ``after_checks`` checks."""
        self.pool: WorkerPool | None = None
        """Worker processes of the profile pass, when it ran on them, for background work."""
        self.jobs: dict[Any, Any] = {}
        """Background work started by checks' ``prepare`` hooks, by key."""
        self.now: datetime | None = None
        """The audit's clock (``run_audit``'s ``now``): checks judge dates against it."""
        self.model: Model | None = None
        """The spec's model, loaded (and checked) before the audit started; ``None`` without."""
        self.repository: Any = None
        """The evidence repository the run goes to, when it exists already (read only: the
        monitoring-readiness check reads drill records from it)."""
        self._tables: dict[tuple[str, tuple[str, ...]], pa.Table] = {}
        self._evaluations: dict[str, Evaluation | Exception] = {}

    def table(self, name: str, columns: list[str]) -> pa.Table:
        """Columns of dataset ``name`` in memory, read once per set of columns."""
        key = (name, tuple(columns))
        if key not in self._tables:
            batches = list(self.datasets[name].batches(columns))
            schema = pa.schema([self.datasets[name].schema.field(c) for c in columns])
            self._tables[key] = pa.Table.from_batches(batches, schema=schema)
        return self._tables[key]

    def evaluation(self, name: str) -> Evaluation:
        """Dataset ``name``'s predictions and truth, computed once per run and shared.

        A model that fails (an endpoint that times out, a wrong output shape) raises here for
        every check that asks, each reporting it as an ``error`` finding.
        """
        if name not in self._evaluations:
            from assay.checks._evaluation import evaluate

            try:
                self._evaluations[name] = evaluate(self, name)
            except Exception as exc:  # kept: the next check that asks gets the same error
                self._evaluations[name] = exc
        found = self._evaluations[name]
        if isinstance(found, Exception):
            raise found
        return found

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``function(*args)`` on an idle worker process, or here and now without one."""
        if self.pool is not None:
            return self.pool.submit(function, *args)
        future: Future[Any] = Future()
        try:
            future.set_result(function(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def dataset(self, name: str) -> Dataset:
        return self.datasets[name]

    @cached_property
    def scans(self) -> dict[str, ScanResult]:
        """One profile pass over every dataset, the first time any fact is asked for."""
        return scan(self.datasets, self.options, executor=self._executor)

    @cached_property
    def facts(self) -> TableFacts:
        """Exact facts for the checks: values, duplicates, overlaps, conflicts."""
        return TableFacts(self.datasets, self.scans)

    def profile(self, name: str) -> TableProfile:
        """The column profiles of dataset ``name`` (scanned, or loaded from ``profile:``)."""
        if name in self.stored:
            return self.stored[name]
        return self.scans[name].profile

    def has_rows(self, name: str) -> bool:
        """Whether dataset ``name`` has rows to read (not only a stored profile)."""
        return name in self.datasets

    def sample(self, name: str) -> pa.Table | None:
        """A seeded sample of dataset ``name``'s rows (``options.sample_size`` of them)."""
        return self.scans[name].sample if name in self.datasets else None

    def stats(self, name: str) -> dict[str, ColumnStats]:
        """Exact per-column statistics of dataset ``name`` (from its profile)."""
        if name not in self._stats:
            self._stats[name] = self.facts.column_stats(self.datasets[name])
        return self._stats[name]

    def schema(self, name: str) -> DatasetSchema | None:
        """The schema dataset ``name`` must satisfy: declared, inferred from another, or none."""
        if name not in self._schemas:
            declared = self.datasets[name].spec.schema_
            if isinstance(declared, InferredSchema):
                source = declared.infer
                inferred = infer_schema(self.datasets[source], self.facts)
                self._schemas[name] = _without_value_bounds(inferred, self._keys(source, name))
            else:
                self._schemas[name] = declared
        return self._schemas[name]

    def _keys(self, *names: str) -> set[str]:
        """Id and timestamp columns of these datasets: their values move on by design."""
        return {
            column
            for n in names
            for column in (self.datasets[n].spec.id, self.datasets[n].spec.timestamp)
            if column is not None
        }

    def feature_columns(self, name: str) -> list[str]:
        """Columns that are model inputs: all but target, prediction, score, id and timestamp."""
        ds = self.datasets[name]
        roles = set(ds.spec.named_columns().values()) - {f.column for f in ds.spec.sensitive}
        return [c for c in ds.columns if c not in roles]

    @cached_property
    def splits(self) -> dict[str, int]:
        return {name: ds.rows for name, ds in self.datasets.items()}

    def manifest(self, name: str) -> str:
        """The ``sha256:…`` reference of dataset ``name``'s manifest artefact."""
        if name not in self._manifests:
            ds = self.datasets[name]
            manifest = {
                "schema": MANIFEST_SCHEMA,
                "dataset": name,
                "role": ds.role,
                "path": str(ds.path) if ds.path else None,
                "format": ds.format,
                **ds.digests.known(),
                "bytes": ds.size,
                "rows": ds.rows,
                "columns": [{"name": f.name, "type": str(f.type)} for f in ds.schema],
                "schema_fingerprint": schema_fingerprint(ds.schema),
                "splits": self.splits,
            }
            self._manifests[name] = self.add_artefact(f"manifest/{name}.json", manifest)
        return self._manifests[name]

    def add_artefact(
        self, name: str, data: bytes | Mapping[str, Any] | list[Any], media_type: str | None = None
    ) -> str:
        """Keep ``data`` as evidence of this run; returns its ``sha256:…`` reference.

        JSON-able data is stored as canonical JSON (``application/json``).
        """
        if isinstance(data, bytes):
            raw, media = data, media_type or "application/octet-stream"
        else:
            raw, media = (
                canonical_json(json.loads(json.dumps(data, default=str))),
                media_type or "application/json",
            )
        digest = hashlib.sha256(raw).hexdigest()
        self.artefacts[digest] = (Artefact(name, digest, media, len(raw)), raw)
        return f"sha256:{digest}"


def _without_value_bounds(schema: DatasetSchema, columns: set[str]) -> DatasetSchema:
    """``schema`` with no min, max or allowed values pinned on ``columns``.

    An inferred schema pins the ranges the source data had; for ids and timestamps those
    ranges describe the past, and newer data is meant to leave them.
    """
    changed = {
        c: col.model_copy(update={"min": None, "max": None, "allowed": None})
        for c, col in schema.columns.items()
        if c in columns
    }
    if not changed:
        return schema
    return schema.model_copy(update={"columns": {**schema.columns, **changed}})
