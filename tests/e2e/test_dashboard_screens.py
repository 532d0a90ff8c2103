"""The dashboard's screens over real HTTP, each doing through the API what a person asks:
compose (validated live, one post per form however often it is sent), the calendar (posts on
their local day, moved by date), accounts (budgets, connect, disconnect), webhooks (secret
once, test event, the delivery's request and response, resend, rotate, disable), usage."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.identity import operators
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.dashboard import FORM_KEY, Browser, with_owner

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose workers publish and whose dispatcher delivers webhooks."""
    return with_owner(make_stack(workers=1, dispatcher=True))


@pytest.fixture
def receiver() -> Iterator[tuple[RunningServer, list[bytes]]]:
    """A webhook receiver that answers 200 with a small JSON body."""
    got: list[bytes] = []

    async def hook(request: Request) -> JSONResponse:
        got.append(await request.body())
        return JSONResponse({"thanks": True}, headers={"x-receiver": "test"})

    server = serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    yield server, got
    server.stop()


def test_compose_checks_live_and_publishes_one_post_per_form(stack: Stack) -> None:
    browser = Browser(stack)
    page = browser.http.get("/app/compose")
    assert page.status_code == 200
    assert 'value="youtube"' in page.text and 'value="x"' in page.text
    form_key = FORM_KEY.search(page.text)
    assert form_key is not None
    # Live validation: the API's verdict per platform, and the caption's counts.
    long = "#tag " * 80
    verdict = browser.post("/app/compose/check", [("text", long), ("targets", "x")])
    assert verdict.status_code == 200
    assert "399 characters · 80 hashtags" in verdict.text
    assert "the maximum on x is 280" in verdict.text
    both = browser.post(
        "/app/compose/check", [("text", long), ("targets", "x"), ("targets", "linkedin")]
    )
    assert 'data-platform="x"' in both.text and "refuses it" in both.text
    assert 'data-platform="linkedin"' in both.text
    fits = browser.post("/app/compose/check", [("text", "short"), ("targets", "x")])
    assert "fits" in fits.text and "refuses it" not in fits.text
    # Refused: the form comes back as it was, with the API's reason; nothing is created.
    refused = browser.post("/app/compose", [("text", "no platform"), ("form_key", "k1")])
    assert refused.status_code == 422, refused.text
    assert "targets" in unescape(refused.text) and ">no platform</textarea>" in refused.text
    assert stack.http.get("/v1/posts").json()["data"] == []
    form = [("text", "from the dashboard"), ("targets", "x"), ("targets", "linkedin"),
            ("text_linkedin", "longer words for linkedin"), ("when", "now"),
            ("form_key", form_key.group(1))]  # fmt: skip
    made = browser.post("/app/compose", form)
    assert made.status_code == 303, made.text
    again = browser.post("/app/compose", form)  # a double click
    assert again.headers["location"] == made.headers["location"]
    posts = stack.http.get("/v1/posts").json()["data"]
    assert len(posts) == 1
    post = posts[0]
    assert made.headers["location"] == f"/app/posts/{post['id']}"
    assert post["overrides"] == {"linkedin": {"text": "longer words for linkedin"}}
    stack.wait_post(post["id"], lambda p: p["status"] == "published")


