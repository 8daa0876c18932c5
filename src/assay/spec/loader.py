"""Read ``assay.yaml`` into a :class:`Spec`, naming the line of every problem.

The YAML is composed into nodes first so every key and list item keeps its line; a pydantic
validation error is then reported at the line of the deepest node its location reaches::

    assay.yaml, line 14: datasets.train.format must be 'parquet', 'csv' or 'arrow'.
    Got 'xlsx'. Use one of the values listed.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from assay.errors import SPEC_FIELD, SPEC_NOT_FOUND, SPEC_NOT_MAPPING, SPEC_NOT_YAML, SpecError
from assay.spec.models import Spec

Location = tuple[str | int, ...]

_FIXES = {
    "missing": "Add it.",
    "literal_error": "Use one of the values listed.",
    "enum": "Use one of the values listed.",
    "int_parsing": "Write a whole number.",
    "int_type": "Write a whole number.",
    "int_from_float": "Write a whole number.",
    "float_parsing": "Write a plain number such as 0.2.",
    "float_type": "Write a plain number such as 0.2.",
    "bool_parsing": "Write true or false.",
    "bool_type": "Write true or false.",
    "date_from_datetime_parsing": "Write the date as YYYY-MM-DD, for example 2027-03-31.",
    "date_parsing": "Write the date as YYYY-MM-DD, for example 2027-03-31.",
    "date_type": "Write the date as YYYY-MM-DD, for example 2027-03-31.",
    "string_type": "Write it as text (quote it if YAML reads it as a number or date).",
    "dict_type": "Write a mapping of keys to values here.",
    "list_type": "Write a list here (one `- item` per line).",
    "model_type": "Write a mapping of keys to values here.",
    "greater_than_equal": "Use a larger value.",
    "greater_than": "Use a larger value.",
    "string_too_short": "Fill it in.",
    "too_short": "Give at least one entry.",
}


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``; raise :class:`SpecError` if it is bad."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(SPEC_NOT_FOUND.format(path=path)) from None
    except IsADirectoryError:
        raise SpecError(
            f"{path}: is a folder, not a spec file. Name the assay.yaml inside it."
        ) from None
    except OSError as exc:
        raise SpecError(
            f"{path}: cannot read the spec ({exc.strerror}). Check the path and its permissions."
        ) from None
    return parse_spec(raw, source=path)


def parse_spec(raw: bytes, *, source: Path | None = None, base_dir: Path | None = None) -> Spec:
    """Validate the YAML text ``raw``; ``source`` names it in messages."""
    name = str(source) if source else "spec"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            SPEC_NOT_YAML.format(path=name, line=line, problem="it is not UTF-8 text")
        ) from None
    data, lines = _compose(text, name)
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise SpecError(SPEC_NOT_MAPPING.format(path=name, kind=kind))
    if base_dir is None:
        base_dir = source.resolve().parent if source else Path.cwd()
    return _validate(data, name=name, lines=lines, raw=raw, source=source, base_dir=base_dir)


def spec_from_mapping(data: Mapping[str, Any], *, base_dir: Path | None = None) -> Spec:
    """A spec built in Python; datasets may carry ``data=`` (a pandas, polars or Arrow table).

    The model may be a fitted estimator: ``"model": {"object": est, "features": [...]}``, or
    ``"model": est`` for short. The spec's YAML dump names the object's type in its place.
    """
    plain = dict(data)
    model = plain.get("model")
    raw_model: Any = None
    if model is not None and not isinstance(model, Mapping | BaseModel):
        model = {"object": model}
    if isinstance(model, Mapping):
        model = dict(model)
        if model.get("object") is not None:
            kind = type(model["object"])
            raw_model = {**model, "object": f"<in-memory {kind.__module__}.{kind.__qualname__}>"}
    if model is not None:
        plain["model"] = model
    tables: dict[str, Any] = {}
    datasets = {}
    for ds_name, ds in dict(plain.get("datasets") or {}).items():
        ds = dict(ds)
        if "data" in ds:
            tables[ds_name] = ds.pop("data")
        datasets[ds_name] = ds
    plain["datasets"] = datasets
    dumped = plain if raw_model is None else {**plain, "model": raw_model}
    raw = yaml.safe_dump(_plain(dumped), sort_keys=False).encode()
    spec = _validate(
        plain, name="spec", lines={}, raw=raw, source=None, base_dir=base_dir or Path.cwd()
    )
    for ds_name, table in tables.items():
        spec.datasets[ds_name]._data = table
    return spec


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _validate(
    data: dict[str, Any],
    *,
    name: str,
    lines: dict[Location, int],
    raw: bytes,
    source: Path | None,
    base_dir: Path,
) -> Spec:
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_errors(exc, data, name, lines)) from None
    spec._source = source
    spec._base_dir = base_dir
    spec._lines = lines
    spec._raw = raw
    return spec


# YAML with line numbers -------------------------------------------------------------------


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text, so pydantic validates them with a clear message."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same in libyaml's C parser (PyYAML's wheels ship it), for files Assay ships: the
    built-in compliance catalogue takes ~40 ms to compose in Python. Users' files keep the
    Python parser, whose syntax messages the docs quote."""


