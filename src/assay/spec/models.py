"""The pydantic models of ``assay.yaml``: what to audit, with which thresholds and owners.

Every model forbids unknown keys, so a typo is an error with the line it is on rather than a
silently ignored setting. Paths are kept as written; :func:`assay.spec.load_spec` resolves
them against the spec file's folder.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from assay._vocabulary import DOMAINS, Severity

SPEC_VERSION = 1
DATASET_ROLES = ("train", "test", "reference", "current")
COLUMN_TYPES = ("integer", "float", "string", "boolean", "date", "timestamp")
DATA_FORMATS = ("parquet", "csv", "arrow")
ProbeCategory = Literal[
    "direct_injection",
    "indirect_injection",
    "system_prompt_extraction",
    "pii_exfiltration",
    "jailbreak",
    "encoding",
]
PROBE_CATEGORIES: tuple[ProbeCategory, ...] = get_args(ProbeCategory)
"""The probe categories of a ``generative:`` endpoint's audit (docs/probes.md)."""

Scalar = str | int | float | bool
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_sha256(value: str | None) -> str | None:
    if value is not None and not _SHA256.match(value.lower()):
        raise ValueError("must be 64 hexadecimal characters (a sha256 digest)")
    return None if value is None else value.lower()


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


class ModelRef(_Model):
    """The audited model: a file, a ``module:function``, an HTTP endpoint or (Python API) an
    estimator object. docs/models.md describes every field; pickle needs ``trust: true``."""

    format: Literal["sklearn", "skops", "onnx", "pickle", "joblib", "callable", "http"] | None = (
        None
    )
    path: Path | None = None
    callable: str | None = None
    url: str | None = None
    request_template: str | None = None
    response_path: str | None = None
    proba_path: str | None = None
    classes: list[Scalar] | None = None
    concurrency: int = Field(default=4, ge=1)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    batch_size: int | None = Field(default=None, ge=1)
    key_env: str | None = Field(default=None, min_length=1)
    """HTTP: an environment variable holding the endpoint's key (read at audit time, never
    stored), sent as ``{auth_header}: {auth_scheme} {key}``."""
    auth_header: str = Field(default="Authorization", min_length=1)
    auth_scheme: str = "Bearer"
    trust: bool = False
    features: list[str] | None = None

    _object: Any = PrivateAttr(default=None)

    PLACEHOLDERS: ClassVar[tuple[str, ...]] = ("$records", "$rows")
    _CALLABLE: ClassVar[re.Pattern[str]] = re.compile(
        r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
    )
    _FORMAT_SOURCES: ClassVar[dict[str, str]] = {
        "sklearn": "object",
        "skops": "path",
        "onnx": "path",
        "pickle": "path",
        "joblib": "path",
        "callable": "callable",
        "http": "url",
    }

    @model_validator(mode="wrap")
    @classmethod
    def _with_object(cls, data: Any, handler: ModelWrapValidatorHandler[ModelRef]) -> ModelRef:
        # ``object:`` (Python API only) holds an estimator: keep it out of field validation
        # (pydantic would not copy it, but the spec's YAML dump must not hold it either).
        obj = None
        if isinstance(data, dict) and "object" in data:
            data = dict(data)
            obj = data.pop("object")
            if obj is None or not callable(getattr(obj, "predict", None)):
                raise ValueError(
                    "object must be a fitted model with a `predict` method, given through the "
                    f"Python API (got {type(obj).__name__}); in a YAML file use path, callable "
                    "or url"
                )
        ref = handler(data)
        if obj is not None:
            ref._object = obj
        ref._check_source()
        return ref

    @field_validator("request_template", mode="before")
    @classmethod
    def _template_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict | list) else value

    @field_validator("request_template")
    @classmethod
    def _template_json(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not cls._holds_placeholder(parsed):
            raise ValueError(
                'must hold the placeholder "$records" (a list of row objects) or "$rows" '
                '(a list of row lists) as a JSON string, for example {"instances": "$records"}'
            )
        return value

    @field_validator("response_path", "proba_path")
    @classmethod
    def _dotted_path(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(not part for part in value.split("."))):
            raise ValueError("must be a dotted path such as `predictions` or `outputs.*.label`")
        return value

    @field_validator("callable")
    @classmethod
    def _module_function(cls, value: str | None) -> str | None:
        if value is not None and not cls._CALLABLE.match(value):
            raise ValueError(
                "must be `module:function` (or `file.py:function`), for example "
                "`my_package.serve:predict`"
            )
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def object(self) -> Any:
        """The estimator given through the Python API (``{"model": {"object": est}}``)."""
        return self._object

    def _check_source(self) -> None:
        given = [
            name
            for name, value in (
                ("path", self.path),
                ("callable", self.callable),
                ("url", self.url),
                ("object", self._object),
            )
            if value is not None
        ]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(
                "needs exactly one of path, callable or url (or, through the Python API, "
                f"object); {found}"
            )
        if self.format is None:
            return
        wanted = self._FORMAT_SOURCES[self.format]
        if given[0] != wanted:
            raise ValueError(
                f"has format {self.format!r}, which reads a model from `{wanted}:`, but the "
                f"model is given by `{given[0]}:`; drop `format:` or fix it"
            )

    @classmethod
    def _holds_placeholder(cls, value: Any) -> bool:
        if isinstance(value, str):
            return value in cls.PLACEHOLDERS
        if isinstance(value, dict):
            return any(cls._holds_placeholder(v) for v in value.values())
        if isinstance(value, list):
            return any(cls._holds_placeholder(v) for v in value)
        return False


class ServingEndpoint(_Model):
    """The deployed prediction endpoint, probed for access control (docs/spec.md#serving)."""

    url: str
    method: Literal["POST", "GET"] = "POST"
    request: str = '{"instances": []}'
    """A harmless JSON body the probes send (each probe sends it with a missing or wrong key)."""
    auth_header: str = Field(default="Authorization", min_length=1)
    auth_scheme: str = "Bearer"
    key_env: str | None = Field(default=None, min_length=1)
    """An environment variable holding a valid key: a request with it must not be rejected."""
    timeout: float = Field(default=10.0, gt=0)
    access_log: Path | None = None
    access_log_format: Literal["jsonl", "combined"] = "jsonl"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("request")
    @classmethod
    def _json_body(cls, value: str) -> str:
        import json

        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
        return value


class LatencyObjectives(_Model):
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)