def test_the_calendar_shows_posts_on_their_local_day_and_moves_them(stack: Stack) -> None:
    browser = Browser(stack)
    made = stack.http.post("/v1/posts", json={
        "text": "new year in tokyo", "targets": ["x"], "publish_at": "2099-01-01T00:30:00",
        "timezone": "Asia/Tokyo"})  # fmt: skip
    assert made.status_code == 201, made.text
    post = made.json()
    # 00:30 in Tokyo is 15:30 UTC the day before: each zone draws it on its own day.
    tokyo = browser.http.get("/app/calendar", params={"day": "2099-01-01", "tz": "Asia/Tokyo"})
    assert tokyo.status_code == 200
    day = re.search(r'data-day="2099-01-01".*?</td>', tokyo.text, re.S)
    assert day is not None and post["id"] in day.group(0) and "00:30" in day.group(0)
    utc = browser.http.get("/app/calendar", params={"day": "2098-12-31", "tz": "UTC"})
    eve = re.search(r'data-day="2098-12-31".*?</td>', utc.text, re.S)
    assert eve is not None and post["id"] in eve.group(0) and "15:30" in eve.group(0)
    week = browser.http.get("/app/calendar", params={"view": "week", "day": "2099-01-01",
                                                     "tz": "Asia/Tokyo"})  # fmt: skip
    assert post["id"] in week.text and "Week of 29 December 2098" in week.text
    # Dropped on the 5th: the same local time, that day.
    drop = {"post_id": post["id"], "to_day": "2099-01-05", "tz": "Asia/Tokyo"}
    moved = browser.post("/app/calendar/reschedule", drop)
    assert moved.status_code == 303, moved.text
    assert (
        stack.http.get(f"/v1/posts/{post['id']}")
        .json()["publish_at"]
        .startswith("2099-01-04T15:30:00")
    )
    # Bad input is explained, never a 500; a post that is not scheduled cannot move.
    bad = browser.post("/app/calendar/reschedule", {"post_id": post["id"], "to_day": "soon"})
    assert bad.status_code == 422 and "is not a date" in unescape(bad.text)
    missing = browser.post(
        "/app/calendar/reschedule", {"post_id": "post_x", "to_day": "2099-01-02"}
    )
    assert missing.status_code == 404
    assert (
        browser.http.get(
            "/app/calendar", params={"day": "nonsense", "tz": "Mars/Olympus"}
        ).status_code
        == 200
    )
    # A busy day shows its first three posts and links to all six.
    busy = [stack.http.post("/v1/posts", json={
        "text": f"busy {n}", "targets": ["x"], "publish_at": f"2099-01-10T0{n}:00:00Z"}
    ).json()["id"] for n in range(6)]  # fmt: skip
    month = browser.http.get("/app/calendar", params={"day": "2099-01-10", "tz": "UTC"})
    cell = re.search(r'data-day="2099-01-10".*?</td>', month.text, re.S)
    assert cell is not None
    assert [p in cell.group(0) for p in busy] == [True] * 3 + [False] * 3
    more = re.search(r'<a class="more" href="([^"]+)">3 more on 10 January</a>', cell.group(0))
    assert more is not None
    listed = browser.http.get(unescape(more.group(1)))
    assert listed.status_code == 200 and all(p in listed.text for p in busy)
    assert post["id"] not in listed.text  # the 4th of January is another day


def test_accounts_show_budgets_connect_and_disconnect(stack: Stack) -> None:
    browser = Browser(stack)
    page = browser.http.get("/app/accounts")
    assert page.status_code == 200
    assert "sandbox_youtube" in page.text and "<meter" in page.text
    connect = browser.post("/app/accounts/connect", {"platform": "linkedin"})
    assert connect.status_code == 200
    assert re.search(rf'href="{re.escape(stack.fakes_url)}/[^"]+" data-follow', connect.text)
    unknown = browser.post("/app/accounts/connect", {"platform": "myspace"})
    assert unknown.status_code == 422 and "platform" in unescape(unknown.text)
    account = next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "x")
    gone = browser.post(f"/app/accounts/{account['id']}/disconnect", {})
    assert gone.status_code == 303
    assert stack.http.get(f"/v1/accounts/{account['id']}").json()["status"] == "disabled"


def test_webhooks_secret_once_test_delivery_request_and_response(
    stack: Stack, receiver: tuple[RunningServer, list[bytes]]
) -> None:
    server, got = receiver
    browser = Browser(stack)
    page = browser.http.get("/app/developers/webhooks")
    form_key = FORM_KEY.search(page.text)
    assert form_key is not None
    made = browser.post("/app/developers/webhooks", [
        ("url", f"{server.url}/hook"), ("event_types", "post.published"),
        ("form_key", form_key.group(1))])  # fmt: skip
    assert made.status_code == 201, made.text
    assert re.search(r'value="whsec_[^"]+"', made.text)
    endpoint = stack.http.get("/v1/webhooks").json()["data"][0]
    assert endpoint["event_types"] == ["post.published"]
    base = f"/app/developers/webhooks/{endpoint['id']}"
    tested = browser.post(f"{base}/test", {"form_key": "t1"})
    assert tested.status_code == 200 and "test event sent" in tested.text
    # The page looks again until the test event's delivery has finished.
    assert re.search(r'hx-get="[^"]*/deliveries\?status=&amp;awaiting=msg_\w+&amp;tries=\d+"',
                     tested.text)  # fmt: skip
    wait_until("the test delivery", lambda: got)

    shown_page = browser.http.get(base).text
    assert 'data-live="/v1/events/stream"' in shown_page
    live = re.search(r'data-live-events="([^"]*)"', shown_page)
    assert live is not None and "post.published" in live.group(1).split()

    def delivered() -> str | None:
        # The rows the page redraws live; a pending delivery makes them redraw themselves.
        rows = browser.http.get(f"{base}/deliveries").text
        found = re.search(r'href="(/app/developers/webhooks/[^"]+/events/(msg_[^"]+))"', rows)
        if found and "succeeded" in rows:
            assert "load delay:2s" not in rows  # nothing under way: no more looks
            return found.group(1)
        return None

    delivery = wait_until("the delivery's success", delivered)
    shown = browser.http.get(delivery)
    assert shown.status_code == 200
    assert "webhook.test" in shown.text and "Answered <strong>200</strong>" in shown.text
    assert "x-receiver: test" in shown.text and "thanks" in shown.text
    resent = browser.post(f"{delivery}/resend", {})
    assert resent.status_code == 303
    wait_until("the resend", lambda: len(got) >= 2)
    rotated = browser.post(f"{base}/rotate-secret", {"form_key": "r1"})
    assert rotated.status_code == 200 and re.search(r'value="whsec_[^"]+"', rotated.text)
    disabled = browser.post(f"{base}/disable", {"form_key": "d1"})
    assert "endpoint disabled" in disabled.text
    assert stack.http.get(f"/v1/webhooks/{endpoint['id']}").json()["active"] is False
    nonsense = browser.post(f"{base}/explode", {})
    assert nonsense.status_code == 404
    bad_since = browser.post(f"{base}/recover", {"since": "last tuesday", "form_key": "x1"})
    assert bad_since.status_code == 422


