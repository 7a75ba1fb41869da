"""The gateway's API docs in a real chromium: Swagger UI from local files (no CDN), the API-key
scheme, and "Try it out" sending a real request through the gateway."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import ADMIN_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_try_it_out_sends_a_request_with_the_api_key(page: Page, base_url: str) -> None:
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base_url) else outside.append(r.url))
    page.set_default_timeout(90_000)  # Swagger UI renders every route: slow on a busy machine
    page.goto(base_url + "/docs", wait_until="domcontentloaded")
    page.locator("button.authorize").first.click()
    scheme = page.locator(".auth-container", has_text="ApiKeyHeader")
    scheme.locator("input").fill(ADMIN_KEY)
    scheme.get_by_role("button", name="Apply credentials").click()
    scheme.get_by_role("button", name="Close").click()
    page.locator('.opblock-summary-path[data-path="/api/v1/summary"]').click()
    operation = page.locator(".opblock.is-open")
    operation.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/summary")) as answer:
        operation.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers.get("x-api-key") == ADMIN_KEY
    status = operation.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_contain_text("200")
    assert outside == [], f"the docs page reached outside the gateway: {outside}"
