"""The spec: validation messages with lines, and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import write_spec
from assay.errors import SpecError
from assay.spec import load_spec, parse_spec, spec_from_mapping
from assay.spec.models import DatasetSchema, InferredSchema

MINIMAL = "version: 1\nsystem: {name: x}\n"


def error_of(text: str, tmp_path: Path) -> str:
    path = tmp_path / "assay.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def test_minimal_spec_has_defaults(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, MINIMAL))
    assert spec.seed == 0
    assert spec.policy.fail_on == "blocker"
    assert spec.owners.for_domain("drift") == "unassigned"
    assert spec.base_dir == tmp_path.resolve()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert str(info.value) == (
        f"{tmp_path / 'nope.yaml'}: no such spec file. "
        "Run `assay init --data FILE --target COLUMN` to write one."
    )


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    message = error_of("version: 1\nsystem:\n  name: [unclosed\n", tmp_path)
    assert message.startswith(f"{tmp_path / 'assay.yaml'}, line 4: the file is not valid YAML")


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "must be a YAML mapping" in error_of("- a\n- b\n", tmp_path)
    assert "Got an empty file" in error_of("", tmp_path)


def test_bad_value_names_line_field_value_and_fix(tmp_path: Path) -> None:
    text = MINIMAL + "datasets:\n  train:\n    path: a.csv\n    format: xlsx\n"
    assert error_of(text, tmp_path) == (
        f"{tmp_path / 'assay.yaml'}, line 6: datasets.train.format must be 'parquet', 'csv' or "
        "'arrow'. Got 'xlsx'. Use one of the values listed."
    )


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    message = error_of(MINIMAL + "datasets:\n  train:\n    path: a.csv\n    targt: y\n", tmp_path)
    assert "line 6: datasets.train.targt is not a known setting" in message
    assert "Did you mean 'target'?" in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    message = error_of(MINIMAL + "seed: 1\nseed: 2\n", tmp_path)
    assert "line 4: key 'seed' appears twice in the same mapping (first on line 3)" in message


@pytest.mark.parametrize(
    ("waiver", "expected"),
    [
        (
            "{check: integrity.schema, reason: r, expires: 2027-01-01}",
            "waivers.0.approver is required",
        ),
        ("{check: integrity.schema, reason: r, approver: a}", "waivers.0.expires is required"),
        (
            "{check: integrity.schema, reason: r, approver: a, expires: 2027-02-30}",
            "waivers.0.expires must be",
        ),
    ],
)
def test_waiver_needs_approver_and_expiry(tmp_path: Path, waiver: str, expected: str) -> None:
    message = error_of(MINIMAL + f"waivers:\n  - {waiver}\n", tmp_path)
    assert "line 4:" in message
    assert expected in message


def test_schema_shorthands(tmp_path: Path) -> None:
    text = MINIMAL + (
        "datasets:\n  train:\n    path: a.csv\n    schema:\n      columns:\n"
        "        x: {type: float, min: 0}\n"
        "  test:\n    path: b.csv\n    schema: infer\n    sensitive: [sex]\n"
    )
    spec = load_spec(write_spec(tmp_path, text))
    assert isinstance(spec.datasets["train"].schema_, DatasetSchema)
    assert spec.datasets["test"].schema_ == InferredSchema(infer="train")
    assert spec.datasets["test"].sensitive[0].column == "sex"
    assert spec.line_of("datasets", "test", "schema") == 11


def test_infer_from_unknown_dataset(tmp_path: Path) -> None:
    message = error_of(
        MINIMAL + "datasets:\n  test:\n    path: b.csv\n    schema: {infer: train}\n", tmp_path
    )
    assert "infers from 'train', which is not a dataset" in message


def test_range_order_checked(tmp_path: Path) -> None:
    text = (
        MINIMAL + "datasets:\n  t:\n    path: a.csv\n    schema:\n      columns:\n"
        "        x: {type: float, min: 3, max: 1}\n"
    )
    assert "line 8: datasets.t.schema.columns.x min (3) is above max (1)" in error_of(
        text, tmp_path
    )


def test_model_reference_accepted(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, MINIMAL + "model:\n  path: model.skops\n"))
    assert spec.model is not None and spec.model.path == Path("model.skops")
    message = error_of(MINIMAL + "model:\n  path: m.skops\n  url: http://x\n", tmp_path)
    assert "needs exactly one of path, callable or url" in message


# Round trips ------------------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
columns = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["integer", "float", "string", "boolean"]),
            "nullable": st.booleans(),
        },
        optional={"unique": st.booleans(), "allowed": st.lists(names, min_size=1, max_size=3)},
    ),
    min_size=1,
    max_size=4,
)
specs = st.fixed_dictionaries(
    {
        "version": st.just(1),
        "system": st.fixed_dictionaries({"name": names, "version": st.just("1.0")}),
        "seed": st.integers(min_value=0, max_value=2**31),
        "datasets": st.dictionaries(
            st.sampled_from(["train", "test", "current", "extra_set"]),
            st.fixed_dictionaries(
                {"path": names.map(lambda n: f"{n}.parquet")},
                optional={"target": names, "schema": st.fixed_dictionaries({"columns": columns})},
            ),
            max_size=3,
        ),
        "checks": st.dictionaries(
            st.just("integrity.missing_values"),
            st.fixed_dictionaries(
                {"enabled": st.booleans()},
                optional={
                    "thresholds": st.fixed_dictionaries(
                        {"missing_ratio": st.floats(min_value=0, max_value=1, allow_nan=False)}
                    ),
                    "severity": st.sampled_from(["blocker", "major", "minor", "info"]),
                },
            ),
        ),
        "waivers": st.lists(
            st.fixed_dictionaries(
                {
                    "check": st.just("integrity.schema"),
                    "subject": names,
                    "reason": names,
                    "approver": names,
                    "expires": st.dates().map(lambda d: d.isoformat()),
                }
            ),
            max_size=2,
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(specs)
def test_spec_round_trips_through_yaml(data: dict) -> None:  # type: ignore[type-arg]
    spec = parse_spec(yaml.safe_dump(data).encode())
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    again = parse_spec(yaml.safe_dump(dumped).encode())
    assert again.model_dump() == spec.model_dump()
    assert spec_from_mapping(dumped).model_dump() == spec.model_dump()


def test_performance_needs_a_url_or_a_serving_endpoint(tmp_path: Path) -> None:
    message = error_of(MINIMAL + "performance:\n  peak_rate: 100\n", tmp_path)
    assert "performance has no `url:` and the spec has no `serving:` to load" in message


def test_performance_data_must_name_a_dataset(tmp_path: Path) -> None:
    text = MINIMAL + (
        "serving: {url: 'http://127.0.0.1:9/predict'}\n"
        "performance:\n  peak_rate: 100\n  data: test\n  template: '{\"instances\": [$row]}'\n"
    )
    assert "performance.data names 'test', which is not a dataset" in error_of(text, tmp_path)


def test_performance_rates_and_bodies_are_checked(tmp_path: Path) -> None:
    base = MINIMAL + "serving: {url: 'http://127.0.0.1:9/predict'}\nperformance:\n"
    assert "peak_rate" in error_of(base + "  peak_rate: 0\n", tmp_path)
    ramp = base + "  peak_rate: 10\n  saturation: {start: 50, stop: 10, step: 5}\n"
    assert "stop (10) is below start (50)" in error_of(ramp, tmp_path)
    both = base + "  peak_rate: 10\n  body: '{}'\n  data: x\n"
    assert "has both `body:` and `data:`" in error_of(both, tmp_path)
    spec = load_spec(write_spec(tmp_path, base + "  peak_rate: 25\n"))
    assert spec.performance is not None and spec.performance.objectives.max_error_rate == 0.01
