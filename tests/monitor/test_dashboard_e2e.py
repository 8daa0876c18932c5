"""The dashboard of the real service in headless Chromium: a drift incident appears on the
page, and acknowledging it from the page stops its escalation."""

from __future__ import annotations

from pathlib import Path

import pytest
from _browser import Guarded, browser, sign_in
from _service_support import audited, events, serving
from playwright.sync_api import Browser, expect

from assay.monitor.store.db import Database

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, imported for pytest


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_acknowledging_from_the_page_stops_escalation(
    tmp_path: Path, db: Database, browser: Browser
) -> None:
    spec, repo, _ = audited(tmp_path)
    with serving(spec, repo, db) as served:
        ingest = served.client("ingest")
        assert ingest.post("/v1/events", json=events(0, 500)).status_code == 202
        assert ingest.post("/v1/events", json=events(500, 500, shift=30)).status_code == 202
        served.replica.service.settle()
        (incident,) = served.client("read").get("/v1/incidents").json()

        guarded = Guarded(browser, served.url)
        page = guarded.page
        sign_in(page, served.url, served.keys["admin"])
        expect(page).to_have_url(served.url + "/")
        row = page.locator(f"#incident-list tr[data-incident='{incident['id']}']")
        expect(row).to_contain_text("inputs-drifted")
        expect(page.locator("#route-target")).to_have_text("fallback")
        expect(page.locator("#drift-plot svg.plot rect.bar")).to_have_count(3)
        expect(page.locator("#throughput-plot svg path.line")).to_have_count(1)

        page.get_by_role("button", name=f"Acknowledge incident {incident['id']}").click()
        expect(row).to_have_attribute("data-status", "acknowledged")
        detail = served.client("read").get(f"/v1/incidents/{incident['id']}").json()
        assert detail["incident"]["status"] == "acknowledged"
        assert detail["incident"]["acked_by"] == "admin-key"
        assert [e["kind"] for e in detail["timeline"]][-1] == "ack"

        # Acknowledged: the deadline passing pages nobody.
        served.clock.advance(3600)  # type: ignore[attr-defined]
        served.replica.service.tick()
        detail = served.client("read").get(f"/v1/incidents/{incident['id']}").json()
        assert not any(e["kind"] == "escalation" for e in detail["timeline"])
        guarded.assert_clean()

        read_only = Guarded(browser, served.url)
        sign_in(read_only.page, served.url, served.keys["read"])
        expect(read_only.page.locator("#incident-list tbody tr").first).to_be_visible()
        expect(read_only.page.get_by_role("button", name="Acknowledge incident 1")).to_have_count(0)
        read_only.assert_clean()
