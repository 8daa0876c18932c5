"""The spec's sections about what runs beside the data: the model, the endpoints the audit
probes (generative, serving), the load test (performance) and compliance."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from assay.spec._base import Scalar, _Model

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
