"""Fixtures for the real-browser suite: one stack and one chromium for the whole session, a
fresh browser context (no cookies) per test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from stack.local import LocalStack
from tests.browser.harness import ADMIN_KEY, Api, chromium, running_stack

# Deadlines, not speed checks: generous, as the machine may be busy (bench/ measures speed).
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def base_url(stack: LocalStack) -> str:
    return stack.gateway_url


@pytest.fixture(scope="session")
def admin(base_url: str) -> Iterator[Api]:
    headers = {"X-API-Key": ADMIN_KEY}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        yield Api(client)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()
