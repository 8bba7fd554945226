"""The web app end to end: Debian's Chromium, driven by playwright-core, through the gateway.

The screenshots run first, so the pictures show the demo world and not the flows' users.

Each test runs one Node script (`flows.mjs <flow>` or `screenshots.mjs`) against the stack
of `conftest.py` and fails with the script's own step log.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, BrowserStack

HERE = Path(__file__).resolve().parent


def run_node(
    node: str,
    stack: BrowserStack,
    *args: str,
    timeout: float = 240,
    extra_env: dict[str, str] | None = None,
) -> None:
    env = stack.node_env()
    env["EMS_E2E_ARTIFACTS"] = os.environ.get("EMS_E2E_ARTIFACTS", "/tmp/ems-e2e-artifacts")
    env.update(extra_env or {})
    result = subprocess.run(
        [node, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(result.stdout)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n"
        f"stack log ({stack.log}) tail is in the captured output above"
    )


@pytest.mark.timeout(400)
def test_screenshots_of_every_page(node: str, browser_stack: BrowserStack, tmp_path: Path) -> None:
    """Every page, client and admin, at desktop and phone widths, renders with no error in
    the page or its console. If this fails, a page no longer renders, or renders while
    something in it fails.

    The pictures go to a temporary folder: the tracked ones in docs/screenshots/ change only
    when asked for (`make screenshots`, which sets EMS_SCREENSHOTS_DIR)."""
    folder = os.environ.get("EMS_SCREENSHOTS_DIR") or str(tmp_path)
    run_node(
        node,
        browser_stack,
        str(HERE / "screenshots.mjs"),
        timeout=380,
        extra_env={"EMS_SCREENSHOTS_DIR": folder},
    )


@pytest.mark.timeout(300)
def test_register_and_log_in(node: str, browser_stack: BrowserStack) -> None:
    """Self-registration through the form makes a signed-in client; sign-out and sign-in
    work; a wrong password is shown. If this fails, nobody can get into the app."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "register-and-login")


@pytest.mark.timeout(300)
def test_admin_assigns_a_device_and_the_client_sees_live_readings_and_alerts(
    node: str, browser_stack: BrowserStack
) -> None:
    """An admin creates a client and a device in the UI and assigns it; readings published
    on the broker reach the client's chart without a reload, and going over the limit shows
    a toast. If this fails, the live path from meter to screen is broken somewhere."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "admin-device-live-chart-alert")


@pytest.mark.timeout(300)
def test_support_chat_bot_and_admin_reply_live(node: str, browser_stack: BrowserStack) -> None:
    """The bot answers a client; a human-mode message reaches the admin inbox, the admin's
    typing and reply reach the client live, and the history survives a reload. If this
    fails, clients cannot get help."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "support-chat")


@pytest.mark.timeout(300)
def test_profile_password_and_admin_management(node: str, browser_stack: BrowserStack) -> None:
    """A client edits their profile and password (server errors shown on fields); an admin
    edits and deletes a user and a device after confirming, and the deleted user's open app
    signs out. If this fails, day-to-day account and device management is broken."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "profile-and-management")


@pytest.mark.timeout(300)
def test_tariff_with_a_night_band_a_meter_id_and_a_clients_time_zone(
    node: str, browser_stack: BrowserStack
) -> None:
    """An admin creates a tariff whose band wraps midnight (an overlapping band refused on
    the bands) and gives it to a device with a meter id; a client in Bucharest sets their
    time zone by search and by the browser's own, and sees it after a reload. If this
    fails, prices, meters or the zone every local day is cut in cannot be set up."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "tariff-meter-and-time-zone")


@pytest.mark.timeout(300)
def test_a_bucharest_client_sees_daylight_saving_days_costs_and_comparisons(
    node: str, browser_stack: BrowserStack
) -> None:
    """A client in Bucharest with a night-band tariff sees 29 March 2026 as its 23 local hours
    (25 on 25 October), each priced by the band its local hour is in, and the comparison and
    month so far equal to the API's. If this fails, the chart is cut in the wrong zone, the
    cost is not shown or wrong, or the comparison is not the server's."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "bucharest-dst-cost-compare")


@pytest.mark.timeout(360)
def test_a_silent_meter_is_shown_and_so_is_its_recovery(
    node: str, browser_stack: BrowserStack
) -> None:
    """A meter that sends nothing for longer than its silence window raises a toast, a silent
    badge, an alert and a line on the admin overview; its next reading ends it, and the app
    says so. If this fails, a dead meter goes unnoticed or stays "silent" after it is back."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "silent-meter-and-recovery", timeout=330)


@pytest.mark.timeout(300)
def test_the_unread_count_agrees_across_tabs_and_browsers(
    node: str, browser_stack: BrowserStack
) -> None:
    """Two tabs and a second browser of one client show the server's unread count; marking one
    or all read anywhere updates all of them without a reload. If this fails, read state is
    kept per tab again, or the `alerts.read` push does not reach every socket."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "unread-across-tabs")


@pytest.mark.timeout(300)
def test_an_admin_lands_on_the_overview_which_follows_the_fleet(
    node: str, browser_stack: BrowserStack
) -> None:
    """An admin signs in to the overview; a device using a lot shows up on top and over its
    limit without a reload, today's kWh equal the API's, and alerts come as a digest toast.
    If this fails, admins have no picture of the fleet or get a toast per alert again."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "admin-overview")


@pytest.mark.timeout(300)
def test_tokens_refresh_silently_and_an_ended_session_logs_out(
    node: str, browser_stack: BrowserStack
) -> None:
    """Access tokens are rotated before they expire without the user noticing; when the
    server ends the session, the next expiry sends the user to the sign-in page with a
    notice. If this fails, users are either logged out at random or never."""
    run_node(node, browser_stack, str(HERE / "flows.mjs"), "session-expiry")
