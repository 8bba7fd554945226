"""The front door in Debian's Chromium through the gateway: the API docs work with the
network cut off from anything but the gateway, and the web app works under its CSP."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import BrowserStack
from tests.e2e.test_browser import HERE, run_node


@pytest.mark.timeout(300)
def test_the_docs_page_shows_every_services_operations_offline(
    node: str, browser_stack: BrowserStack
) -> None:
    """If this fails, the API docs are blank without internet (assets from a CDN), a
    service's operations are missing from the picker, or a service's own /docs is gone."""
    run_node(node, browser_stack, str(HERE / "frontdoor.mjs"), "docs")


@pytest.mark.timeout(300)
def test_the_web_app_works_under_its_content_security_policy(
    node: str, browser_stack: BrowserStack
) -> None:
    """If this fails, the app is served without its security headers, breaks under its own
    CSP (a violation in the console, no WebSocket), or can be framed by another page."""
    run_node(node, browser_stack, str(HERE / "frontdoor.mjs"), "csp")
