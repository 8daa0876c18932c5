"""The pydantic models of ``assay.yaml``: what to audit, with which thresholds and owners.

Every model forbids unknown keys, so a typo is an error with the line it is on rather than a
silently ignored setting. Paths are kept as written; :func:`assay.spec.load_spec` resolves
them against the spec file's folder.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from assay._vocabulary import DOMAINS, Severity
from assay.spec._base import Scalar, _check_sha256, _Model
from assay.spec.monitor import Monitor
from assay.spec.services import (
    FRAMEWORKS,
    PROBE_CATEGORIES,
    Autoscaling,
    Compliance,
    Framework,
    GenerativeEndpoint,
    LatencyObjectives,
    ModelRef,
    Performance,
    ProbeCategory,
    RateRange,
    ServingEndpoint,
)

__all__ = [
    "COLUMN_TYPES",
    "DATASET_ROLES",
    "DATA_FORMATS",
    "FRAMEWORKS",
    "PROBE_CATEGORIES",
    "SPEC_VERSION",
    "Autoscaling",
    "CheckOverride",
    "ColumnSchema",
    "Compliance",
    "DatasetSchema",
    "DatasetSpec",
    "FileRef",
    "Framework",
    "GenerativeEndpoint",
    "InferredSchema",
    "LatencyObjectives",
    "LineageStep",
    "ModelRef",
    "Owners",
    "Performance",
    "Policy",
    "ProbeCategory",
    "RateRange",
    "Scalar",
    "SchemaDeclaration",
    "SensitiveFeature",
    "ServingEndpoint",
    "Spec",
    "System",
    "ThresholdLevels",
    "ThresholdSetting",
    "WaiverSpec",
]

SPEC_VERSION = 1
DATASET_ROLES = ("train", "test", "reference", "current")
COLUMN_TYPES = ("integer", "float", "string", "boolean", "date", "timestamp")
DATA_FORMATS = ("parquet", "csv", "arrow")


class System(_Model):
    name: str = Field(min_length=1)
    version: str = "0.0.0"
    description: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class Owners(_Model):
    """Who answers for each domain's findings; ``default`` for domains not named."""

    default: str = "unassigned"
    integrity: str | None = None
    drift: str | None = None
    model: str | None = None
    fairness: str | None = None
    robustness: str | None = None
    security: str | None = None
    performance: str | None = None
    monitoring: str | None = None
    governance: str | None = None

    def for_domain(self, domain: str) -> str:
        owner: str | None = getattr(self, domain, None)
        return owner or self.default


class ColumnSchema(_Model):
    """What one column must hold."""

    type: Literal["integer", "float", "string", "boolean", "date", "timestamp"]
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: list[Scalar] | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _range_order(self) -> ColumnSchema:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


class DatasetSchema(_Model):
    """A declared schema: the columns a dataset must have, and whether others may appear."""

    columns: dict[str, ColumnSchema]
    extra_columns: Literal["allow", "warn", "fail"] = "warn"


class InferredSchema(_Model):
    """``schema: {infer: train}``: take the schema from another dataset at audit time."""

    infer: str


def _schema_kind(value: Any) -> str:
    return (
        "infer"
        if isinstance(value, dict | InferredSchema)
        and (isinstance(value, InferredSchema) or "infer" in value)
        else "declared"
    )


SchemaDeclaration = Annotated[
    Annotated[DatasetSchema, Tag("declared")] | Annotated[InferredSchema, Tag("infer")],
    Discriminator(_schema_kind),
]


class SensitiveFeature(_Model):
    column: str
    privileged: Scalar | None = None


class DatasetSpec(_Model):
    """One dataset: where it is, and what its columns mean."""

    path: Path | None = None
    profile: Path | None = None
    format: Literal["parquet", "csv", "arrow"] | None = None
    role: str | None = None
    target: str | None = None
    positive_label: Scalar | None = None
    prediction: str | None = None
    score: str | None = None
    id: str | None = None
    timestamp: str | None = None
    sensitive: list[SensitiveFeature] = Field(default_factory=list)
    schema_: SchemaDeclaration | None = Field(default=None, alias="schema")
    sha256: str | None = None
    blake3: str | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    consent: str | None = None
    """A column saying whether each row's subject consented (true/false, yes/no, 1/0)."""
    inferred: list[str] = Field(default_factory=list)
    """Columns inferred from other data (not collected): each needs a lineage step naming it."""

    _data: Any = PrivateAttr(default=None)

    @field_validator("sensitive", mode="before")
    @classmethod
    def _sensitive_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"column": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("schema_", mode="before")
    @classmethod
    def _infer_shorthand(cls, value: Any) -> Any:
        return {"infer": "train"} if value == "infer" else value

    @field_validator("sha256")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        return _check_sha256(value)

    @field_validator("blake3")
    @classmethod
    def _blake3(cls, value: str | None) -> str | None:
        return _check_sha256(value, "BLAKE3")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if self.path is not None and self.profile is not None:
            raise ValueError(
                "has both `path:` and `profile:`; give the data file, or a stored profile of it"
            )
        return self

    @property
    def data(self) -> Any:
        """An in-memory table given through the Python API (pandas, polars or Arrow)."""
        return self._data

    @property
    def profile_only(self) -> bool:
        """Given as a stored profile (``profile:``): no rows, only its column profiles."""
        return self.profile is not None and self._data is None

    def named_columns(self) -> dict[str, str]:
        """Field name → column for every column this dataset's spec names."""
        named = {
            key: value
            for key in ("target", "prediction", "score", "id", "timestamp", "consent")
            if (value := getattr(self, key)) is not None
        }
        for i, feature in enumerate(self.sensitive):
            named[f"sensitive.{i}.column"] = feature.column
        for i, column in enumerate(self.inferred):
            named[f"inferred.{i}"] = column
        return named


