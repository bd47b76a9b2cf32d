"""What the dashboard's browser tests (tests/test_dashboard.py) drive the page with: Debian's
Chromium through Playwright's sync API, tabs that record what went wrong in them, and the
README's screenshots.

Whether Chromium and Playwright are there is decided in one place, :func:`launch_browser`: in
CI (``CI`` set) their absence fails the tests, since CI installs both; elsewhere the tests are
skipped with a message saying how to get them.
"""
import os
import pathlib
import re
import shutil
from importlib.resources import files

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What `mockd serve` serves without -c (mockd/bootstrap.py reads the same file).
DEMO_CONFIG = files("mockd").joinpath("demo.yaml").read_text(encoding="utf-8")
IMAGES = ROOT / "docs" / "images"
#: ``MOCKD_SCREENSHOTS=docs`` writes the README's screenshots into docs/images (commit them);
#: otherwise each run takes them into its own temporary directory (they differ in every run:
#: times, connection ids), so that a test run leaves the checkout as it was.
SCREENSHOTS_TO_DOCS = os.environ.get("MOCKD_SCREENSHOTS") == "docs"
CHROMIUM = "/usr/bin/chromium"
# No sandbox: CI runs as root in a container, where Chromium's sandbox cannot start. The rest
# keeps the browser from calling home (updates, sync, safe browsing): only 127.0.0.1 traffic.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
HOW_TO_ENABLE = "to run them, `sh .ci/system-deps` installs chromium and `pip install -e '.[test]'` playwright"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 5000  # for every wait of a page; a test gives a shorter one where time is the point

# Injected before the page's own scripts (so outside its Content-Security-Policy): records the
# policy's violations, and counts how often the token dialog opens (a prompt shared by every
# request that got a 401 opens once, however many requests wait on it).
WATCH_SCRIPT = """
window.__watch = {csp: [], tokenPrompts: 0};
document.addEventListener('securitypolicyviolation',
  (e) => window.__watch.csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
const showModal = HTMLDialogElement.prototype.showModal;
HTMLDialogElement.prototype.showModal = function () {
  if (this.id === 'token-dialog') window.__watch.tokenPrompts += 1;
  return showModal.call(this);
};
"""
# How Chromium reports, as a console error, a request answered with an error status.
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def launch_browser():
    """Generator for a module-scoped fixture: yields a launched Chromium, closes it after."""
    problems = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problems.append("the playwright package is not installed")
    executable = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if executable is None:
        problems.append("there is no chromium executable")
    if problems:
        message = f"the dashboard's browser tests need Chromium and Playwright: {' and '.join(problems)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI installs both (.ci/system-deps, the [test] extra): fix the CI setup",
                        pytrace=False)
        pytest.skip(f"{message} ({HOW_TO_ENABLE})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """A page in a context of its own (its own sessionStorage: a token kept by one test is not
    seen by the next), with the console errors and uncaught exceptions it produced."""

    def __init__(self, browser, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport, device_scale_factor=1)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.add_init_script(WATCH_SCRIPT)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def watched(self, name):
        """A value the watch script keeps for the current document (reset by a reload)."""
        return self.page.evaluate(f"window.__watch.{name}")

    def problems(self, *expected_statuses):
        """Console errors, uncaught exceptions and CSP violations; a failed load of an answer with
        one of ``expected_statuses`` (one the test asked for, such as a 400 for a bad mock) is
        left out, as Chromium logs every 4xx answer as a console error."""
        found = [e for e in self.errors
                 if not ((m := FAILED_LOAD.search(e)) and int(m.group(1)) in expected_statuses)]
        return found + [f"CSP violation: {v}" for v in self.watched("csp")]

    def screenshot(self, name, directory):
        """NAME.png of the viewport in ``directory`` (docs/images with ``MOCKD_SCREENSHOTS=docs``),
        without the hover or focus marks of the last clicks (they would look like a mistake in
        the README); checked to be a PNG of the viewport's size. Returns its path."""
        self.page.mouse.move(0, 0)
        self.page.evaluate("document.activeElement && document.activeElement.blur()")
        target = IMAGES if SCREENSHOTS_TO_DOCS else directory
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled", caret="hide")
        header = path.read_bytes()[:24]
        size = self.page.viewport_size
        assert header[:8] == b"\x89PNG\r\n\x1a\n", path
        assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == (
            size["width"], size["height"]), path
        return path

    def close(self):
        self.context.close()


# ---------------------------------------------------------------- the dashboard's places

def ui(server, route=""):
    """The dashboard's URL on ``server`` (in this process or not), at a ``#/...`` route."""
    return server.admin.url("/ui/") + route


def mock_row(page, mock_id):
    return page.locator(f'[data-testid="mock-row"][data-mock-id="{mock_id}"]')


def connection_row(page, connection_id):
    return page.locator(f'[data-testid="connection-row"][data-connection-id="{connection_id}"]')


def text_frame(page, direction, text):
    """The frame rows of a text frame whose body is ``text``, exactly."""
    body = page.get_by_test_id("frame-text").get_by_text(text, exact=True)
    return page.locator(f'[data-testid="frame-row"][data-direction="{direction}"]', has=body)


def document_width(page):
    """The document's scroll width: wider than the viewport means sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth")
