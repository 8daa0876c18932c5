"""The HTML report: self-contained, escaped, and showing every part of the stored run."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from report_fixtures import HOSTILE, MANIFEST, Stored, build_stored

from assay.evidence import key_fingerprint
from assay.reports import FORMATS, SUFFIXES, render, write_report
from assay.reports import html as html_report
from assay.reports._common import INLINE_JSON_LIMIT
from assay.reports.html import UNLISTED_EVIDENCE


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(value in (a.get(k) or "").split() for k, value in attrs.items())
        ]


@pytest.fixture(scope="module")
def page() -> str:
    """The report of the fixture run, rendered once for the read-only tests of this module."""
    return build_stored().render("html")


def test_page_is_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\bsrc\s*=", page)
    assert "@import" not in page and "<link" not in page and "@font-face" not in page
    assert set(re.findall(r"url\((.)", page)) <= {"#"}
    elements = Elements(page)
    hrefs = [a["href"] for t, a in elements.tags if "href" in a]
    assert hrefs and all((h or "").startswith("#") for h in hrefs)


def test_user_text_is_escaped(page: str) -> None:
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<b>notes</b>" not in page
    assert "credit-risk &lt;scorer&gt;" in page
    assert page.count("<script") == 1  # the report's own filter script


def test_header_names_the_system_and_the_run(page: str, stored: Stored) -> None:
    assert "credit-risk &lt;scorer&gt;" in page and "2.3.1" in page
    assert stored.run_id in page and stored.run_id[:12] in page
    assert "2025-03-04T10:11:12Z" in page
    assert "Assay 0.1.0" in page or "<dd>0.1.0</dd>" in page


def test_verdict_banner_shows_the_stored_verdict(page: str, stored: Stored) -> None:
    assert re.search(r'id="verdict-word">FAIL<', page)
    assert "major or worse" in page
    chips = re.findall(r'data-filter-status="(\w+)"[^>]*><b>(\d+)</b>', page)
    assert dict(chips) == {k: str(v) for k, v in stored.run.verdict.counts.items()}


def test_passing_run_says_pass(passing: Stored) -> None:
    page = passing.render("html")
    assert re.search(r'id="verdict-word">PASS<', page)
    assert 'class="verdict v-pass"' in page


def test_one_expandable_row_per_finding(page: str, stored: Stored) -> None:
    rows = Elements(page).find("details", **{"class": "finding"})
    assert len(rows) == len(stored.run.findings)
    assert sorted((r["data-domain"], r["data-status"]) for r in rows) == sorted(
        (f.domain, f.status.value) for f in stored.run.findings
    )
    assert re.search(r'id="visible-count">10<', page)


def test_rows_are_ordered_most_urgent_first(page: str) -> None:
    statuses = [a["data-status"] for a in Elements(page).find("details", **{"class": "finding"})]
    assert statuses == ["fail", "fail", "error", "warn", "warn", "waived", "skipped"] + ["pass"] * 3


def test_domain_summary_lists_every_domain_in_order(page: str) -> None:
    rows = [a["data-domain"] for t, a in Elements(page).tags if t == "tr" and "data-domain" in a]
    assert rows == [
        "integrity",
        "drift",
        "model",
        "fairness",
        "robustness",
        "security",
        "performance",
        "monitoring",
        "governance",
    ]


def test_details_show_metrics_threshold_waiver_and_reasons(page: str) -> None:
    assert "missing_ratio ≤ 0.05 (warn), ≤ 0.2 (fail)" in page
    assert "parity_ratio ≥ 0.8 (fail)" in page
    assert "group &#39;other&#39; has no positive labels" in page
    assert "Pilot limited to one region" in page
    assert "cro@example.org" in page and "2031-01-31" in page
    assert "Fix the export step that drops income." in page


def test_evidence_is_named_and_small_json_is_inlined(page: str, stored: Stored) -> None:
    profile, big, plot = stored.run.artefacts[1:]
    assert f"sha256:{profile.sha256}" in page
    assert "drift/age.json" in page
    assert "&#34;psi&#34;: 0.15" in page or '"psi": 0.15' in page
    assert big.size > INLINE_JSON_LIMIT
    assert f"larger than {INLINE_JSON_LIMIT:,} bytes" in page
    assert '"values"' not in page and "&#34;values&#34;" not in page
    assert str(escape(UNLISTED_EVIDENCE)) in page
    assert plot.name in page and "image/svg+xml" in page


def test_inline_evidence_stops_at_the_page_budget(
    stored: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_report, "INLINE_TOTAL_LIMIT", 100)
    page = stored.render("html")
    assert str(escape(html_report.SPENT_EVIDENCE.format(limit=100))) in page
    assert "&#34;psi&#34;: 0.15" in page  # the 32-byte profile still fits


def test_manifest_table_reads_the_manifest_artefact(page: str) -> None:
    section = page.split('id="manifests"', 1)[1].split("</section>", 1)[0]
    assert "data/train.parquet" in section
    assert "48,842" in section and "1,234,567" in section
    assert "age, income, zip|code, sex" in section


def test_unreadable_manifest_is_reported_not_fatal(stored: Stored) -> None:
    manifest = stored.run.artefacts[0]
    blobs = {k: v for k, v in stored.blobs.items() if k != manifest.sha256}
    page = Stored(stored.run, blobs).render("html")
    section = page.split('id="manifests"', 1)[1].split("</section>", 1)[0]
    assert "manifest/train: content unavailable (KeyError" in section

    blobs[manifest.sha256] = b"{not json"
    page = Stored(stored.run, blobs).render("html")
    assert "content is not valid JSON" in page


def test_plots_are_inline_svg(page: str) -> None:
    svgs = re.findall(r"<svg\b[^>]*>", page)
    assert len(svgs) == 2
    assert all('role="img"' in s and "xmlns" not in s for s in svgs)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids must be unique across the page"
    for ref in re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', page):
        target = ref[0] or ref[1]
        assert target in ids, target
    assert "Data integrity" in page.split('id="plot-domains"', 1)[1]


def approvals_section(page: str) -> str:
    return page.split('id="approvals"', 1)[1].split("</section>", 1)[0]


def test_approvals_show_who_when_key_and_signature(page: str, stored: Stored) -> None:
    section = approvals_section(page)
    assert "Dana Reviewer" in section and "2025-03-05T09:00:00Z" in section
    fingerprint = key_fingerprint(stored.approvals[0]["public_key"])
    assert f"<code>{fingerprint}</code>" in section
    assert '<span class="sig sig-valid">valid</span>' in section


def test_a_tampered_approval_is_flagged(stored: Stored) -> None:
    tampered = {**stored.approvals[0], "by": "Mallory"}
    unsigned = {"by": "Sam", "at": "2025-03-06T10:00:00Z", "verdict": "pass"}
    page = Stored(stored.run, stored.blobs, [tampered, unsigned]).render("html")
    section = approvals_section(page)
    assert "INVALID: changed after signing" in section
    assert '<span class="sig sig-unsigned">unsigned</span>' in section


def test_inputs_and_environment(page: str) -> None:
    inputs = page.split('id="inputs"', 1)[1].split('id="manifests"', 1)[0]
    assert "train" in inputs and str(MANIFEST["path"]) in inputs and "15" in inputs
    environment = page.split('id="environment"', 1)[1]
    assert "3.11.7" in environment and "system.owner" in environment
    assert "{&#34;numpy&#34;: &#34;2.1&#34;}" in environment


def test_render_is_deterministic(stored: Stored) -> None:
    assert stored.render("html") == stored.render("html")


def test_empty_run_renders(empty: Stored) -> None:
    page = empty.render("html")
    assert "This run has no findings." in page
    assert "No dataset manifests" in page
    assert "<svg" not in page


def test_the_verdict_is_read_not_recomputed(stored: Stored) -> None:
    verdict = replace(stored.run.verdict, status="pass", blocking=())
    page = Stored(replace(stored.run, verdict=verdict), stored.blobs).render("html")
    assert re.search(r'id="verdict-word">PASS<', page)


def test_write_report_is_atomic_and_overwrites(stored: Stored, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    for fmt in FORMATS:
        destination = target.with_suffix(SUFFIXES[fmt])
        path = write_report(stored.run, fmt, destination, run_id=stored.run_id, load=stored.load)
        assert path.read_text(encoding="utf-8") == render(
            stored.run, fmt, run_id=stored.run_id, load=stored.load
        )
    target.write_text("old", encoding="utf-8")
    write_report(stored.run, "html", target, run_id=stored.run_id, load=stored.load)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
        "report.xml",
    ]


def test_write_report_leaves_nothing_behind_on_failure(stored: Stored, tmp_path: Path) -> None:
    def broken(digest: str) -> bytes:
        raise RuntimeError("disk on fire")

    target = tmp_path / "report.html"
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(stored.run, "html", target, run_id=stored.run_id, load=broken)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_names_the_known_ones(stored: Stored) -> None:
    with pytest.raises(ValueError, match=r"Unknown report format 'pdf'\. Use one of: html, json"):
        render(stored.run, "pdf", run_id=stored.run_id, load=stored.load)  # type: ignore[arg-type]
