"""`make screenshots`: docs/screenshots/*.png from a real stack in Debian's chromium.

Starts the stack as the browser tests do, gives it a shelter's worth of state through the public
API (animals in kennels, one registered as the wrong species, a kennel with no frame yet, a camera
whose snapshot URL answers 404, a canary rollout), waits for the cameras to fill the history, and
photographs each page. Run: `python -m tests.browser.screenshots docs/screenshots`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page

from stack.local import LocalStack
from tests.browser.harness import ADMIN_KEY, Api, chromium, photos, running_stack, sign_in
from tests.servers import eventually

log = logging.getLogger("screenshots")
ANIMALS = [  # name, species, kennel, status
    ("Luna", "cat", "kennel-1", "available"),
    ("Biscuit", "cat", "kennel-2", "available"),  # the camera sees a dog: a mismatch
    ("Milo", "cat", "kennel-3", "reserved"),
    ("Rex", "dog", "kennel-4", "available"),
    ("Pip", "dog", "kennel-11", "intake"),
    ("Olive", "cat", "kennel-12", "intake"),  # no camera in kennel-12: a warning
]
PAGES = [  # file, route, width, height
    ("grid", "grid", 1280, 900),
    ("space", "space/kennel-2", 1280, 900),
    ("cameras", "cameras", 1280, 560),
    ("alerts", "alerts", 1280, 760),
    ("animals", "animals", 1280, 640),
    ("models", "models", 1280, 800),
]


def populate(stack: LocalStack, api: Api) -> None:
    dogs = api.push_camera("kennel-4")
    api.push_camera("kennel-11")  # registered, never sends: unknown, no frames yet
    sim = f"http://127.0.0.1:{stack.ports.sim}/cameras/yard-cam/snapshot.jpg"
    body = {"space_id": "yard-1", "mode": "poll", "snapshot_url": sim, "interval_s": 5}
    api.client.put("/api/v1/cameras/yard-cam", json=body).raise_for_status()  # answers 404
    for photo in photos("dog"):
        api.push(dogs, photo)
    for name, species, kennel, status in ANIMALS:
        api.animal(name, species, kennel, status)
    spec = {"strategy": "canary", "primary": "efficientnet-lite0-pets/1",
            "candidate": "efficientnet-lite2-pets/1", "weight": 0.25}  # fmt: skip
    api.client.put("/api/v1/classifier/deployment", json=spec).raise_for_status()
    eventually(lambda: any(a["kind"] == "species_mismatch" for a in api.alerts()), timeout=120,
               what="the species mismatch alert")  # fmt: skip
    points = "/api/v1/spaces/kennel-2/history?limit=40"
    eventually(lambda: len(api.client.get(points).json()) >= 30, timeout=240, what="history")


def shoot(page: Page, base_url: str, route: str, path: Path, *, full_page: bool = True) -> None:
    page.goto(f"{base_url}/#/{route}")
    page.locator("#main > .view").wait_for()
    page.wait_for_function("[...document.images].every((img) => img.complete)")
    page.screenshot(path=str(path), full_page=full_page)
    log.info("wrote %s", path)


def try_it(page: Page, base_url: str, path: Path) -> None:
    page.goto(f"{base_url}/#/try")
    page.get_by_label("A photo of a kennel").set_input_files(str(photos("cat")[1]))
    page.get_by_role("button", name="Classify").click()
    page.locator(".verdict").wait_for()
    page.get_by_role("button", name="This prediction is wrong").click()
    page.screenshot(path=str(path), full_page=True)
    log.info("wrote %s", path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    out = ap.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), poll_interval_s=2) as stack:
        with httpx.Client(base_url=stack.gateway_url, headers={"X-API-Key": ADMIN_KEY}) as c:
            populate(stack, Api(c))
        with chromium() as browser:
            for name, route, width, height in PAGES:
                page = browser.new_page(viewport={"width": width, "height": height})
                sign_in(page, stack.gateway_url, ADMIN_KEY)
                shoot(page, stack.gateway_url, route, out / f"{name}.png")
                page.close()
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            sign_in(page, stack.gateway_url, ADMIN_KEY)
            try_it(page, stack.gateway_url, out / "try.png")
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            sign_in(phone, stack.gateway_url, ADMIN_KEY)
            shoot(phone, stack.gateway_url, "grid", out / "phone.png", full_page=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