class FileRef(_Model):
    path: Path
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _sha(cls, value: str) -> str:
        checked = _check_sha256(value)
        assert checked is not None
        return checked


class LineageStep(_Model):
    """One declared step from raw data to the audited datasets."""

    name: str
    inputs: list[FileRef] = Field(default_factory=list)
    transform: str = Field(min_length=1)
    code: str | None = None
    outputs: list[FileRef] = Field(min_length=1)
    columns: list[str] = Field(default_factory=list)
    """Columns this step derives (an inferred attribute names the step that made it)."""


class ThresholdLevels(_Model):
    warn: float | None = None
    fail: float | None = None


def _levels_kind(value: Any) -> str:
    return "levels" if isinstance(value, dict | ThresholdLevels) else "value"


ThresholdSetting = Annotated[
    Annotated[ThresholdLevels, Tag("levels")] | Annotated[float, Tag("value")],
    Discriminator(_levels_kind),
]


class CheckOverride(_Model):
    """Per-check settings: on or off, its thresholds, severity, owner and options."""

    enabled: bool = True
    thresholds: dict[str, ThresholdSetting] = Field(default_factory=dict)
    severity: Severity | None = None
    owner: str | None = None
    tolerance: float | None = Field(default=None, ge=0)
    min_rows: int | None = Field(default=None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)


class WaiverSpec(_Model):
    """An accepted finding: it shows as ``waived`` until ``expires``, then counts again."""

    check: str
    subject: str = "*"
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: date


class Policy(_Model):
    fail_on: Severity = Severity.BLOCKER
    baseline_tolerance: float = Field(default=0.0, ge=0)


class Spec(_Model):
    """A parsed, validated ``assay.yaml``."""

    version: Literal[1]
    system: System
    seed: int = Field(default=0, ge=0)
    fingerprint: Literal["blake3", "sha256"] = "blake3"
    """The digest every run records of each input file (assay.sources.digests)."""
    owners: Owners = Field(default_factory=Owners)
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    lineage: list[LineageStep] = Field(default_factory=list)
    model: ModelRef | None = None
    documents: Path | None = None
    generative: GenerativeEndpoint | None = None
    serving: ServingEndpoint | None = None
    performance: Performance | None = None
    compliance: Compliance | None = None
    monitor: Monitor | None = None
    checks: dict[str, CheckOverride] = Field(default_factory=dict)
    waivers: list[WaiverSpec] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)

    _source: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _raw: bytes = PrivateAttr(default=b"")

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, value: dict[str, DatasetSpec]) -> dict[str, DatasetSpec]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", name):
                raise ValueError(
                    f"dataset name {name!r} may hold only letters, digits, '_', '.', '-'"
                )
        return value

    @model_validator(mode="after")
    def _performance_target(self) -> Spec:
        perf = self.performance
        if perf is not None:
            if perf.url is None and self.serving is None:
                raise ValueError("performance has no `url:` and the spec has no `serving:` to load")
            if perf.data is not None and perf.data not in self.datasets:
                raise ValueError(
                    f"performance.data names {perf.data!r}, which is not a dataset "
                    f"(datasets: {', '.join(self.datasets) or 'none'})"
                )
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> Spec:
        for name, ds in self.datasets.items():
            if isinstance(ds.schema_, InferredSchema) and ds.schema_.infer not in self.datasets:
                raise ValueError(
                    f"datasets.{name}.schema infers from {ds.schema_.infer!r}, "
                    "which is not a dataset "
                    f"(datasets: {', '.join(self.datasets) or 'none'})"
                )
        return self

    # Where things are -------------------------------------------------------------------

    @property
    def source(self) -> Path | None:
        """The file the spec was read from; ``None`` for a spec built in Python."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the spec are resolved against."""
        return self._base_dir

    @property
    def raw(self) -> bytes:
        """The spec file's bytes as read (for hashing), or a YAML dump for a Python-built spec."""
        return self._raw

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self._base_dir / path

    def line_of(self, *loc: str | int) -> int | None:
        """The line of the deepest known node along ``loc``; ``None`` if not from a file."""
        for end in range(len(loc), -1, -1):
            line = self._lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def where(self, *loc: str | int) -> str:
        """``assay.yaml, line 14`` for messages."""
        name = str(self._source) if self._source else "spec"
        line = self.line_of(*loc)
        return f"{name}, line {line}" if line else name

    def role_of(self, name: str) -> str:
        ds = self.datasets[name]
        if ds.role:
            return ds.role
        return name if name in DATASET_ROLES else "extra"

    def owner_for(self, domain: str, check_id: str | None = None) -> str:
        override = self.checks.get(check_id) if check_id else None
        if override and override.owner:
            return override.owner
        return self.owners.for_domain(domain)


assert set(Owners.model_fields) - {"default"} == set(DOMAINS)
