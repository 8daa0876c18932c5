"""A complete set of governance documents, for the documents checks' tests."""

from __future__ import annotations

MODEL_CARD = """# Model card
## Intended use
Ranking customers for a call.
## Training data
Customers 2020-2024.
## Evaluation
ROC AUC on a held-out year.
## Ethical considerations
Audited for parity by region.
## Caveats and recommendations
Not for pricing.
"""
THREATS = """# Threat model
| threat | mitigation | owner |
| --- | --- | --- |
| model inversion | scores are never exposed | ml@example.org |
| membership inference | regularised; audited | ml@example.org |
| prompt injection | not applicable: no generative component | ml@example.org |
| data poisoning | data pinned by sha256 | data@example.org |
| model extraction | rate limits | platform@example.org |

## Evasion

- Mitigation: inputs validated against the schema
- Owner: platform@example.org
"""
COMPLETE = {
    "model_card.md": MODEL_CARD,
    "datasheet.md": "# D\n## Motivation\nm\n## Composition\nc\n## Collection\nc\n"
    "## Maintenance\nm\n",
    "training_log.md": "# Training log\nrun 1\n",
    "evaluation.ipynb": '{"cells": []}\n',
    "runbook.md": "# R\n## When it breaks\nroll back\n## Contacts\nml@example.org\n## Rollback\n"
    "redeploy the previous version\n",
    "monitoring.md": "# Monitoring\n## Thresholds\nPSI 0.2\n",
    "incident_sla.md": "# Incidents\n## Response times\nsev1: 1 h\n",
    "threat_model.md": THREATS,
}


def write_documents(folder: object, docs: dict[str, str]) -> None:
    """Write ``docs`` (file name → text) into ``folder`` (a Path)."""
    from pathlib import Path

    root = Path(str(folder))
    root.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (root / name).write_text(text)
