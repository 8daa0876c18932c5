"""docs/compliance.md's catalogue tables, generated from the built-in catalogue.

Run ``python -m assay.compliance._docs`` to rewrite the part of docs/compliance.md between
:data:`BEGIN` and :data:`END`; a test fails when the page and ``catalogue.yaml`` disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assay.compliance._catalogue import Catalogue, builtin_catalogue

BEGIN = "<!-- catalogue:begin (generated from src/assay/compliance/catalogue.yaml) -->"
END = "<!-- catalogue:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def catalogue_markdown(catalogue: Catalogue) -> str:
    """One table per framework (control, citation, title, checks), then the unmapped checks."""
    parts = []
    for fw in catalogue.frameworks.values():
        note = " The mapping is **indicative**." if fw.indicative else ""
        parts.append(
            f"### {fw.title} (`{fw.id}`)\n\n{fw.source}. {len(fw.controls)} controls.{note}\n\n"
            "| Control | Citation | Title | Checks |\n|---|---|---|---|\n"
            + "".join(
                f"| {_cell(c.id)} | {_cell(c.citation)} | {_cell(c.title)} | "
                + (", ".join(f"`{k}`" for k in c.checks) or "none: not evidenced by Assay")
                + " |\n"
                for c in fw.controls
            )
        )
    if catalogue.unmapped:
        parts.append(
            "### Checks mapped to no control\n\n| Check | Why |\n|---|---|\n"
            + "".join(f"| `{k}` | {_cell(v)} |\n" for k, v in sorted(catalogue.unmapped.items()))
        )
    return "\n".join(parts)


def rewrite(page: Path) -> bool:
    """Replace the generated part of ``page``; ``True`` if it changed."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n\n{catalogue_markdown(builtin_catalogue())}\n{END}{tail}"
    page.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/compliance.md")
    print(f"{target}: {'rewritten' if rewrite(target) else 'up to date'}")
