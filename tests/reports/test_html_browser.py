"""The HTML report in a real browser: renders, filters, expands, and loads nothing from outside."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright
from report_fixtures import (
    HOSTILE_COLUMN,
    HOSTILE_FEATURE,
    HOSTILE_GROUP,
    Stored,
    build_domains,
    build_drift,
)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = ("file://", "data:")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed: run `apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Opened:
    """A report opened in a fresh page, recording requests and console errors."""

    def __init__(self, browser: Browser, path: Path, width: int = 1366) -> None:
        self.page: Page = browser.new_page(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri())

    def _route(self, route: Route) -> None:
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def assert_offline_and_clean(self) -> None:
        assert self.blocked == []
        assert [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)] == []
        assert self.errors == []
        self.page.close()


@pytest.fixture
def report(stored: Stored, tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text(stored.render("html"), encoding="utf-8")
    return path


def test_report_renders_filters_and_expands(browser: Browser, report: Path) -> None:
    opened = Opened(browser, report)
    page = opened.page
    rows = page.locator("details.finding")
    visible = page.locator("details.finding:visible")
    count = page.locator("#visible-count")

    expect(page.locator("#verdict-word")).to_have_text("FAIL")
    expect(page.locator("#system-name")).to_contain_text("credit-risk <scorer>")
    expect(rows).to_have_count(10)
    expect(visible).to_have_count(10)
    expect(count).to_have_text("10")
    expect(page.locator("svg.plot")).to_have_count(2)

    page.select_option("#filter-domain", "fairness")
    expect(visible).to_have_count(2)
    expect(count).to_have_text("2")

    page.select_option("#filter-status", "waived")
    expect(visible).to_have_count(1)
    expect(count).to_have_text("1")
    expect(visible.first).to_have_attribute("data-check", "fairness.demographic_parity")

    page.select_option("#filter-status", "pass")
    expect(visible).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()

    page.select_option("#filter-domain", "")
    expect(visible).to_have_count(3)
    expect(count).to_have_text("3")
    expect(page.locator("#no-match")).to_be_hidden()

    page.select_option("#filter-status", "")
    expect(visible).to_have_count(10)

    page.locator("button.chip[data-filter-status='fail']").click()
    expect(page.locator("#filter-status")).to_have_value("fail")
    expect(visible).to_have_count(2)

    row = page.locator("details.finding[data-check='integrity.missing_values']")
    body = row.locator(".fbody")
    expect(body).to_be_hidden()
    row.locator("summary").click()
    expect(row).to_have_attribute("open", "")
    expect(body).to_be_visible()
    expect(body).to_contain_text("Fix the export step that drops income.")
    expect(body).to_contain_text("manifest/train")

    page.select_option("#filter-status", "")
    page.locator("#expand-all").click()
    expect(page.locator("details.finding[open]")).to_have_count(10)
    expect(
        page.locator("details.finding[data-check='fairness.demographic_parity']")
    ).to_contain_text("Pilot limited to one region")
    page.locator("#collapse-all").click()
    expect(page.locator("details.finding[open]")).to_have_count(0)

    opened.assert_offline_and_clean()


@pytest.mark.parametrize("width", [1280, 760])
def test_report_fits_the_window(browser: Browser, report: Path, width: int) -> None:
    opened = Opened(browser, report, width=width)
    overflow = opened.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    opened.assert_offline_and_clean()


@pytest.fixture
def drift_report(tmp_path: Path) -> Path:
    path = tmp_path / "drift.html"
    path.write_text(build_drift().render("html"), encoding="utf-8")
    return path


def test_drift_section_renders_its_table_and_plots(browser: Browser, drift_report: Path) -> None:
    opened = Opened(browser, drift_report)
    page = opened.page
    section = page.locator("#drift")
    expect(section).to_be_visible()
    expect(section.locator("h3")).to_have_text("train → current")
    expect(section.locator("table.drift-table tbody tr")).to_have_count(6)
    expect(section.locator("table.drift-table")).to_contain_text(HOSTILE_COLUMN)

    plots = section.locator("figure.drift-plot svg.plot")
    expect(plots).to_have_count(4)
    for i in range(4):
        plot = plots.nth(i)
        plot.scroll_into_view_if_needed()
        expect(plot).to_be_visible()
        box = plot.bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 100
        expect(plot.locator("text", has_text="reference: train")).to_be_visible()
    expect(plots.first).to_have_attribute("role", "img")

    page.locator("nav.toc a[href='#drift']").click()
    expect(page).to_have_url(re.compile(r"#drift$"))
    section.locator("a[href='#drift-1-plot-3']").click()
    expect(page).to_have_url(re.compile(r"#drift-1-plot-3$"))
    expect(page.locator("#drift-1-plot-3")).to_be_in_viewport()
    expect(page.locator("#drift-1-plot-3 figcaption")).to_contain_text(HOSTILE_COLUMN)
    opened.assert_offline_and_clean()


@pytest.mark.parametrize("width", [1280, 760])
def test_drift_section_fits_the_window(browser: Browser, drift_report: Path, width: int) -> None:
    opened = Opened(browser, drift_report, width=width)
    overflow = opened.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for plot in opened.page.locator("#drift svg.plot").all():
        box = plot.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    opened.assert_offline_and_clean()


@pytest.fixture
def domains_report(tmp_path: Path) -> Path:
    path = tmp_path / "domains.html"
    path.write_text(build_domains().render("html"), encoding="utf-8")
    return path


OUTSIDE_TEXT = """svg => {
  const box = svg.getBoundingClientRect();
  return Array.from(svg.querySelectorAll("text")).filter(t => {
    const b = t.getBoundingClientRect();
    return b.left < box.left - 0.5 || b.top < box.top - 0.5 ||
      b.right > box.right + 0.5 || b.bottom > box.bottom + 0.5;
  }).map(t => t.textContent);
}"""
"""The texts of a plot that reach outside its view box, measured with the browser's font."""


