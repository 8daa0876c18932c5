"""The model card and the datasheet: built from a stored run, sections in the papers' order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _model_audits import model_spec
from assay.api import AuditResult, execute
from assay.reports._documents import parse_document, to_html
from assay.reports.card import SECTIONS as CARD_SECTIONS
from assay.reports.card import model_card
from assay.reports.datasheet import SECTIONS as SHEET_SECTIONS
from assay.reports.datasheet import datasheet

CARD_TEXT = """# Model card: churn model

- **Version:** 2.1
- **Intended use:** ranking customers for a retention call,
  reviewed by a person.
- **Out of scope:** pricing decisions.

## Ethical considerations

Groups a and b are <b>audited</b> for parity.
"""

SHEET_TEXT = """# Datasheet

## Motivation

Built to study churn.

## Collection process

Exported nightly from the CRM.
"""


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    root = tmp_path_factory.mktemp("card")
    spec = model_spec("good", root)
    docs = root / "documents"
    docs.mkdir()
    (docs / "model_card.md").write_text(CARD_TEXT)
    (docs / "datasheet.md").write_text(SHEET_TEXT)
    spec.documents = Path("documents")
    return execute(spec, repo=root / "repo")


def card_of(result: AuditResult) -> str:
    assert result.repository is not None
    return model_card(result.run, run_id=result.run_id, load=result.repository.get)


def headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, re.M)


def test_the_card_has_mitchell_et_al_sections_in_order(audited: AuditResult) -> None:
    assert headings(card_of(audited)) == list(CARD_SECTIONS)


def test_human_parts_come_from_the_stored_document(audited: AuditResult) -> None:
    card = card_of(audited)
    intended = card.split("## Intended use", 1)[1].split("\n## ", 1)[0]
    assert "ranking customers for a retention call, reviewed by a person." in intended
    assert "pricing decisions." in intended
    assert "(From *model_card.md — Intended use*.)" in intended


def test_missing_sections_name_the_owner(audited: AuditResult) -> None:
    factors = card_of(audited).split("## Factors", 1)[1].split("\n## ", 1)[0]
    assert "*missing — owner: ml-team.*" in factors
    assert "| good model fixture" not in factors  # the declared features are listed instead
    assert "`group` | a" in factors


def test_quantitative_analyses_come_from_the_findings(audited: AuditResult) -> None:
    quantitative = card_of(audited).split("## Quantitative analyses", 1)[1].split("\n## ", 1)[0]
    performance = next(f for f in audited.run.findings if f.check_id == "model.performance")
    auc, low, high = (
        performance.metrics[k] for k in ("roc_auc", "roc_auc_ci_low", "roc_auc_ci_high")
    )
    assert f"| roc_auc | {auc:.4f} [{low:.4f}, {high:.4f}] |" in quantitative


def test_the_card_is_the_same_from_the_same_run(audited: AuditResult) -> None:
    assert card_of(audited) == card_of(audited)


def test_html_escapes_markup_from_the_documents(audited: AuditResult) -> None:
    page = to_html(card_of(audited), "Model card")
    assert page.startswith("<!doctype html>")
    assert "&lt;b&gt;audited&lt;/b&gt;" in page and "<b>audited</b>" not in page
    assert "<table>" in page


def test_the_datasheet_has_gebru_et_al_sections_in_order(audited: AuditResult) -> None:
    assert audited.repository is not None
    sheet = datasheet(audited.run, run_id=audited.run_id, load=audited.repository.get)
    assert headings(sheet) == list(SHEET_SECTIONS)
    assert "Built to study churn." in sheet and "Exported nightly from the CRM." in sheet
    composition = sheet.split("## Composition", 1)[1].split("\n## ", 1)[0]
    assert "**test** (test): 600 rows, 7 columns" in composition
    assert "| `group` | string | sensitive |" in composition
    assert "*missing — owner: ml-team.*" in sheet.split("## Distribution", 1)[1]


def test_documents_split_into_headed_and_labelled_passages() -> None:
    doc = parse_document("card.md", CARD_TEXT)
    titles = [t for t, _ in doc.passages]
    assert titles == ["Version", "Intended use", "Out of scope", "Ethical considerations"]
    assert doc.find(("intended",))[0].text == (
        "ranking customers for a retention call, reviewed by a person."
    )
