"""The demo `ems up` starts: a client with three metered devices, and the simulator
playing every device of the platform, so a fresh stack has something to look at."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from ems.auth.commands.first_admin import AdminLogin
from ems.stack.processes import ChildSpec

DEMO_CLIENT = "demo"
DEMO_DEVICES = (
    {"name": "Main meter", "description": "Whole-home meter", "max_hourly_kwh": 2.5},
    {"name": "Heat pump", "description": "Air-to-water heat pump", "max_hourly_kwh": 1.5},
    {"name": "EV charger", "description": "Garage wallbox", "max_hourly_kwh": 3.0},
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str | None
    stored_in: Path


def admin_password(admin: AdminLogin | None, configured: str | None, data_dir: Path) -> str | None:
    """The admin's password when this run knows it: set, generated now, or stored earlier."""
    if admin is not None and admin.password:
        return admin.password
    if configured:
        return configured
    return _stored_password(data_dir / "admin-credentials.txt")


def _stored_password(path: Path) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "password":
            return value.strip()
    return None


async def seed_demo(base_url: str, username: str, password: str, data_dir: Path) -> DemoLogin:
    """Create the demo client and its devices through the gateway, once."""
    stored = data_dir / "demo-credentials.txt"
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0) as http:
        login = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        login.raise_for_status()
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

        found = await http.get("/api/users", params={"q": DEMO_CLIENT, "size": 100})
        found.raise_for_status()
        client = next((u for u in found.json()["items"] if u["username"] == DEMO_CLIENT), None)
        new_password: str | None = None
        if client is None:
            new_password = secrets.token_urlsafe(9)
            created = await http.post(
                "/api/users",
                json={
                    "username": DEMO_CLIENT,
                    "password": new_password,
                    "role": "CLIENT",
                    "full_name": "Demo Household",
                    "email": "demo@example.com",
                },
            )
            created.raise_for_status()
            client = created.json()
            stored.touch(mode=0o600)
            stored.write_text(f"username: {DEMO_CLIENT}\npassword: {new_password}\n")

        owned = await http.get(f"/api/devices/user/{client['id']}")
        owned.raise_for_status()
        if not owned.json()["items"]:
            for device in DEMO_DEVICES:
                response = await http.post(
                    "/api/devices",
                    json={**device, "address": "1 Demo Street", "owner_id": client["id"]},
                )
                response.raise_for_status()
    return DemoLogin(DEMO_CLIENT, new_password, stored)


def simulator_child(env: dict[str, str], api_url: str, username: str, password: str) -> ChildSpec:
    """The simulator playing every device (a reading a minute, two days of history)."""
    demo_env = {
        **env,
        "EMS_SIMULATOR_API_URL": api_url,
        "EMS_ADMIN_USERNAME": username,
        "EMS_ADMIN_PASSWORD": password,
    }
    argv = ("-m", "ems.cli", "simulate", "--all", "--interval", "60", "--backfill", "2", "--quiet")
    return ChildSpec(name="simulator", argv=(sys.executable, *argv), env=demo_env)


def demo_line(demo: DemoLogin) -> str:
    if demo.password is not None:
        return f"demo client: {demo.username} / {demo.password} (also saved in {demo.stored_in})"
    return f"demo client: {demo.username}, password in {demo.stored_in}"
