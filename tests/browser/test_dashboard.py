"""The dashboard in a real chromium against a real stack: live tiles, roles, actions, sign-out.

Every check goes through the page as a user would (labels, buttons), and where the page claims
something happened, the API is asked too. Waits are Playwright's (a deadline), never sleeps.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import Api, photos, sign_in
from tests.servers import eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_a_tile_turns_from_unknown_to_dog_with_a_thumbnail(
    page: Page, base_url: str, admin: Api
) -> None:
    _, staff = admin.key("staff", "browser staff")
    space = unique("kennel")
    camera = admin.push_camera(space)
    sign_in(page, base_url, staff)
    tile = page.locator(f'article.tile[data-space="{space}"]')
    expect(tile).to_have_attribute("data-occupant", "unknown", timeout=30_000)
    expect(tile.locator(".reason")).not_to_be_empty()
    expect(tile.locator(".no-frame")).to_be_visible()
    for photo in photos("dog"):
        admin.push(camera, photo)
    # no reload: the event stream brings the change
    expect(tile).to_have_attribute("data-occupant", "dog", timeout=60_000)
    thumbnail = tile.locator("img")
    expect(thumbnail).to_be_visible()
    eventually(lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth > 0"),
               timeout=20, what="the thumbnail to load")  # fmt: skip
    expect(tile.locator(".occupant")).to_contain_text("Dog")


def test_a_viewer_link_shows_no_staff_controls_and_the_api_refuses_them(
    page: Page, base_url: str, admin: Api
) -> None:
    admin.animal(unique("Biscuit"), "cat", "kennel-2")  # the camera sees a dog: an alert
    eventually(lambda: any(a["space_id"] == "kennel-2" for a in admin.alerts()), timeout=60,
               what="a species mismatch alert")  # fmt: skip
    resp = admin.client.post("/api/v1/links", json={"name": "lobby screen", "ttl_s": 3600})
    resp.raise_for_status()
    page.goto(base_url + resp.json()["url"])
    expect(page.locator("#who")).to_contain_text("viewer")
    assert "link=" not in page.url  # the token left the address bar
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Kennels")).to_be_visible()
    for hidden in ("Try it", "Models", "Wall screens"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    page.goto(base_url + "/#/alerts")
    expect(page.locator("li.alert").first).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.goto(base_url + "/#/animals")
    expect(page.locator("tbody tr").first).to_be_visible()
    expect(page.get_by_text("Register an animal")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    alert_id = admin.alerts()[0]["id"]
    statuses = page.evaluate(
        """async (alertId) => {
            const h = {"X-Requested-With": "shelter-watch", "Content-Type": "application/json"};
            const ack = await fetch(`/api/v1/alerts/${alertId}/ack`, {method: "POST", headers: h});
            const body = JSON.stringify({name: "Sneaky", species: "cat"});
            const add = await fetch("/api/v1/animals", {method: "POST", headers: h, body});
            return [ack.status, add.status];
        }""",
        alert_id,
    )
    assert statuses == [403, 403]
    # revoking the link signs the screen out: nothing stays on it
    admin.client.delete(f"/api/v1/links/{resp.json()['id']}").raise_for_status()
    page.get_by_role("link", name="Kennels").click()  # live refreshes also find out, later
    expect(page.locator("#signin-message")).to_contain_text("revoked", timeout=60_000)
    expect(page.locator(".tile, .stat")).to_have_count(0)


def test_staff_acknowledges_an_alert_and_registers_an_animal(
    page: Page, base_url: str, admin: Api
) -> None:
    name = unique("Mochi")
    animal_id = admin.animal(name, "cat", "kennel-2")
    eventually(lambda: any(name in a["message"] for a in admin.alerts()), timeout=60,
               what="an alert naming the animal")  # fmt: skip
    _, staff = admin.key("staff", "browser staff")
    sign_in(page, base_url, staff)
    page.goto(base_url + "/#/alerts")
    item = page.locator("li.alert.a-active", has_text=name)
    expect(item).to_be_visible()
    item.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("li.alert.a-acked", has_text=name)).to_be_visible()
    acked = [a for a in admin.alerts("acked") if name in a["message"]]
    assert acked, "the API does not show the alert as acknowledged"

    page.goto(base_url + "/#/animals")
    new = unique("Pepper")
    page.get_by_text("Register an animal").click()
    form = page.locator("details form.animal-form")
    form.get_by_label("Name").fill(new)
    form.get_by_label("Species").select_option("dog")
    form.get_by_label("Kennel").fill("kennel-2")
    form.get_by_role("button", name="Register animal").click()
    row = page.locator("tbody tr", has_text=new)
    expect(row).to_be_visible()
    registered = admin.client.get("/api/v1/animals").json()
    assert any(a["name"] == new and a["species"] == "dog" for a in registered)
    # a move the registry refuses says why (the 409's detail)
    row.get_by_label(re.compile(f"New status for {new}")).select_option("adopted")
    row.get_by_role("button", name="Move").click()
    refused = row.locator(".move-result")
    expect(refused).to_contain_text("Refused:")
    expect(refused).to_contain_text("cannot move from intake to adopted")
    assert admin.client.get(f"/api/v1/animals/{animal_id}").json()["name"] == name


def test_an_upload_classifies_a_cat_and_records_a_correction(
    page: Page, base_url: str, admin: Api
) -> None:
    _, staff = admin.key("staff", "browser staff")
    sign_in(page, base_url, staff)
    page.goto(base_url + "/#/try")
    page.get_by_label("A photo of a kennel").set_input_files(str(photos("cat")[0]))
    page.get_by_role("button", name="Classify").click()
    verdict = page.locator(".verdict strong")
    expect(verdict).to_have_attribute("data-label", "cat", timeout=30_000)
    before = feedback_count(admin)
    page.get_by_role("button", name="This prediction is wrong").click()
    page.get_by_label("The right label").select_option("dog")
    page.get_by_role("button", name="Send correction").click()
    expect(page.locator(".feedback-result")).to_contain_text("recorded as dog")
    eventually(lambda: feedback_count(admin) == before + 1, timeout=20, what="the feedback count")


def feedback_count(admin: Api) -> int:
    versions = admin.client.get("/api/v1/classifier/deployment").json()["versions"]
    return sum(int(v["feedback"]["count"]) for v in versions)


def test_a_wrong_key_and_a_revoked_key_clear_every_number(
    page: Page, base_url: str, admin: Api
) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Your API key").fill("sw_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-message")).to_contain_text("not accepted")
    expect(page.locator("#app")).to_be_hidden()

    key_id, staff = admin.key("staff", "to be revoked")
    sign_in(page, base_url, staff)
    expect(page.locator(".stat .value").first).to_be_visible()
    admin.client.delete(f"/api/v1/keys/{key_id}").raise_for_status()
    message = page.locator("#signin-message")
    expect(message).to_contain_text("revoked", timeout=60_000)  # the next refresh is refused
    expect(page.locator("#app")).to_be_hidden()
    assert page.locator("#main").inner_html() == ""
    expect(page.locator(".stat, .tile")).to_have_count(0)
    expect(page.locator("#live")).to_have_text("signed out")


def test_sign_out_ends_the_session(page: Page, base_url: str, admin: Api) -> None:
    _, staff = admin.key("staff", "signs out")
    sign_in(page, base_url, staff)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin-message")).to_contain_text("signed out")
    expect(page.locator(".tile")).to_have_count(0)
    status = page.evaluate("async () => (await fetch('/api/v1/session')).status")
    assert status == 401


@pytest.mark.parametrize("route", ["grid", "space/kennel-1", "cameras", "alerts", "animals", "try",
                                   "models"])  # fmt: skip
def test_no_horizontal_scroll_at_phone_width(page: Page, base_url: str, route: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base_url, "browser-admin-key")
    page.goto(f"{base_url}/#/{route}")
    expect(page.locator("#main > *").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"#/{route} scrolls sideways: {widths}"


def test_a_space_page_shows_its_frames_and_takes_a_correction(
    page: Page, base_url: str, admin: Api
) -> None:
    _, staff = admin.key("staff", "browser staff")
    sign_in(page, base_url, staff)
    page.goto(base_url + "/#/space/kennel-1")
    expect(page.locator("figure.timeline svg circle").first).to_be_visible()
    first = page.locator("li.frame").first
    expect(first.locator("img")).to_be_visible()
    frame_id = first.get_attribute("data-frame")  # newer frames arrive on top: pin this one
    frame = page.locator(f'li.frame[data-frame="{frame_id}"]')
    expect(frame).to_contain_text("efficientnet")  # the model and its version
    before = feedback_count(admin)
    frame.get_by_role("button", name="This prediction is wrong").click()
    frame.get_by_label("The right label").select_option("other")
    frame.get_by_role("button", name="Send correction").click()
    expect(frame.locator(".feedback-result.ok")).to_contain_text("recorded as other")
    eventually(lambda: feedback_count(admin) == before + 1, timeout=20, what="the feedback count")
