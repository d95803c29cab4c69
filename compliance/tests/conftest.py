import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from compliance.roles import sync_roles

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def roles(db):
    """Tests that flush the database (transaction=True) remove the migration's groups: set them up again."""
    sync_roles(Group, Permission)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test, so the browser fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (the `chromium` package; `make test` installs it as root), driven by Playwright:
    never a browser download. Missing, the browser tests fail: nothing in the suite is skipped."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("There is no `chromium` on PATH: as root, `apt-get install chromium` (make test does it).")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the tests' ORM calls are still synchronous.
    # Only for these tests: left set, it would reach later tests' subprocesses (check --deploy warns).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def browser_page(request, chromium, live_server):
    """A fresh browser context on the live server; a screenshot is saved when the test fails."""
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
