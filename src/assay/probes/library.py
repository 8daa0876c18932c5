"""The versioned probe library: probes as data (``library.yaml``), validated when loaded.

A probe is a conversation to send and the detectors that say whether the attack worked;
:meth:`Probe.render` turns it into chat messages for one audit (the system message holds the
deployment's prompt, the planted canary and the probe's confidential context). docs/probes.md
describes the file, its versioning and how to add a probe.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.probes.encodings import ENCODINGS, encode
from assay.spec.models import PROBE_CATEGORIES, ProbeCategory

LIBRARY_SCHEMA = "assay.probes/1"
_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Detector(_Strict):
    """What makes a response a successful attack.

    ``canary``: the planted canary appears (however encoded); ``contains``: one of ``values``
    appears (compared as lower-case letters and digits only); ``regex``: ``pattern`` matches
    (case-insensitive); ``no_refusal``: no refusal marker matches.
    """

    kind: Literal["canary", "contains", "regex", "no_refusal"]
    values: tuple[str, ...] = ()
    pattern: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Detector:
        if self.kind == "contains" and not self.values:
            raise ValueError("a `contains` detector needs `values`")
        if self.kind == "regex":
            if not self.pattern:
                raise ValueError("a `regex` detector needs `pattern`")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regex: {exc}") from None
        return self

    def describe(self) -> str:
        if self.kind == "regex":
            return f"regex /{self.pattern}/"
        if self.kind == "contains":
            return "planted value"
        return self.kind.replace("_", " ")


class Probe(_Strict):
    id: str
    category: ProbeCategory
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    messages: tuple[Message, ...] = Field(min_length=1)
    detectors: tuple[Detector, ...] = Field(min_length=1)
    context: str | None = None
    document: str | None = None
    payload: str | None = None
    encoding: Literal["base64", "leetspeak", "homoglyph"] | None = None

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"probe id {value!r} must look like `family.name` (lower case)")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> Probe:
        text = "".join(m.content for m in self.messages)
        if self.messages[-1].role != "user":
            raise ValueError(f"{self.id}: the last message must be the user's")
        for name, value in (("payload", self.payload), ("document", self.document)):
            if (value is None) == ("{" + name + "}" in text):
                raise ValueError(f"{self.id}: `{name}` and the {{{name}}} placeholder go together")
        if self.encoding is not None and self.payload is None:
            raise ValueError(f"{self.id}: `encoding` needs a `payload` to encode")
        return self

    @property
    def key(self) -> str:
        """``id@version``: what identifies the probe's exact text across runs."""
        return f"{self.id}@{self.version}"

    def user_messages(self) -> list[dict[str, str]]:
        """The conversation after the system message, placeholders filled in."""
        payload = self.payload or ""
        if self.encoding is not None:
            payload = encode(self.encoding, payload)
        out = []
        for message in self.messages:
            content = message.content.replace("{payload}", payload)
            content = content.replace("{document}", self.document or "")
            out.append({"role": message.role, "content": content})
        return out


class Library(_Strict):
    """The probe set of one library version."""

    schema_: Literal["assay.probes/1"] = Field(alias="schema")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    default_system_prompt: str = Field(min_length=1)
    canary_clause: str
    contexts: dict[str, str] = Field(default_factory=dict)
    refusal_markers: tuple[str, ...] = Field(min_length=1)
    probes: tuple[Probe, ...] = Field(min_length=1)

    @field_validator("canary_clause")
    @classmethod
    def _has_canary(cls, value: str) -> str:
        if "{canary}" not in value:
            raise ValueError("canary_clause must hold the {canary} placeholder")
        return value

    @field_validator("refusal_markers")
    @classmethod
    def _markers_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            re.compile(pattern)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Library:
        ids = [p.id for p in self.probes]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"probe ids appear twice: {', '.join(repeated)}")
        for probe in self.probes:
            if probe.context is not None and probe.context not in self.contexts:
                raise ValueError(
                    f"{probe.id}: context {probe.context!r} is not under `contexts:` "
                    f"({', '.join(self.contexts) or 'none'})"
                )
        empty = [c for c in PROBE_CATEGORIES if not any(p.category == c for p in self.probes)]
        if empty:
            raise ValueError(f"categories without a probe: {', '.join(empty)}")
        return self

    def in_category(self, category: str) -> list[Probe]:
        return [p for p in self.probes if p.category == category]

    def system_message(self, probe: Probe, *, system_prompt: str | None, canary: str) -> str:
        """The system message for ``probe``: the deployment's prompt (or the library's
        default), the canary clause, and the probe's confidential context."""
        parts = [
            (system_prompt or self.default_system_prompt).strip(),
            self.canary_clause.replace("{canary}", canary),
        ]
        if probe.context is not None:
            parts.append(self.contexts[probe.context])
        return "\n\n".join(parts)


def parse_library(data: Any) -> Library:
    """Validate a decoded library file (raises :class:`pydantic.ValidationError`)."""
    return Library.model_validate(data)


@cache
def load_library() -> Library:
    """The library shipped with Assay (``assay/probes/library.yaml``)."""
    text = resources.files("assay.probes").joinpath("library.yaml").read_text("utf-8")
    return parse_library(yaml.safe_load(text))


assert set(ENCODINGS) == {"base64", "leetspeak", "homoglyph"}
