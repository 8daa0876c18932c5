"""What the model card and the datasheet read from a stored run: its spec, documents, findings.

Both are built from the run alone — never from the files as they are now — so a card made
today for a run of last month says what was true then. The human-written parts come from the
documents the run stored (``documents/model_card.md``, ``documents/datasheet.md``): each
``## Heading`` section and each ``- **Label:** text`` line of the opening list is matched to
the card's or datasheet's sections by keywords (``Intended use``, ``Out of scope`` …). A
section nobody wrote is marked ``missing — owner: X``, X being the owner the spec names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from assay.checks._registry import Finding, Status
from assay.run import Run

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LABELLED = re.compile(r"^[-*]\s+\*\*(.+?):?\*\*:?\s*(.*)$")

Load = Callable[[str], bytes]


@dataclass(frozen=True)
class Written:
    """A human-written passage: where it came from and its Markdown text."""

    source: str
    text: str


@dataclass
class Document:
    """A Markdown document split into titled passages (labelled lines count as passages)."""

    name: str
    passages: list[tuple[str, str]] = field(default_factory=list)

    def find(self, keywords: Sequence[str]) -> list[Written]:
        """Passages whose title contains one of ``keywords`` (case-insensitive), in order."""
        found = []
        for title, text in self.passages:
            lowered = title.lower()
            if any(k in lowered for k in keywords) and text.strip():
                found.append(Written(f"{self.name} — {title}", text.strip()))
        return found


def parse_document(name: str, text: str) -> Document:
    """Split ``text`` into passages: ``## Heading`` sections and ``- **Label:**`` lines."""
    doc = Document(name)
    title: str | None = None
    lines: list[str] = []
    continued = False  # the previous line was a labelled line (or its continuation)

    def close() -> None:
        if title is not None:
            doc.passages.append((title, "\n".join(lines).strip()))

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) >= 2:
            close()
            title, lines = heading.group(2), []
            continue
        if heading:  # the document's own title
            continue
        if title is None:
            labelled = _LABELLED.match(line.strip())
            if labelled:
                doc.passages.append((labelled.group(1).strip(), labelled.group(2).strip()))
                continued = True
            elif continued and line.startswith((" ", "\t")) and line.strip():
                label, text_so_far = doc.passages[-1]
                doc.passages[-1] = (label, f"{text_so_far} {line.strip()}")
            else:
                continued = False
            continue
        if title is not None:
            lines.append(line)
    close()
    return doc


class Evidence:
    """One stored run as the card and datasheet see it."""

    def __init__(self, run: Run, run_id: str, load: Load) -> None:
        self.run = run
        self.run_id = run_id
        self._load = load
        self._by_name = {a.name: a for a in run.artefacts}
        raw = self.artefact_bytes("spec/assay.yaml")
        loaded = yaml.safe_load(raw) if raw else None
        self.spec: dict[str, Any] = loaded if isinstance(loaded, dict) else {}

    def artefact_bytes(self, name: str) -> bytes | None:
        artefact = self._by_name.get(name)
        return None if artefact is None else self._load(artefact.sha256)

    def artefact_json(self, name: str) -> Any:
        raw = self.artefact_bytes(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def artefacts(self, prefix: str) -> list[str]:
        return sorted(n for n in self._by_name if n.startswith(prefix))

    def document(self, name: str) -> Document | None:
        raw = self.artefact_bytes(f"documents/{name}")
        if raw is None:
            return None
        return parse_document(name, raw.decode("utf-8", errors="replace"))

    def owner(self, *domains: str) -> str:
        owners = self.spec.get("owners") or {}
        if isinstance(owners, Mapping):
            for domain in (*domains, "default"):
                if owners.get(domain):
                    return str(owners[domain])
        return "unassigned (set `owners:` in the spec)"

    def findings(self, *domains: str) -> list[Finding]:
        return [f for f in self.run.findings if not domains or f.domain in domains]

    def datasets(self) -> dict[str, dict[str, Any]]:
        found = self.spec.get("datasets") or {}
        return {str(k): dict(v) for k, v in found.items() if isinstance(v, dict)}

    def inputs(self) -> dict[str, dict[str, Any]]:
        return {str(i.get("name")): dict(i) for i in self.run.inputs}


def human(
    docs: Iterable[Document | None], keywords: Sequence[str], owner: str, *, what: str
) -> str:
    """The written passages matching ``keywords``, or the ``missing — owner`` marker."""
    passages = [w for doc in docs if doc is not None for w in doc.find(keywords)]
    if not passages:
        return f"*missing — owner: {owner}.* Write the {what} in the documents folder."
    return "\n\n".join(f"{w.text}\n\n(From *{w.source}*.)" for w in passages)


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def with_interval(metrics: Mapping[str, Any], name: str) -> str:
    """``0.7580 [0.7120, 0.7984]`` when the finding carries the interval, else the value."""
    value = metrics.get(name)
    low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
    if value is None:
        return "—"
    if low is None or high is None:
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (cells escaped for ``|`` and line breaks)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def findings_table(findings: Sequence[Finding]) -> str:
    """Check, subject, status and the graded metric of each finding (with its interval)."""
    rows = []
    for f in findings:
        metric = f.threshold.metric if f.threshold else None
        shown = with_interval(f.metrics, metric) if metric else "—"
        rows.append((f"`{f.check_id}`", f.subject, f.status.value, metric or "—", shown))
    if not rows:
        return "*No findings of this kind in the run.*"
    return table(("check", "subject", "status", "graded metric", "value [95% CI]"), rows)


def concerns(findings: Sequence[Finding]) -> str:
    """Failing, warning and erroring findings with their remediation, as a list."""
    bad = [f for f in findings if f.status in (Status.FAIL, Status.WARN, Status.ERROR)]
    if not bad:
        return "No failing or warning finding in the run."
    return "\n".join(
        f"- **{f.status.value}** `{f.check_id}` [{f.subject}]: {f.message}"
        + (f" *Recommendation:* {f.remediation}" if f.remediation else "")
        for f in bad
    )


def heading_anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #24292f;
  max-width: 980px; margin: 2rem auto; padding: 0 1rem; }}
h1 {{ font-size: 1.7rem; }} h2 {{ border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }}
table {{ border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; }}
th {{ background: #f6f8fa; }} code {{ background: #f6f8fa; padding: 0 .2rem; }}
em {{ color: #57606a; }}
</style></head><body>
{body}
</body></html>
"""


def to_html(markdown: str, title: str) -> str:
    """The Markdown as one offline HTML page (raw HTML in the documents is escaped)."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = renderer.render(markdown)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    return HTML_PAGE.format(title=escaped, body=body)
