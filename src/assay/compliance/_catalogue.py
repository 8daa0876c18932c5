"""The control catalogue: which checks evidence which controls, and the spec's override of it.

The built-in catalogue is ``catalogue.yaml`` in this package. A spec's
``compliance.catalogue`` names a YAML file of changes applied in order::

    version: 1
    controls:
      - framework: eu_ai_act          # add a control
        id: Art. 10(5)
        title: Special categories of personal data for bias detection
        citation: Article 10(5)
        checks: [fairness.group_metrics]
      - framework: nist_ai_rmf        # change a control's mapping
        id: MEASURE 2.11
        add_checks: [model.slices]    # or checks: [...] to replace, remove_checks: [...]
      - framework: iso_42001          # drop a control
        id: A.10.3
        remove: true
    unmapped:                         # checks deliberately evidencing no control, with why
      drift.label: our labels arrive months late

Both files are read with line numbers: a malformed entry raises :class:`SpecError` naming
the file, the line, the entry and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from importlib import resources
from pathlib import Path
from typing import Any

from assay.errors import InputError, SpecError
from assay.spec.loader import Location, _compose
from assay.spec.models import FRAMEWORKS, Spec

BUILTIN_NAME = "assay/compliance/catalogue.yaml"
"""How the built-in catalogue is named in messages."""

ENTRY_ERROR = "{path}, line {line}: {entry}: {problem}. Got {value}. {fix}"
"""A malformed catalogue entry: where, which entry, what is wrong, the value and the fix."""
NOT_A_MAPPING = "{path}: a control catalogue must be a YAML mapping with `controls:`. Got {kind}."
OVERRIDE_MISSING = (
    "{where}: compliance.catalogue names {path}, which does not exist. "
    "Create it (docs/compliance.md#overriding-the-catalogue) or fix the path."
)

_OVERRIDE_KEYS = (
    "framework",
    "id",
    "title",
    "citation",
    "checks",
    "add_checks",
    "remove_checks",
    "remove",
)


@dataclass(frozen=True)
class Control:
    """One control of a framework and the checks whose findings evidence it."""

    framework: str
    id: str
    title: str
    citation: str
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    """A framework's controls, in catalogue order. ``indicative``: the mapping is a reading
    of titles only (ISO/IEC 42001, whose text is not public)."""

    id: str
    title: str
    source: str
    indicative: bool
    controls: tuple[Control, ...]

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)


@dataclass(frozen=True)
class Catalogue:
    """Frameworks by id (in :data:`FRAMEWORKS` order), and checks deliberately left unmapped."""

    frameworks: Mapping[str, Framework]
    unmapped: Mapping[str, str] = field(default_factory=dict)

    def mapped_checks(self) -> set[str]:
        """Every check id some control names."""
        return {c for fw in self.frameworks.values() for ctl in fw.controls for c in ctl.checks}

    def controls_of(self, check_id: str) -> list[Control]:
        """The controls ``check_id`` evidences, framework by framework."""
        return [
            ctl for fw in self.frameworks.values() for ctl in fw.controls if check_id in ctl.checks
        ]


# Reading with line numbers ----------------------------------------------------------------


class _Reader:
    """Reads one catalogue file's data, raising messages that name its lines."""

    def __init__(self, path: str, lines: dict[Location, int], known: Collection[str]) -> None:
        self.path = path
        self.lines = lines
        self.known = sorted(known)

    def fail(self, loc: Location, entry: str, problem: str, value: Any, fix: str) -> SpecError:
        line = next(
            (self.lines[loc[:end]] for end in range(len(loc), -1, -1) if loc[:end] in self.lines),
            1,
        )
        return SpecError(
            ENTRY_ERROR.format(
                path=self.path, line=line, entry=entry, problem=problem, value=_show(value), fix=fix
            )
        )

    def text(self, data: Mapping[str, Any], key: str, loc: Location, entry: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problem = f"'{key}' is required" if key not in data else f"'{key}' must be text"
            raise self.fail((*loc, key), entry, problem, value, f"Write `{key}:` as text.")
        return value.strip()

    def checks(self, data: Mapping[str, Any], key: str, loc: Location, entry: str) -> list[str]:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                (*loc, key),
                entry,
                f"'{key}' must be a list of check ids",
                value,
                f"Write `{key}: [integrity.schema, model.performance]`.",
            )
        for i, check_id in enumerate(value):
            if check_id not in self.known:
                close = get_close_matches(check_id, self.known, n=1, cutoff=0.6)
                hint = (
                    "Did you mean " + " or ".join(repr(c) for c in close) + "?"
                    if close
                    else "Use a registered check id (`assay checks` lists them)."
                )
                raise self.fail(
                    (*loc, key, i), entry, f"'{key}' names an unknown check", check_id, hint
                )
        return list(dict.fromkeys(value))

    def keys(
        self, data: Mapping[str, Any], allowed: Collection[str], loc: Location, entry: str
    ) -> None:
        for key in data:
            if key not in allowed:
                close = get_close_matches(str(key), list(allowed), n=1)
                fix = f"Did you mean {close[0]!r}?" if close else "Remove it."
                raise self.fail(
                    (*loc, key),
                    entry,
                    f"{key!r} is not a known setting",
                    data[key],
                    f"{fix} Known settings here: {', '.join(allowed)}.",
                )

    def unmapped(self, data: Any, loc: Location) -> dict[str, str]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(
                loc,
                "unmapped",
                "must be a mapping of check id to the reason it evidences no control",
                data,
                "Write `unmapped: {CHECK_ID: reason}`.",
            )
        out = {}
        for check_id, reason in data.items():
            if check_id not in self.known:
                close = get_close_matches(str(check_id), self.known, n=1, cutoff=0.6)
                raise self.fail(
                    (*loc, check_id),
                    f"unmapped.{check_id}",
                    "names an unknown check",
                    check_id,
                    f"Did you mean {close[0]!r}?" if close else "Use a registered check id.",
                )
            if not isinstance(reason, str) or not reason.strip():
                raise self.fail(
                    (*loc, check_id),
                    f"unmapped.{check_id}",
                    "the reason must be text",
                    reason,
                    "Say why the check evidences no control.",
                )
            out[str(check_id)] = reason.strip()
        return out


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping with keys " + ", ".join(repr(k) for k in value) if value else "{}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _compose_file(
    text: str, name: str, *, shipped: bool = False
) -> tuple[dict[str, Any], dict[Location, int]]:
    data, lines = _compose(text, name, shipped=shipped)
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise SpecError(NOT_A_MAPPING.format(path=name, kind=kind))
    return data, lines


