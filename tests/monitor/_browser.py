"""Headless Chromium for the monitor's page tests, reusable by any test module.

Debian's ``chromium`` driven by Playwright (``playwright install`` cannot download browsers
here). Import the fixture and the helpers into a test module::

    from _browser import Guarded, browser, sign_in

    pytestmark = pytest.mark.browser

    def test_page(browser: Browser) -> None:
        guarded = Guarded(browser, served.url)
        sign_in(guarded.page, served.url, "amk_…")
        ...
        guarded.assert_clean()

:class:`Guarded` lets the page load only from the server under test (and ``data:``), and
records every other request it aborts and every console error, so a test can check that the
page stays self-contained (the monitor may run air-gapped).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = "Debian's chromium is not installed: run `apt-get install chromium`"


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed when the block ends; skips the test without it."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module."""
    with launch_chromium() as launched:
        yield launched


class Guarded:
    """A page in a fresh browser context (its own cookies) that may load only from ``origin``.

    ``blocked`` lists the requests it aborted; ``errors`` the console errors and uncaught
    exceptions. ``timezone`` pins the time zone so times on screen are reproducible.
    """

    def __init__(
        self,
        browser: Browser,
        origin: str,
        *,
        width: int = 1366,
        height: int = 900,
        timezone: str = "UTC",
    ) -> None:
        self.origin = origin.rstrip("/")
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, timezone_id=timezone, locale="en-US"
        )
        self.page: Page = self.context.new_page()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def assert_clean(self, *, allowed_errors: tuple[str, ...] = ()) -> None:
        """Nothing was loaded from elsewhere and no error was logged (but ``allowed_errors``,
        substrings of expected ones, such as a 403 the test provoked), then close."""
        assert self.blocked == []
        unexpected = [e for e in self.errors if not any(a in e for a in allowed_errors)]
        assert unexpected == []
        self.context.close()


def sign_in(page: Page, base_url: str, key: str) -> None:
    """Open the sign-in page, paste ``key`` and submit; returns once the answer has loaded."""
    page.goto(base_url.rstrip("/") + "/login")
    page.get_by_label("API key").fill(key)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
