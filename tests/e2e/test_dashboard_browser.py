"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a
`crosspost serve --sandbox` started as a new user would: sign in with what the sandbox
printed, make an API key (shown once), watch a post publish live, retry the target that
failed once its platform is back, revoke the key, sign out. Every page passes axe with no
serious violation; a failing step leaves a screenshot of each page in the test's output."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.fakes.server import serve_in_thread
from crosspost.media.samples import make_video
from tests.e2e.axe import Screens, chromium
from tests.served import Servers, clean_env

pytestmark = pytest.mark.slow

_WAIT_MS = 30_000
expect.set_options(timeout=_WAIT_MS)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless."""
    with chromium() as launched:
        yield launched


def _post(api_url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{api_url}/v1/posts", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _row(page: Page, platform: str) -> Any:
    cell = page.get_by_role("cell", name=platform, exact=True)
    return page.locator("#targets tbody tr", has=cell)


def test_a_new_user_signs_in_makes_a_key_and_watches_a_post_publish_live(
    serve: Servers, browser: Browser, tmp_path: Path
) -> None:
    served = serve(clean_env(CROSSPOST_HOME=str(tmp_path / "home")), tmp_path)
    sign_in = served.banner["dashboard_sign_in"]
    assert served.banner["dashboard_url"] == f"{served.url}/app"
    context = browser.new_context()
    page = context.new_page()
    screens = Screens(page, tmp_path)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(_WAIT_MS)

    # Signing in: the page asked for comes back after.
    page.goto(f"{served.url}/app")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screens.check("sign-in")
    page.get_by_label("Email").fill(sign_in["email"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("the email or the password is wrong")
    errors.clear()  # the browser logs the refused sign-in's 401
    page.get_by_label("Password").fill(sign_in["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Posts")).to_be_visible()
    expect(page.get_by_text("No posts yet.")).to_be_visible()
    screens.check("posts-empty")

    # A key, made by clicking: its secret shown this once, then only its prefix.
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("browser key")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_role("textbox", name="Key", exact=True).input_value()
    assert key.startswith("cp_test_")
    screens.check("key-created")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("cell", name="browser key", exact=True)).to_be_visible()
    assert key not in page.content()

    # A post through the API with that key: TikTok publishes it, YouTube fails to process it.
    served.fake("youtube", "faults", json={"processing_fail_rate": 1.0})
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    media = httpx.post(
        f"{served.url}/v1/media", content=clip.read_bytes(), timeout=60,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "video/mp4"},
    )  # fmt: skip
    assert media.status_code == 201, media.text
    auth = {"Authorization": f"Bearer {key}"}
    post = _post(served.url, key, {"text": "hello from the browser test",
                                   "media_id": media.json()["id"],
                                   "targets": ["tiktok", "youtube"]})  # fmt: skip
    page.get_by_role("link", name="Posts").click()
    page.get_by_role("link", name="hello from the browser test").click()
    expect(page.get_by_role("heading", name=re.compile(post["id"]))).to_be_visible()
    # Live: the page is never reloaded, the event stream redraws the targets.
    expect(_row(page, "tiktok")).to_contain_text("published")
    expect(_row(page, "youtube")).to_contain_text("failed")
    expect(_row(page, "youtube")).to_contain_text("change what it names, then retry")
    screens.check("post-page")

    # Retry: the API queues the target again (a fresh attempt budget, its progress kept, so
    # the platform's failed video is asked about again) and the row follows it live.
    page.get_by_role("button", name="Retry youtube").click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ledger = httpx.get(f"{served.url}/v1/posts/{post['id']}/ledger", headers=auth).json()
        retried = [e for e in ledger if e["event_type"] == "publish_retry_requested"]
        target = httpx.get(f"{served.url}/v1/posts/{post['id']}", headers=auth).json()
        youtube = next(t for t in target["targets"] if t["platform"] == "youtube")
        if retried and youtube["status"] == "failed" and youtube["attempts"] >= 1:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the retry did not run: {ledger}")
    expect(_row(page, "youtube")).to_have_attribute("data-status", "failed")
    expect(_row(page, "tiktok")).to_contain_text("published")

    # Revoking the key: it stops working at once.
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Revoke browser key").click()
    expect(page.get_by_role("row", name=re.compile("browser key")).first).to_contain_text("revoked")
    refused = httpx.get(f"{served.url}/v1/posts", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    screens.check("key-revoked")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{served.url}/app/posts")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert errors == [], errors


def test_a_user_composes_connects_hooks_and_reads_usage_by_clicking(
    serve: Servers, browser: Browser, tmp_path: Path
) -> None:
    """Compose with an upload (its progress shown) to three platforms and watch it publish;
    schedule another and find it on the calendar; connect an account through the platform's
    consent page; add a webhook, send it a test event and resend the delivery; read usage."""
    served = serve(clean_env(CROSSPOST_HOME=str(tmp_path / "home")), tmp_path)
    sign_in = served.banner["dashboard_sign_in"]
    page = browser.new_context().new_page()
    page.set_default_timeout(_WAIT_MS)
    screens = Screens(page, tmp_path)
    page.goto(f"{served.url}/app/compose")
    page.get_by_label("Email").fill(sign_in["email"])
    page.get_by_label("Password").fill(sign_in["password"])
    page.get_by_role("button", name="Sign in").click()

    # Compose: the clip goes up from the browser, its progress shown, then it is chosen.
    expect(page.get_by_role("heading", name="Compose a post")).to_be_visible()
    clip = make_video(tmp_path / "clip.mp4", seconds=3.5)  # Instagram takes 3 s and more
    page.get_by_label("Upload a file").set_input_files(str(clip))
    expect(page.get_by_role("status").first).to_contain_text("Uploaded clip.mp4")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    page.get_by_label("Caption", exact=True).fill("three platforms from the dashboard #clip")
    for platform in ("youtube", "tiktok", "instagram"):
        page.get_by_role("checkbox", name=platform, exact=True).check()
    # The API's verdict for each platform, as it stands.
    expect(page.locator("#check [data-platform='instagram']")).to_contain_text("fits")
    screens.check("compose")
    page.get_by_role("button", name="Publish").click()
    for platform in ("youtube", "tiktok", "instagram"):
        expect(_row(page, platform)).to_contain_text("published")
    screens.check("published")

    # Scheduled for later: it is on the calendar, on its day.
    page.get_by_role("link", name="Compose").click()
    page.get_by_label("Caption", exact=True).fill("a text for next month")
    page.get_by_role("checkbox", name="x", exact=True).check()
    page.get_by_role("radio", name="At").check()
    page.get_by_label("Date and time").fill("2099-03-14T09:30")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#targets")).to_contain_text("scheduled")
    page.goto(f"{served.url}/app/calendar?day=2099-03-14&tz=Europe/Paris")
    expect(page.locator("td[data-day='2099-03-14']")).to_contain_text("09:30 a text for next month")
    screens.check("calendar")
    # Dragged to the 16th: the same time of day there, through the API.
    entry = page.locator("td[data-day='2099-03-14'] li", has_text="a text for next month")
    entry.drag_to(page.locator("td[data-day='2099-03-16']"))
    expect(page.get_by_role("status")).to_contain_text("moved")
    expect(page.locator("td[data-day='2099-03-16']")).to_contain_text("09:30 a text for next month")
    expect(page.locator("td[data-day='2099-03-14']")).not_to_contain_text("a text for next month")

    # Connect an account: the platform's consent page, and back to the list.
    page.get_by_role("link", name="Accounts").click()
    screens.check("accounts")
    page.get_by_label("Platform").select_option("linkedin")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_role("link", name="Allow").click()
    expect(page.get_by_role("status")).to_contain_text("Connected")

    # A webhook to a receiver of this test: a test event, its delivery, a resend.
    got: list[bytes] = []

    async def hook(request: Request) -> JSONResponse:
        got.append(await request.body())
        return JSONResponse({"ok": True})

    receiver = serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    try:
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(f"{receiver.url}/hook")
        page.get_by_role("button", name="Add endpoint").click()
        assert page.get_by_label("Signing secret").input_value().startswith("whsec_")
        screens.check("webhook-added")
        page.get_by_role("link", name=f"{receiver.url}/hook").click()
        screens.check("webhook-endpoint")
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_contain_text("test event sent")
        # The delivery log follows the delivery live: pending, then answered, no reload.
        row = page.locator("#deliveries tr", has_text="webhook.test")
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text("200")
        row.get_by_role("link", name="webhook.test").click()
        expect(page.get_by_text("Answered 200")).to_be_visible()
        screens.check("delivery")
        page.get_by_role("button", name="Resend now").click()
        expect(page.get_by_role("status")).to_contain_text("Sent again")
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(got) >= 2
    finally:
        receiver.stop()

    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("img", name=re.compile("API calls per day"))).to_be_visible()
    screens.check("usage")


def test_the_other_screens_and_the_operator_console_by_clicking(
    serve: Servers, browser: Browser, tmp_path: Path
) -> None:
    """Studio, content, releases, OAuth apps and signing, each checked by axe; then the
    operator signs in to the console, reads the traffic and switches a flag off."""
    home = tmp_path / "home"
    served = serve(clean_env(CROSSPOST_HOME=str(home)), tmp_path)
    sign_in = served.banner["dashboard_sign_in"]
    page = browser.new_context().new_page()
    page.set_default_timeout(_WAIT_MS)
    screens = Screens(page, tmp_path)
    page.goto(f"{served.url}/app/studio")
    page.get_by_label("Email").fill(sign_in["email"])
    page.get_by_label("Password").fill(sign_in["password"])
    page.get_by_role("button", name="Sign in").click()

    # Studio: a project made by clicking, and its page.
    expect(page.get_by_role("heading", name="Studio")).to_be_visible()
    screens.check("studio")
    page.get_by_label("Name").fill("Launch stream")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Launch stream")).to_be_visible()
    screens.check("project")
    for link, heading in (("Content", "Content"), ("Releases", "Releases")):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        screens.check(link.lower())

    # An OAuth app: its secret shown once; the signing page beside it.
    page.get_by_role("link", name="OAuth apps").click()
    page.locator("#app-name").fill("Partner app")
    page.get_by_label("Redirect URIs").fill("https://partner.example/callback")
    page.get_by_role("checkbox", name=re.compile("^posts:read")).first.check()
    page.get_by_role("button", name="Register app").click()
    secret = page.get_by_role("textbox", name="Client secret").input_value()
    assert secret
    screens.check("oauth-app")
    page.get_by_role("link", name="Request signing").click()
    expect(page.get_by_role("heading", name="Request signing")).to_be_visible()
    screens.check("signing")

    # The operator: a key from the CLI, the console, a flag switched off by clicking.
    made = subprocess.run(
        [sys.executable, "-m", "crosspost", "operator-keys", "create", "--name", "browser"],
        env=served.env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    operator_key = made.stdout.strip().splitlines()[-1]
    page.goto(f"{served.url}/app/admin")
    page.get_by_label("Operator key").fill(operator_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Operator console")).to_be_visible()
    expect(page.get_by_role("heading", name="API traffic")).to_be_visible()
    screens.check("admin")
    flag = "accounts.disconnect"
    switch = page.locator(f"[id='enabled-{flag}']")
    switch.uncheck()
    page.get_by_role("button", name=f"Save {flag}").click()
    expect(switch).not_to_be_checked()
    stored = httpx.get(
        f"{served.url}/v1/admin/flags/{flag}",
        headers={"Authorization": f"Bearer {operator_key}"},
    ).json()
    assert stored["enabled"] is False