def test_the_usage_page_charts_calls_and_latency(stack: Stack) -> None:
    browser = Browser(stack)
    for _ in range(3):
        stack.http.get("/v1/posts")
    stack.http.get("/v1/posts/post_missing")

    def counted() -> bool:
        report = stack.http.get("/v1/analytics", params={"group_by": "endpoint"}).json()
        return any(g["group"] == "GET /v1/posts" for g in report["data"])

    wait_until("the analytics rows", counted)
    page = browser.http.get("/app/usage", params={"range": "7d"})
    assert page.status_code == 200
    assert "<svg" in page.text and 'role="img"' in page.text
    assert "GET /v1/posts" in page.text and "p99" in page.text
    assert browser.http.get("/app/usage", params={"range": "forever"}).status_code == 200


def test_the_operator_console_suspends_tenants_and_rolls_flags_out(stack: Stack) -> None:
    _, key = operators.issue(stack.svc, name="console")
    console = httpx.Client(base_url=stack.api_url, headers={"Origin": stack.api_url}, timeout=30)
    assert console.get("/app/admin").headers["location"] == "/app/admin/sign-in"
    # A tenant's key is no operator key: refused with the API's reason.
    wrong = console.post("/app/admin/sign-in", data={"key": stack.key})
    assert wrong.status_code == 403 and "operator" in unescape(wrong.text)
    signed = console.post("/app/admin/sign-in", data={"key": key})
    assert signed.status_code == 303
    sealed = console.cookies["cp_operator"]
    assert key not in sealed and key not in console.get("/app/admin").text
    page = console.get("/app/admin")
    assert page.status_code == 200 and stack.tenant_id in page.text
    suspended = console.post(f"/app/admin/tenants/{stack.tenant_id}/suspend")
    assert suspended.status_code == 303
    assert stack.http.get("/v1/posts").status_code == 403  # the tenant's keys are refused
    console.post(f"/app/admin/tenants/{stack.tenant_id}/resume")
    assert stack.http.get("/v1/posts").status_code == 200
    # The tenant's calls reach the console's traffic table, under the tenant's name.
    operator = {"Authorization": f"Bearer {key}"}
    name = httpx.get(f"{stack.api_url}/v1/admin/tenants/{stack.tenant_id}", headers=operator)
    row = rf"<tr><td>{re.escape(name.json()['name'])} <code>{stack.tenant_id}</code></td><td>(\d+)"

    def traffic() -> re.Match[str] | None:
        return re.search(row, console.get("/app/admin", params={"range": "7d"}).text)

    assert int(wait_until("the tenant's calls in the console", traffic).group(1)) >= 1
    assert "GET /v1/posts" in console.get("/app/admin").text
    flag = "accounts.disconnect"
    rolled = console.post(
        f"/app/admin/flags/{flag}", data={"rollout_percent": "25", "enabled": "on"}
    )
    assert rolled.status_code == 303
    stored = httpx.get(f"{stack.api_url}/v1/admin/flags/{flag}", headers=operator).json()
    assert stored["rollout_percent"] == 25 and stored["enabled"] is True
    kill = {"rollout_percent": "25", "enabled": "on", "killed": "true"}
    killed = console.post(f"/app/admin/flags/{flag}", data=kill)
    assert killed.status_code == 303
    bad = console.post(f"/app/admin/flags/{flag}", data={"rollout_percent": "250"})
    assert bad.status_code == 422
    # A forged change from another site is refused; a tampered cookie signs the console out.
    forged = httpx.post(
        f"{stack.api_url}/app/admin/tenants/{stack.tenant_id}/suspend",
        cookies={"cp_operator": sealed},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    tampered = httpx.get(
        f"{stack.api_url}/app/admin", cookies={"cp_operator": sealed[:-4] + "AAAA"}
    )
    assert tampered.status_code == 303