def _version(reader: _Reader, data: Mapping[str, Any]) -> None:
    if data.get("version", 1) != 1:
        raise reader.fail(
            ("version",), "version", "must be 1", data.get("version"), "Write `version: 1`."
        )


def _known_checks() -> list[str]:
    from assay.checks import load_builtin

    return list(load_builtin())


# The built-in catalogue -------------------------------------------------------------------


def builtin_catalogue(known: Collection[str] | None = None) -> Catalogue:
    """The catalogue shipped with Assay, validated against the registered checks."""
    text = resources.files("assay.compliance").joinpath("catalogue.yaml").read_text("utf-8")
    return parse_builtin(text, known=_known_checks() if known is None else known)


def parse_builtin(text: str, *, known: Collection[str], name: str = BUILTIN_NAME) -> Catalogue:
    """A full catalogue (``frameworks:`` with every control) from YAML text."""
    data, lines = _compose_file(text, name, shipped=name == BUILTIN_NAME)
    reader = _Reader(name, lines, known)
    reader.keys(data, ("version", "frameworks", "unmapped"), (), "the catalogue")
    _version(reader, data)
    raw = data.get("frameworks")
    if not isinstance(raw, dict) or set(raw) != set(FRAMEWORKS):
        raise reader.fail(
            ("frameworks",),
            "frameworks",
            f"must map each of {', '.join(FRAMEWORKS)} to its controls",
            raw,
            "List every framework once.",
        )
    frameworks: dict[str, Framework] = {}
    for fw_id in FRAMEWORKS:
        loc: Location = ("frameworks", fw_id)
        fw = raw[fw_id]
        entry = f"frameworks.{fw_id}"
        if not isinstance(fw, dict):
            raise reader.fail(loc, entry, "must be a mapping", fw, "Add title, source, controls.")
        reader.keys(fw, ("title", "source", "indicative", "controls"), loc, entry)
        controls = fw.get("controls")
        if not isinstance(controls, list):
            raise reader.fail(
                (*loc, "controls"), entry, "'controls' must be a list", controls, "Add them."
            )
        parsed: list[Control] = []
        for i, item in enumerate(controls):
            where: Location = (*loc, "controls", i)
            label = f"{entry}.controls[{i}]"
            if not isinstance(item, dict):
                raise reader.fail(where, label, "must be a mapping", item, "Add id, title, …")
            reader.keys(item, ("id", "title", "citation", "checks"), where, label)
            control_id = reader.text(item, "id", where, label)
            label = f"{label} (control {control_id!r})"
            if any(c.id == control_id for c in parsed):
                raise reader.fail(where, label, "the id appears twice", control_id, "Keep one.")
            parsed.append(
                Control(
                    framework=fw_id,
                    id=control_id,
                    title=reader.text(item, "title", where, label),
                    citation=reader.text(item, "citation", where, label),
                    checks=tuple(reader.checks(item, "checks", where, label)),
                )
            )
        frameworks[fw_id] = Framework(
            id=fw_id,
            title=reader.text(fw, "title", loc, entry),
            source=reader.text(fw, "source", loc, entry),
            indicative=fw.get("indicative") is True,
            controls=tuple(parsed),
        )
    return Catalogue(frameworks, reader.unmapped(data.get("unmapped"), ("unmapped",)))


# The override ------------------------------------------------------------------------------


