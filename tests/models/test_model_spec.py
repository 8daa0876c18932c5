"""The `model:` section of the spec: sources, formats, templates and paths."""

from __future__ import annotations

import pytest
from _model_support import MINIMAL

from assay.errors import SpecError
from assay.spec import parse_spec


def error_of(model_yaml: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec((MINIMAL + "model:\n" + model_yaml).encode())
    return str(info.value)


def test_exactly_one_source() -> None:
    assert (
        "needs exactly one of path, callable or url (or, through the Python API, object); got none"
    ) in error_of("  trust: true\n")
    assert "got path, url" in error_of("  path: m.onnx\n  url: http://x\n")


def test_format_must_fit_the_source() -> None:
    message = error_of("  url: http://x/predict\n  format: onnx\n")
    assert "has format 'onnx', which reads a model from `path:`, but the model is given by " in (
        message
    )
    assert "`path: m.skops`" not in message
    assert "format 'sklearn', which reads a model from `object:`" in error_of(
        "  path: m.skops\n  format: sklearn\n"
    )


def test_callable_syntax() -> None:
    message = error_of("  callable: mymodule.predict\n")
    assert message.startswith("spec, line 4: model.callable must be `module:function`")
    assert "Got 'mymodule.predict'." in message
    spec = parse_spec((MINIMAL + "model:\n  callable: pkg.mod:Model.predict\n").encode())
    assert spec.model is not None and spec.model.callable == "pkg.mod:Model.predict"


def test_url_scheme() -> None:
    assert "model.url must start with http:// or https://" in error_of("  url: ftp://x\n")


def test_request_template_is_json_with_a_placeholder() -> None:
    assert "model.request_template is not valid JSON" in error_of(
        "  url: http://x\n  request_template: '{instances: $records}'\n"
    )
    assert 'must hold the placeholder "$records"' in error_of(
        "  url: http://x\n  request_template: '{\"instances\": []}'\n"
    )
    spec = parse_spec(
        (MINIMAL + "model:\n  url: http://x\n  request_template: {inputs: $rows}\n").encode()
    )
    assert spec.model is not None and spec.model.request_template == '{"inputs": "$rows"}'


def test_response_path_syntax() -> None:
    message = error_of("  url: http://x\n  response_path: outputs..label\n")
    assert "model.response_path must be a dotted path" in message


def test_new_fields_have_defaults() -> None:
    spec = parse_spec((MINIMAL + "model:\n  path: m.onnx\n").encode())
    assert spec.model is not None
    assert (spec.model.retries, spec.model.batch_size, spec.model.classes) == (2, None, None)