def test_domain_sections_render_their_tables_and_plots(
    browser: Browser, domains_report: Path
) -> None:
    opened = Opened(browser, domains_report)
    page = opened.page
    for section_id, count in (("model", 1), ("fairness", 2), ("robustness", 4)):
        section = page.locator(f"#{section_id}")
        expect(section).to_be_visible()
        plots = section.locator("svg.plot")
        expect(plots).to_have_count(count)
        for i in range(count):
            plot = plots.nth(i)
            plot.scroll_into_view_if_needed()
            expect(plot).to_be_visible()
            box = plot.bounding_box()
            assert box is not None and box["width"] > 250 and box["height"] > 100
            assert plot.evaluate(OUTSIDE_TEXT) == []
    expect(page.locator("#model table.metric-table tbody tr")).to_have_count(3)
    expect(page.locator("#model table.slice-table tbody tr")).to_have_count(3)
    expect(page.locator("#fairness table.group-table").first).to_contain_text(HOSTILE_GROUP)
    expect(page.locator("#fairness svg.plot").first).to_contain_text(HOSTILE_GROUP)
    expect(page.locator("#robustness svg.plot").nth(2)).to_contain_text(HOSTILE_FEATURE)

    values = page.locator("#robustness-1 details.values")
    expect(values.locator("table")).to_be_hidden()
    values.locator("summary").click()
    expect(values.locator("table")).to_be_visible()
    expect(values.locator("tbody tr")).to_have_count(3)

    page.locator("nav.toc a[href='#fairness']").click()
    expect(page).to_have_url(re.compile(r"#fairness$"))
    expect(page.locator("#fairness h2")).to_be_in_viewport()
    opened.assert_offline_and_clean()


@pytest.mark.parametrize("width", [1280, 760])
def test_domain_sections_fit_the_window(browser: Browser, domains_report: Path, width: int) -> None:
    opened = Opened(browser, domains_report, width=width)
    overflow = opened.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for plot in opened.page.locator(
        "#model svg.plot, #fairness svg.plot, #robustness svg.plot"
    ).all():
        box = plot.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    opened.assert_offline_and_clean()


def test_empty_report_renders(browser: Browser, empty: Stored, tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text(empty.render("html"), encoding="utf-8")
    opened = Opened(browser, path)
    expect(opened.page.locator("#verdict-word")).to_have_text("PASS")
    expect(opened.page.locator("#no-match")).to_have_text("This run has no findings.")
    opened.assert_offline_and_clean()


def test_the_harness_catches_an_external_request(browser: Browser, tmp_path: Path) -> None:
    """Guards the guard: a page that reaches out is caught by the routing above."""
    path = tmp_path / "leaky.html"
    path.write_text('<img src="https://example.invalid/pixel.png">', encoding="utf-8")
    opened = Opened(browser, path)
    opened.page.wait_for_load_state("load")
    assert opened.blocked == ["https://example.invalid/pixel.png"]
    opened.page.close()