def apply_override(
    base: Catalogue, text: str, *, name: str, known: Collection[str] | None = None
) -> Catalogue:
    """``base`` with the changes of the override file ``text`` applied in order."""
    data, lines = _compose_file(text, name)
    reader = _Reader(name, lines, _known_checks() if known is None else known)
    reader.keys(data, ("version", "controls", "unmapped"), (), "the override")
    _version(reader, data)
    entries = data.get("controls", [])
    if not isinstance(entries, list):
        raise reader.fail(
            ("controls",),
            "controls",
            "must be a list of control entries",
            entries,
            "Write one `- framework: … id: …` entry per control.",
        )
    frameworks = {k: list(v.controls) for k, v in base.frameworks.items()}
    for i, item in enumerate(entries):
        _apply_entry(reader, frameworks, item, ("controls", i), f"controls[{i}]")
    unmapped = {**base.unmapped, **reader.unmapped(data.get("unmapped"), ("unmapped",))}
    return Catalogue(
        {k: replace(base.frameworks[k], controls=tuple(v)) for k, v in frameworks.items()},
        unmapped,
    )


def _apply_entry(
    reader: _Reader,
    frameworks: dict[str, list[Control]],
    item: Any,
    loc: Location,
    label: str,
) -> None:
    if not isinstance(item, dict):
        raise reader.fail(
            loc, label, "must be a mapping", item, "Write `framework:` and `id:` and the change."
        )
    reader.keys(item, _OVERRIDE_KEYS, loc, label)
    fw_id = reader.text(item, "framework", loc, label)
    if fw_id not in frameworks:
        raise reader.fail(
            (*loc, "framework"),
            label,
            f"'framework' must be one of {', '.join(FRAMEWORKS)}",
            fw_id,
            "Use one of the values listed.",
        )
    control_id = reader.text(item, "id", loc, label)
    label = f"{label} ({fw_id} control {control_id!r})"
    controls = frameworks[fw_id]
    index = next((n for n, c in enumerate(controls) if c.id == control_id), None)
    if "remove" in item:
        if item["remove"] is not True or set(item) - {"framework", "id", "remove"}:
            raise reader.fail(
                (*loc, "remove"),
                label,
                "'remove' must be true and stand alone with framework and id",
                item["remove"],
                "Write `remove: true`, or drop it to change the control instead.",
            )
        if index is None:
            raise reader.fail(
                (*loc, "id"),
                label,
                f"there is no such control to remove in {fw_id}",
                control_id,
                _close_controls(control_id, controls),
            )
        del controls[index]
        return
    if index is None:
        for key in ("add_checks", "remove_checks"):
            if key in item:
                raise reader.fail(
                    (*loc, key),
                    label,
                    f"'{key}' changes an existing control, and {fw_id} has none with this id",
                    item[key],
                    _close_controls(control_id, controls)
                    + " To add a control, give title, citation and checks.",
                )
        controls.append(
            Control(
                framework=fw_id,
                id=control_id,
                title=reader.text(item, "title", loc, label),
                citation=reader.text(item, "citation", loc, label),
                checks=tuple(reader.checks(item, "checks", loc, label)),
            )
        )
        return
    control = controls[index]
    checks = list(control.checks)
    if "checks" in item:
        checks = reader.checks(item, "checks", loc, label)
    if "add_checks" in item:
        checks += [c for c in reader.checks(item, "add_checks", loc, label) if c not in checks]
    if "remove_checks" in item:
        dropped = reader.checks(item, "remove_checks", loc, label)
        checks = [c for c in checks if c not in dropped]
    controls[index] = replace(
        control,
        title=reader.text(item, "title", loc, label) if "title" in item else control.title,
        citation=reader.text(item, "citation", loc, label)
        if "citation" in item
        else control.citation,
        checks=tuple(checks),
    )


def _close_controls(control_id: str, controls: list[Control]) -> str:
    close = get_close_matches(control_id, [c.id for c in controls], n=2, cutoff=0.5)
    if close:
        return "Did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "See docs/compliance.md for the built-in controls."


# The spec's catalogue ---------------------------------------------------------------------


def spec_catalogue(spec: Spec, known: Collection[str] | None = None) -> Catalogue:
    """The built-in catalogue with the spec's ``compliance.catalogue`` override applied.

    Raises :class:`InputError` when the override file is missing and :class:`SpecError` when
    it is malformed — both before any check runs (the runner calls this up front).
    """
    catalogue = builtin_catalogue(known)
    if spec.compliance is None or spec.compliance.catalogue is None:
        return catalogue
    path = spec.resolve(spec.compliance.catalogue)
    where = spec.where("compliance", "catalogue")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(OVERRIDE_MISSING.format(where=where, path=path)) from None
    except OSError as exc:
        raise InputError(
            f"{where}: cannot read the catalogue override {path} ({exc.strerror}). "
            "Check the path and its permissions."
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(
            f"{path}: the catalogue override is not UTF-8 text. Save it as UTF-8."
        ) from None
    return apply_override(catalogue, text, name=str(Path(path)), known=known)


def validate_catalogue(spec: Spec) -> None:
    """Raise the error a malformed ``compliance.catalogue`` override would cause, up front."""
    if spec.compliance is not None and spec.compliance.catalogue is not None:
        spec_catalogue(spec)
