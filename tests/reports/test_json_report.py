"""JSON results: valid against the published schema, deterministic, faithful to the stored run."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from report_fixtures import SIGNING_KEY, Stored

from assay.checks._registry import DOMAINS, Finding, Severity, Status
from assay.evidence import key_fingerprint
from assay.evidence.signing import sign_approval
from assay.reports import RESULTS_SCHEMA, render
from assay.reports._common import SIGNATURE_STATUSES
from assay.reports.json_report import INPUT_FIELDS, results_document

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA = json.loads((DOCS / "results-schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())


def document(stored: Stored) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stored.render("json"))
    return data


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema"]["const"] == RESULTS_SCHEMA


@pytest.mark.parametrize("fixture", ["stored", "passing", "empty"])
def test_output_validates_against_the_schema(fixture: str, request: pytest.FixtureRequest) -> None:
    VALIDATOR.validate(document(request.getfixturevalue(fixture)))


def path_to(doc: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = doc
    for step in path:
        node = node[step]
    return node


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ((), "verdict"),
        ((), "run_id"),
        ((), "schema"),
        (("verdict",), "counts"),
        (("verdict", "counts"), "waived"),
        (("findings", 0), "status"),
        (("findings", 0), "threshold"),
        (("inputs", 0), "sha256"),
        (("artefacts", 0), "sha256"),
        (("approvals", 0), "by"),
    ],
)
def test_the_schema_rejects_a_document_missing_a_required_field(
    stored: Stored, path: tuple[str | int, ...], field: str
) -> None:
    doc = copy.deepcopy(document(stored))
    del path_to(doc, path)[field]
    with pytest.raises(ValidationError, match=re.escape(f"'{field}' is a required property")):
        VALIDATOR.validate(doc)


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (("findings", 0), "status", "ok"),
        (("findings", 0), "severity", "critical"),
        (("findings", 0, "metrics"), "missing_ratio", "0.31"),
        (("findings", 0), "evidence", ["artefact.json"]),
        (("verdict",), "status", "maybe"),
        ((), "schema", "assay.results/2"),
        ((), "run_id", "not-a-hash"),
    ],
)
def test_the_schema_rejects_wrong_values(
    stored: Stored, path: tuple[str | int, ...], field: str, value: Any
) -> None:
    doc = copy.deepcopy(document(stored))
    path_to(doc, path)[field] = value
    with pytest.raises(ValidationError):
        VALIDATOR.validate(doc)


def test_the_schema_vocabularies_match_the_code() -> None:
    defs = SCHEMA["$defs"]
    assert defs["status"]["enum"] == [s.value for s in Status]
    assert defs["severity"]["enum"] == [s.value for s in Severity]
    assert defs["finding"]["properties"]["domain"]["examples"] == list(DOMAINS)


def declared(schema: dict[str, Any], name: str) -> set[str]:
    return set(SCHEMA["$defs"][name]["properties"]) if name else set(schema["properties"])


def test_every_emitted_field_is_declared_in_the_schema(stored: Stored) -> None:
    doc = document(stored)
    assert set(doc) == set(SCHEMA["properties"]) == set(SCHEMA["required"])
    assert set(doc["verdict"]) == declared(SCHEMA, "verdict")
    for name, items in [
        ("finding", doc["findings"]),
        ("input", doc["inputs"]),
        ("artefact", doc["artefacts"]),
        ("approval", doc["approvals"]),
    ]:
        assert items
        for item in items:
            assert set(item) == declared(SCHEMA, name), name


def test_every_schema_field_is_documented() -> None:
    text = (DOCS / "results-schema.md").read_text(encoding="utf-8")
    fields = set(SCHEMA["properties"])
    for definition in SCHEMA["$defs"].values():
        fields |= set(definition.get("properties", {}))
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, f"fields not described in docs/results-schema.md: {missing}"
    for value in [*SCHEMA["$defs"]["status"]["enum"], *SCHEMA["$defs"]["severity"]["enum"]]:
        assert f"`{value}`" in text


def test_the_documented_example_validates() -> None:
    text = (DOCS / "results-schema.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    VALIDATOR.validate(json.loads(example))


def test_output_is_deterministic_sorted_and_indented(stored: Stored) -> None:
    first = render(stored.run, "json", run_id=stored.run_id, load=stored.load)
    second = render(stored.run, "json", run_id=stored.run_id, load=stored.load)
    assert first == second
    assert first.endswith("}\n")
    assert first.splitlines()[1].startswith('  "')
    doc = json.loads(first)
    assert list(doc) == sorted(doc)
    assert json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == first


def test_document_carries_the_stored_run(stored: Stored) -> None:
    doc = document(stored)
    run = stored.run
    assert doc["schema"] == "assay.results/1"
    assert doc["run_id"] == stored.run_id
    assert doc["created"] == run.created
    assert doc["system"] == {
        "name": "credit-risk <scorer>",
        "version": "2.3.1",
        "owner": "risk-team",
    }
    assert doc["findings"] == [f.to_json() for f in run.findings]
    assert doc["artefacts"] == [a.to_json() for a in run.artefacts]
    assert doc["previous"] == run.previous
    assert doc["baseline"] is None
    assert doc["verdict"] == {
        "status": "fail",
        "fail_on": "major",
        "counts": {"pass": 3, "warn": 2, "fail": 2, "error": 1, "skipped": 1, "waived": 1},
        "blocking": [
            {"check_id": "integrity.missing_values", "subject": "income"},
            {"check_id": "model.calibration", "subject": "test"},
        ],
    }


def test_the_verdict_is_read_not_recomputed(stored: Stored) -> None:
    """A stored verdict that disagrees with the findings is reported as stored."""
    verdict = replace(stored.run.verdict, status="pass", blocking=())
    doc = document(Stored(replace(stored.run, verdict=verdict), stored.blobs))
    assert doc["verdict"]["status"] == "pass"
    assert doc["verdict"]["blocking"] == []


def test_undefined_metrics_are_null_with_a_reason(stored: Stored) -> None:
    skipped = next(f for f in document(stored)["findings"] if f["status"] == "skipped")
    assert skipped["metrics"] == {"tpr_gap": None}
    assert skipped["undefined"] == {"tpr_gap": "group 'other' has no positive labels"}


def test_non_finite_numbers_become_null(stored: Stored) -> None:
    nan = Finding(
        "model.calibration",
        "model",
        "test",
        Status.SKIPPED,
        Severity.MINOR,
        "ml-team",
        "ece is undefined.",
        metrics={"ece": float("nan"), "brier": float("inf")},
    )
    run = replace(stored.run, findings=[nan], environment={"load": float("nan")})
    text = render(run, "json", run_id=stored.run_id, load=stored.load)
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert doc["findings"][0]["metrics"] == {"brier": None, "ece": None}
    assert doc["environment"] == {"load": None}
    VALIDATOR.validate(doc)


def test_inputs_carry_every_fingerprint_field(stored: Stored) -> None:
    model_input = {"name": "model", "role": "model", "path": "model.skops", "sha256": "ab" * 32}
    manifest_style = {"dataset": "test", "role": "test", "rows": 10}
    run = replace(stored.run, inputs=[*stored.run.inputs, model_input, manifest_style])
    doc = results_document(run, run_id=stored.run_id)
    assert [i["name"] for i in doc["inputs"]] == ["train", "model", "test"]
    for item in doc["inputs"]:
        assert set(INPUT_FIELDS) <= set(item)
    assert doc["inputs"][1]["rows"] is None
    VALIDATOR.validate(doc)


def test_approvals_carry_the_key_fingerprint_and_signature_status(stored: Stored) -> None:
    signed = stored.approvals[0]
    approvals = [
        signed,
        {**signed, "verdict": "pass"},
        sign_approval(
            SIGNING_KEY, run="ab" * 32, verdict="pass", by="Ann", at="2025-03-06"
        ).to_json(),
        {"by": "Sam", "at": "2025-03-06T10:00:00Z", "verdict": "reject"},
        {"by": "Kim", "at": "2025-03-06T10:00:00Z", "verdict": "pass", "signature": "x"},
        {**signed, "fingerprint": "ed25519:feedface"},
    ]
    doc = results_document(stored.run, run_id=stored.run_id, approvals=approvals)
    VALIDATOR.validate(doc)
    out = doc["approvals"]
    assert [a["signature_status"] for a in out] == [
        "valid",
        "invalid",
        "other_run",
        "unsigned",
        "unreadable",
        "valid",
    ]
    assert out[0]["key_fingerprint"] == key_fingerprint(signed["public_key"])
    assert re.fullmatch(r"ed25519:[0-9a-f]{16}", out[0]["key_fingerprint"])
    assert out[0]["signature"] == signed["signature"] and out[0]["run"] == stored.run_id
    assert out[3]["key_fingerprint"] is None and out[3]["public_key"] is None
    assert out[5]["key_fingerprint"] == "ed25519:feedface" and "fingerprint" not in out[5]
    assert SCHEMA["$defs"]["approval"]["properties"]["signature_status"]["enum"] == list(
        SIGNATURE_STATUSES
    )