_SpecLoader.yaml_implicit_resolvers = _FastLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _compose(text: str, name: str, *, shipped: bool = False) -> tuple[Any, dict[Location, int]]:
    loader = (_FastLoader if shipped else _SpecLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Location, int] = {}
        _record_lines(node, (), lines, name)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        raise SpecError(SPEC_NOT_YAML.format(path=name, line=line, problem=problem)) from None
    except yaml.YAMLError as exc:
        raise SpecError(SPEC_NOT_YAML.format(path=name, line=1, problem=str(exc))) from None
    finally:
        loader.dispose()


def _record_lines(node: yaml.Node, loc: Location, lines: dict[Location, int], name: str) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SpecError(
                    f"{name}, line {line}: key {key!r} appears twice in the same mapping "
                    f"(first on line {seen[key]}). Keep one of them."
                )
            seen[key] = line
            _record_lines(value_node, (*loc, key), lines, name)
            lines[(*loc, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, (*loc, i), lines, name)


# Validation errors as messages -------------------------------------------------------------


def _format_errors(exc: ValidationError, data: Any, name: str, lines: dict[Location, int]) -> str:
    messages: list[str] = []
    seen: set[Location] = set()
    for error in exc.errors(include_url=False):
        loc = _data_path(data, error["loc"])
        if loc in seen:
            continue
        seen.add(loc)
        messages.append(_format_error(error, loc, name, lines))
    return "\n".join(messages)


def _format_error(error: Any, loc: Location, name: str, lines: dict[Location, int]) -> str:
    kind = error["type"]
    field = ".".join(str(p) for p in loc) or "the spec"
    line = next((lines[loc[:end]] for end in range(len(loc), -1, -1) if loc[:end] in lines), 1)
    problem = str(error["msg"])
    problem = problem.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    problem = problem.replace("Input should be", "must be").replace("Field required", "is required")
    if kind == "extra_forbidden":
        problem = "is not a known setting"
    problem = problem[0].lower() + problem[1:] if problem else problem
    value = "nothing" if kind == "missing" else _show(error.get("input"))
    fix = _FIXES.get(kind, "See docs/spec.md for what this field accepts.")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = get_close_matches(str(loc[-1]), allowed, n=1)
        fix = f"Did you mean {close[0]!r}?" if close else "Remove it."
        if allowed:
            fix += f" Known settings here: {', '.join(allowed)}."
    elif kind == "missing":
        fix = f"Add `{loc[-1]}:` here." if loc else fix
    return SPEC_FIELD.format(
        path=name, line=line, field=field, problem=problem, value=value, fix=fix
    )


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "a mapping with keys " + ", ".join(repr(k) for k in value)
            if value
            else "an empty mapping"
        )
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Location:
    """Drop the parts of a pydantic location that are union tags, not keys of the data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing or unknown key: name it, then stop descending
            node = None
    return tuple(path)


def _is_tag(part: str) -> bool:
    return part in {"declared", "infer", "levels", "value"} or part[:1].isupper()


def _allowed_keys(loc: Location) -> list[str]:
    """The settings allowed at ``loc``, found by walking the spec's models."""
    annotation: Any = Spec
    for part in loc:
        model = _model_in(annotation)
        if model is not None:
            field = next(
                (f for n, f in model.model_fields.items() if (f.alias or n) == part),
                None,
            )
            if field is None:
                return []
            annotation = field.annotation
        else:
            args = [a for a in typing.get_args(_strip(annotation)) if a is not type(None)]
            annotation = args[-1] if args else None
    model = _model_in(annotation)
    if model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_in(a)) is not None]
        return models[0] if len(models) == 1 else None
    return None
