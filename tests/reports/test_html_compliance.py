"""The HTML report's Compliance section: drawn from the stored compliance/matrix.json."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from markupsafe import escape

from assay.compliance import MATRIX_ARTEFACT
from assay.reports import render
from assay.runner import AuditOutcome, run_audit
from assay.spec.loader import load_spec

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditOutcome:
    root = tmp_path_factory.mktemp("compliance")
    n = 40
    pq.write_table(
        pa.table(
            {
                "id": list(range(n)),
                "ts": ["2019-01-01"] * 4 + ["2025-10-01"] * (n - 4),
                HOSTILE: ["yes"] * (n - 2) + ["no", None],
                "y": [i % 2 for i in range(n)],
            }
        ),
        root / "train.parquet",
    )
    (root / "controls.yaml").write_text(
        "controls:\n"
        "  - framework: eu_ai_act\n"
        "    id: Art. 10(5)\n"
        f'    title: "{HOSTILE}"\n'
        "    citation: Article 10(5)\n"
        "    checks: [governance.consent]\n"
    )
    (root / "assay.yaml").write_text(
        "version: 1\nsystem: {name: compliance}\n"
        "datasets:\n"
        "  train:\n    path: train.parquet\n    target: y\n    id: id\n    timestamp: ts\n"
        f'    consent: "{HOSTILE}"\n'
        "compliance:\n  retention_days: 365\n  catalogue: controls.yaml\n"
    )
    return run_audit(load_spec(root / "assay.yaml"), now=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def page(audit: AuditOutcome) -> str:
    return render(audit.run, "html", run_id="r" * 64, load=audit.blobs.__getitem__)


def matrix(audit: AuditOutcome) -> dict[str, Any]:
    [artefact] = [a for a in audit.run.artefacts if a.name == MATRIX_ARTEFACT]
    return json.loads(audit.blobs[artefact.sha256])


def section(page: str) -> str:
    start = page.index('<section id="compliance">')
    return page[start : page.index("</section>", start)]


def test_the_section_shows_the_stored_matrix(audit: AuditOutcome, page: str) -> None:
    stored = matrix(audit)
    body = section(page)
    assert '<a href="#compliance">Compliance</a>' in page
    headings = re.findall(r'<h3 id="compliance-\d+" data-framework="([^"]+)">(.*?)</h3>', body)
    assert [h[0] for h in headings] == [fw["id"] for fw in stored["frameworks"]]
    for (_, heading), fw in zip(headings, stored["frameworks"], strict=True):
        assert f"coverage {fw['coverage_ratio']:.0%}" in heading
        assert f"{fw['evidenced']} of {fw['controls_total']} controls evidenced" in heading
        assert ("indicative" in heading) is fw["indicative"]
    rows = re.findall(r'<tr data-control="([^"]*)" data-status="([^"]+)">', body)
    expected = [
        (str(escape(c["id"])), c["status"]) for fw in stored["frameworks"] for c in fw["controls"]
    ]
    assert rows == expected
    assert ("Art. 10(5)", "fail") in rows  # the override's control, by governance.consent


def test_evidence_links_lead_to_the_findings(audit: AuditOutcome, page: str) -> None:
    body = section(page)
    anchors = set(re.findall(r'<a href="#(finding-[0-9a-f]{12})">', body))
    assert anchors
    ids = set(re.findall(r'<details class="finding" id="(finding-[0-9a-f]{12})"', page))
    assert anchors <= ids
    assert "compliance/retention/train.json" in body  # the artefact a finding cites, by name


def test_hostile_text_is_escaped(page: str) -> None:
    assert HOSTILE not in page
    assert str(escape(HOSTILE)) in section(page)


def test_an_unreadable_matrix_is_listed_not_drawn(audit: AuditOutcome) -> None:
    [artefact] = [a for a in audit.run.artefacts if a.name == MATRIX_ARTEFACT]
    blobs = {**audit.blobs, artefact.sha256: b"[1, 2]"}
    body = section(render(audit.run, "html", run_id="r" * 64, load=blobs.__getitem__))
    assert (
        "Compliance matrix (compliance/matrix.json) not drawn: the content has no list of " in body
    )
    assert "<table" not in body