class RateRange(_Model):
    """Offered rates for the saturation search: ``start``, ``start + step`` … ``stop``."""

    start: float = Field(gt=0)
    stop: float = Field(gt=0)
    step: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RateRange:
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop:g}) is below start ({self.start:g})")
        return self


class Autoscaling(_Model):
    """What the autoscaling recommendation (a HorizontalPodAutoscaler) is written for."""

    name: str = Field(default="model", min_length=1)
    namespace: str = Field(default="default", min_length=1)
    min_replicas: int = Field(default=2, ge=1)
    target_cpu_percent: int = Field(default=70, ge=1, le=100)


class Performance(_Model):
    """A load test of the serving endpoint at its declared peak (docs/spec.md#performance)."""

    url: str | None = None
    """The endpoint to load; defaults to ``serving.url``."""
    method: Literal["POST", "GET"] = "POST"
    body: str | None = None
    """A fixed JSON request body; or ``data`` + ``template`` for bodies from a dataset's rows."""
    data: str | None = None
    template: str | None = None
    key_env: str | None = Field(default=None, min_length=1)
    auth_header: str = Field(default="Authorization", min_length=1)
    auth_scheme: str = "Bearer"
    peak_rate: float = Field(gt=0)
    """The declared peak traffic, requests per second."""
    duration: float = Field(default=30.0, gt=0)
    warmup: float = Field(default=5.0, ge=0)
    arrival: Literal["constant", "poisson"] = "poisson"
    objectives: LatencyObjectives = Field(default_factory=LatencyObjectives)
    saturation: RateRange | None = None
    replicas: int = Field(default=1, ge=1)
    """Replicas behind ``url`` while it is measured (the per-replica rate divides by it)."""
    headroom: float = Field(default=1.5, ge=1)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    workers: int = Field(default=1, ge=1, le=64)
    connections: int = Field(default=64, ge=1)
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Performance:
        if self.body is not None and self.data is not None:
            raise ValueError("has both `body:` and `data:`; give a fixed body or a dataset's rows")
        if self.template is not None and self.data is None:
            raise ValueError(
                "has `template:` without `data:`; the template shapes the rows of `data`"
            )
        return self


