"""What the browser tests and `make screenshots` share: a whole stack started with `make run`'s
own launcher class (real Redis, the five services, the simulated cameras), Debian's chromium
driven by Playwright (never a downloaded browser), and keys of each role made through the API.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from stack.local import LocalStack
from stack.ports import Ports, free_block
from tests.servers import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
ADMIN_KEY = "browser-admin-key"
PHOTOS = ROOT / "data" / "sample"
# Alerts within seconds, not minutes, so a test sees them (the services read this environment).
FAST_ALERTS = {"AGGREGATOR_MISMATCH_AFTER_S": "1", "AGGREGATOR_CAMERA_OFFLINE_ALERT_S": "20"}


@contextmanager
def running_stack(var_dir: Path, *, poll_interval_s: float = 3.0) -> Iterator[LocalStack]:
    stack = LocalStack(
        var_dir=var_dir,
        ports=Ports.from_base(free_block(), free_port()),
        api_key=ADMIN_KEY,
        photos=PHOTOS,
        model_dir=ROOT / "build" / "models",
        poll_interval_s=poll_interval_s,
    )
    saved = {name: os.environ.get(name) for name in FAST_ALERTS}
    os.environ.update(FAST_ALERTS)
    try:
        stack.start()
        stack.register_sim_cameras()
        yield stack
    finally:
        stack.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Api:
    """The admin's HTTP client to the gateway, and what tests set up with it."""

    client: httpx.Client

    def key(self, role: str, label: str) -> tuple[str, str]:
        """A new key of `role`: (its id, its secret)."""
        resp = self.client.post("/api/v1/keys", json={"role": role, "label": label})
        resp.raise_for_status()
        body = resp.json()
        return body["id"], body["secret"]

    def animal(self, name: str, species: str, space_id: str, status: str = "available") -> str:
        body = {"name": name, "species": species, "space_id": space_id, "status": "intake"}
        resp = self.client.post("/api/v1/animals", json=body)
        resp.raise_for_status()
        animal_id = str(resp.json()["id"])
        path = ["intake", "available", "reserved", "adopted"]  # the registry's forward moves
        for step in path[1 : path.index(status) + 1]:
            patch = self.client.patch(f"/api/v1/animals/{animal_id}", json={"status": step})
            patch.raise_for_status()
        return animal_id

    def alerts(self, status: str = "open") -> list[dict[str, Any]]:
        resp = self.client.get("/api/v1/alerts", params={"status": status})
        resp.raise_for_status()
        return list(resp.json())

    def push_camera(self, space_id: str) -> str:
        camera_id = f"cam-{uuid.uuid4().hex[:8]}"
        body = {"space_id": space_id, "mode": "push"}
        self.client.put(f"/api/v1/cameras/{camera_id}", json=body).raise_for_status()
        return camera_id

    def push(self, camera_id: str, photo: Path) -> None:
        resp = self.client.put(
            f"/api/v1/cameras/{camera_id}/frame",
            content=photo.read_bytes(),
            headers={"Content-Type": "image/jpeg"},
        )
        resp.raise_for_status()


def photos(label: str) -> list[Path]:
    return sorted((PHOTOS / label).glob("*.jpg"))


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError("Debian's chromium is missing: apt-get install -y chromium")
    pw: Playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, key: str) -> None:
    page.goto(base_url + "/#/grid")
    page.get_by_label("Your API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#app:not([hidden])").wait_for()


def have_chromium() -> bool:
    return CHROMIUM.exists() or shutil.which("chromium") is not None