Framework = Literal["eu_ai_act", "nist_ai_rmf", "iso_42001"]
FRAMEWORKS: tuple[Framework, ...] = ("eu_ai_act", "nist_ai_rmf", "iso_42001")


class Compliance(_Model):
    """What the compliance checks hold the data and the audit to (docs/spec.md#compliance)."""

    retention_days: int | None = Field(default=None, ge=1)
    """Rows whose ``timestamp`` is older than this many days must be gone."""
    frameworks: list[Framework] = Field(default_factory=lambda: list(FRAMEWORKS))
    catalogue: Path | None = None
    """A YAML file that adds to or overrides the built-in control catalogue."""


class GenerativeEndpoint(_Model):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` API, probed for prompt
    injection and leaks (docs/probes.md). The API key comes from the environment variable
    ``api_key_env``; an inline ``api_key`` works but is discouraged (it is redacted from the
    stored spec, yet sits in the spec file)."""

    base_url: str
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default="OPENAI_API_KEY", min_length=1)
    api_key: SecretStr | None = None
    system_prompt: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    concurrency: int = Field(default=4, ge=1, le=64)
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    probes: list[ProbeCategory] = Field(default_factory=lambda: list(PROBE_CATEGORIES))

    _ENV_NAME: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _env_name(cls, data: Any) -> Any:
        # Checked on the whole mapping so that the message does not quote the value: a key
        # pasted here by mistake must not end up in a terminal or CI log.
        name = data.get("api_key_env") if isinstance(data, dict) else None
        if isinstance(name, str) and not cls._ENV_NAME.match(name):
            raise ValueError(
                "has an `api_key_env` that is not an environment variable name (is it the key "
                "itself? then revoke it); write the variable's name, such as OPENAI_API_KEY"
            )
        return data

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(
                "must start with http:// or https://, for example https://api.openai.com/v1 "
                "(the audit posts to <base_url>/chat/completions)"
            )
        return value.rstrip("/")

    @field_validator("probes", mode="before")
    @classmethod
    def _all_or_list(cls, value: Any) -> Any:
        if value == "all":
            return list(PROBE_CATEGORIES)
        return [value] if isinstance(value, str) else value

    @field_validator("probes")
    @classmethod
    def _some_categories(cls, value: list[ProbeCategory]) -> list[ProbeCategory]:
        if not value:
            raise ValueError(
                "lists no category; name some of " + ", ".join(PROBE_CATEGORIES) + ", or write "
                "`all`"
            )
        if len(set(value)) != len(value):
            raise ValueError("names a category twice; list each once")
        return value

    @property
    def categories(self) -> tuple[str, ...]:
        """The selected probe categories, in library order."""
        return tuple(c for c in PROBE_CATEGORIES if c in self.probes)

    @property
    def chat_url(self) -> str:
        """Where the probes are posted: ``<base_url>/chat/completions``."""
        return self.base_url + "/chat/completions"


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
    owners: Owners = Field(default_factory=Owners)
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    lineage: list[LineageStep] = Field(default_factory=list)
    model: ModelRef | None = None
    documents: Path | None = None
    generative: GenerativeEndpoint | None = None
    serving: ServingEndpoint | None = None
    performance: Performance | None = None
    compliance: Compliance | None = None
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
