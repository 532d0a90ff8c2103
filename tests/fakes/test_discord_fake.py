"""The Discord webhook fake's own strictness and control routes, spoken to with plain httpx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import serve_in_thread
from crosspost.fakes.discord import BUCKET, DiscordFakeConfig, create_discord_app

START = 1_800_003_600.0


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[httpx.Client, Clock]]:
    """A client on a fresh fake of this module's own, with a clock the tests move."""
    clock = Clock()
    server = serve_in_thread(create_discord_app(DiscordFakeConfig(clock=clock)))
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            yield client, clock
    finally:
        server.stop()


@pytest.fixture
def http(served: tuple[httpx.Client, Clock]) -> httpx.Client:
    """The client, on a fake reset (webhooks, faults, log) and a clock back at the start."""
    client, clock = served
    clock.now = START
    client.post("/_fake/reset").raise_for_status()
    return client


@pytest.fixture
def clock(served: tuple[httpx.Client, Clock]) -> Clock:
    """The fake's clock."""
    return served[1]


def webhook(http: httpx.Client, **spec: Any) -> dict[str, Any]:
    """Create a webhook on the fake; its id, token, URL and path."""
    response = http.post("/_fake/webhooks", json=spec)
    assert response.status_code == 201, response.text
    hook: dict[str, Any] = response.json()
    hook["path"] = f"/api/v10/webhooks/{hook['id']}/{hook['token']}"
    return hook


def errors_at(response: httpx.Response, *path: str) -> list[dict[str, str]]:
    """The ``_errors`` of Invalid Form Body at `path`."""
    body = response.json()
    assert response.status_code == 400 and body["code"] == 50035, body
    node = body["errors"]
    for part in path:
        node = node[part]
    found: list[dict[str, str]] = node["_errors"]
    return found


def messages(http: httpx.Client) -> list[dict[str, Any]]:
    """Every message the fake's webhooks received, in order."""
    hooks = http.get("/_fake/state").json()["webhooks"]
    return [message for hook in hooks for message in hook["messages"]]


def test_execute_with_wait_answers_the_message(http: httpx.Client) -> None:
    """wait=true: 200 with the message object (webhook author, rich embeds, timestamp); the
    state keeps it and what was sent beside it."""
    hook = webhook(http, name="Recaps")
    body = {
        "content": "hello",
        "username": "Recap bot",
        "embeds": [{"title": "T", "color": 5}],
        "allowed_mentions": {"parse": []},
    }
    response = http.post(hook["path"], params={"wait": "true"}, json=body)
    assert response.status_code == 200
    message = response.json()
    assert message["content"] == "hello" and message["webhook_id"] == hook["id"]
    assert message["channel_id"] == hook["channel_id"] and message["id"].isdigit()
    assert message["author"] == {
        "id": hook["id"], "username": "Recap bot", "avatar": None, "discriminator": "0000",
        "bot": True,
    }  # fmt: skip
    assert message["embeds"] == [{"type": "rich", "title": "T", "color": 5}]
    assert message["timestamp"].startswith("2027-01-15T09:00:00")
    assert int(message["id"]) > int(hook["id"])  # snowflakes grow with time
    assert response.headers["X-RateLimit-Bucket"] == BUCKET
    [stored] = messages(http)
    assert stored["id"] == message["id"]
    assert stored["received"]["allowed_mentions"] == {"parse": []}


def test_execute_without_wait_is_204_and_versions_share_the_api(http: httpx.Client) -> None:
    """No wait (or a false one) is 204 No Content, on /api and /api/v9 alike; a bad wait value
    and a discontinued version are refused."""
    hook = webhook(http)
    tail = f"webhooks/{hook['id']}/{hook['token']}"
    for path, params in ((f"/api/{tail}", {}), (f"/api/v9/{tail}", {"wait": "False"})):
        response = http.post(path, params=params, json={"content": "x"})
        assert response.status_code == 204 and response.content == b""
    assert len(messages(http)) == 2
    bad = http.post(f"/api/v10/{tail}", params={"wait": "yes"}, json={"content": "x"})
    assert errors_at(bad, "wait")[0]["code"] == "BOOLEAN_TYPE_COERCE"
    old = http.post(f"/api/v4/{tail}", json={"content": "x"})
    assert old.status_code == 400 and old.json() == {
        "message": "Invalid API version",
        "code": 50041,
    }


def test_get_and_delete_with_token(http: httpx.Client) -> None:
    """GET answers the webhook object without a user; DELETE removes it, after which the
    webhook is Unknown (404 10015)."""
    hook = webhook(http, name="Notes")
    got = http.get(hook["path"]).json()
    assert got["type"] == 1 and got["name"] == "Notes" and "user" not in got
    assert got["token"] == hook["token"] and got["channel_id"] == hook["channel_id"]
    assert http.delete(hook["path"]).status_code == 204
    gone = http.post(hook["path"], json={"content": "x"})
    assert gone.status_code == 404
    assert gone.json() == {"message": "Unknown Webhook", "code": 10015}


def test_unknown_webhook_wrong_token_and_bad_id(http: httpx.Client) -> None:
    """An unknown id is 404 10015, a wrong token 401 50027, an id that is no snowflake 400."""
    hook = webhook(http)
    unknown = http.post(f"/api/webhooks/123456789012345678/{hook['token']}", json={"content": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == 10015
    wrong = http.post(f"/api/webhooks/{hook['id']}/nottheone", json={"content": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Invalid Webhook Token", "code": 50027}
    bad = http.post("/api/webhooks/abc/def", json={"content": "x"})
    assert errors_at(bad, "webhook_id") == [
        {"code": "NUMBER_TYPE_COERCE", "message": 'Value "abc" is not snowflake.'}
    ]
    assert messages(http) == []


def test_empty_messages_are_refused(http: httpx.Client) -> None:
    """Nothing, blank content, no embeds, an embed that shows nothing: 400 50006."""
    hook = webhook(http)
    bodies: list[dict[str, Any]] = [
        {},
        {"content": "   "},
        {"embeds": []},
        {"embeds": [{"color": 1}]},
        {"content": None, "username": "x"},
    ]
    for body in bodies:
        response = http.post(hook["path"], json=body)
        assert response.status_code == 400, body
        assert response.json() == {"message": "Cannot send an empty message", "code": 50006}


def test_content_over_2000_is_invalid_form_body(http: httpx.Client) -> None:
    """2001 characters: BASE_TYPE_MAX_LENGTH at content; 2000 are fine."""
    hook = webhook(http)
    response = http.post(hook["path"], json={"content": "a" * 2001})
    assert response.json()["message"] == "Invalid Form Body"
    assert errors_at(response, "content") == [
        {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
    ]
    assert http.post(hook["path"], json={"content": "a" * 2000}).status_code == 204


def test_embed_limits_are_all_reported_at_once(http: httpx.Client) -> None:
    """Each limit is refused at its path, in one answer: 11 embeds, a long title, 26 fields, a
    field without a name, a long value, a long footer and author name."""
    hook = webhook(http)
    fields = [{"name": "n", "value": "v"}] * 26
    embeds: list[dict[str, Any]] = [
        {"title": "t" * 257},
        {"fields": fields},
        {"fields": [{"value": "v"}, {"name": "n", "value": "v" * 1025}]},
        {"footer": {"text": "f" * 2049}, "author": {"name": "a" * 257}},
        *[{"title": "x"}] * 7,
    ]
    response = http.post(hook["path"], json={"embeds": embeds})
    assert errors_at(response, "embeds")[0]["message"] == "Must be 10 or fewer in length."
    assert errors_at(response, "embeds", "0", "title")[0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert errors_at(response, "embeds", "1", "fields")[0]["message"] == (
        "Must be 25 or fewer in length."
    )
    assert errors_at(response, "embeds", "2", "fields", "0", "name") == [
        {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
    ]
    assert errors_at(response, "embeds", "2", "fields", "1", "value")[0]["message"] == (
        "Must be 1024 or fewer in length."
    )
    assert errors_at(response, "embeds", "3", "footer", "text")[0]["code"] == (
        "BASE_TYPE_MAX_LENGTH"
    )
    assert errors_at(response, "embeds", "3", "author", "name")[0]["code"] == (
        "BASE_TYPE_MAX_LENGTH"
    )


def test_six_thousand_characters_across_embeds(http: httpx.Client) -> None:
    """Two embeds within their own limits but 6001 characters together: MAX_EMBED_SIZE_EXCEEDED;
    6000 exactly is accepted."""
    hook = webhook(http)
    over = [{"description": "a" * 4000}, {"description": "b" * 2001}]
    response = http.post(hook["path"], json={"embeds": over})
    assert errors_at(response, "embeds") == [
        {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
    ]
    exact = [{"description": "a" * 4000}, {"title": "t" * 256, "description": "b" * 1744}]
    assert http.post(hook["path"], json={"embeds": exact}).status_code == 204


def test_body_fields_are_checked(http: httpx.Client) -> None:
    """username (1-80, no "discord"), avatar_url, tts, flags and allowed_mentions."""
    hook = webhook(http)
    body = {
        "content": "x",
        "username": "My Discord bot",
        "avatar_url": "not a url",
        "tts": "yes",
        "flags": 1,
        "allowed_mentions": {"parse": ["users", "nobody"], "users": ["1"]},
    }
    response = http.post(hook["path"], json=body)
    assert errors_at(response, "username") == [
        {"code": "USERNAME_INVALID_CONTAINS", "message": 'Username cannot contain "discord"'}
    ]
    assert errors_at(response, "avatar_url")[0]["code"] == "URL_TYPE_INVALID_URL"
    assert errors_at(response, "tts")[0]["code"] == "BASE_TYPE_BOOLEAN"
    assert errors_at(response, "flags")
    assert errors_at(response, "allowed_mentions", "parse", "1")[0]["code"] == "BASE_TYPE_CHOICES"
    assert errors_at(response, "allowed_mentions")[0]["code"] == (
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    )
    long_name = http.post(hook["path"], json={"content": "x", "username": "u" * 81})
    assert errors_at(long_name, "username")[0]["message"] == "Must be between 1 and 80 in length."
    quiet = {"content": "x", "flags": 4096, "tts": False}  # SUPPRESS_NOTIFICATIONS may be set
    assert http.post(hook["path"], json=quiet).status_code == 204


def test_json_only(http: httpx.Client) -> None:
    """Another Content-Type is 50035; JSON that does not parse 50109; a non-object 50035."""
    hook = webhook(http)
    form = http.post(hook["path"], data={"content": "x"})
    assert form.status_code == 400 and form.json()["code"] == 50035
    broken = http.post(
        hook["path"], content=b'{"content": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json() == {"message": "The request body contains invalid JSON.", "code": 50109}
    listed = http.post(hook["path"], json=["x"])
    assert errors_at(listed)[0]["code"] == "DICT_TYPE_CONVERT"


def test_rate_limit_per_webhook(http: httpx.Client, clock: Clock) -> None:
    """5 executions per 2 s per webhook, refused ones included; the 6th is 429 with Discord's
    body and headers; another webhook has its own window; the window resets on time."""
    hook, other = webhook(http), webhook(http)
    remaining = []
    for index in range(5):
        body = {"content": "x"} if index else {}  # the first is refused (empty) but counts
        response = http.post(hook["path"], json=body)
        remaining.append(response.headers["X-RateLimit-Remaining"])
        assert response.headers["X-RateLimit-Limit"] == "5"
    assert remaining == ["4", "3", "2", "1", "0"]
    clock.now += 0.5
    limited = http.post(hook["path"], json={"content": "x"})
    assert limited.status_code == 429
    assert limited.json() == {
        "message": "You are being rate limited.", "retry_after": 1.5, "global": False,
    }  # fmt: skip
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["X-RateLimit-Reset-After"] == "1.500"
    assert limited.headers["X-RateLimit-Reset"] == f"{START + 2:.3f}"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Bucket"] == BUCKET
    assert http.post(other["path"], json={"content": "x"}).status_code == 204
    clock.now = START + 2
    again = http.post(hook["path"], json={"content": "x"})
    assert again.status_code == 204 and again.headers["X-RateLimit-Remaining"] == "4"
    assert len(messages(http)) == 6  # 4 before the limit, 1 on the other webhook, 1 after


def test_faults(http: httpx.Client) -> None:
    """Queued faults answer the next executions in turn (429 global, 500 JSON, 502 HTML, 503
    text) and post nothing; bad fault requests are 400; DELETE drops what is queued."""
    hook = webhook(http)
    assert http.post("/_fake/faults", json={"status": 404}).status_code == 400
    assert http.post("/_fake/faults", json={"status": 500, "count": 0}).status_code == 400
    assert http.post("/_fake/faults", json={"status": 429, "retry_after": -1}).status_code == 400
    http.post("/_fake/faults", json={"status": 429, "retry_after": 0.25, "global": True})
    for status in (500, 502, 503):
        http.post("/_fake/faults", json={"status": status}).raise_for_status()
    limited = http.post(hook["path"], json={"content": "x"})
    assert limited.status_code == 429 and limited.json()["global"] is True
    assert limited.json()["retry_after"] == 0.25 and limited.headers["Retry-After"] == "1"
    assert limited.headers["X-RateLimit-Global"] == "true"
    crashed = http.post(hook["path"], json={"content": "x"})
    assert crashed.status_code == 500 and crashed.json()["code"] == 0
    gateway = http.post(hook["path"], json={"content": "x"})
    assert gateway.status_code == 502 and "cloudflare" in gateway.text
    unavailable = http.post(hook["path"], json={"content": "x"})
    assert unavailable.status_code == 503 and unavailable.text.startswith("upstream connect")
    assert http.post(hook["path"], json={"content": "x"}).status_code == 204
    http.post("/_fake/faults", json={"status": 500, "count": 3}).raise_for_status()
    assert http.delete("/_fake/faults").json() == {"faults": []}
    assert len(messages(http)) == 1


def test_forum_channels_and_threads(http: httpx.Client) -> None:
    """A forum webhook needs a thread (220001), not both (220002); thread_name elsewhere is
    220003; an unknown thread 404 10003; a known one and a new named one are posted to."""
    forum = webhook(http, forum=True, threads=["123456789012345678"])
    plain = webhook(http)
    none = http.post(forum["path"], json={"content": "x"})
    assert none.status_code == 400 and none.json()["code"] == 220001
    both = http.post(
        forum["path"], params={"thread_id": "123456789012345678"},
        json={"content": "x", "thread_name": "t"},
    )  # fmt: skip
    assert both.status_code == 400 and both.json()["code"] == 220002
    elsewhere = http.post(plain["path"], json={"content": "x", "thread_name": "t"})
    assert elsewhere.status_code == 400 and elsewhere.json()["code"] == 220003
    unknown = http.post(plain["path"], params={"thread_id": "42"}, json={"content": "x"})
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Unknown Channel", "code": 10003}
    into = http.post(
        forum["path"], params={"thread_id": "123456789012345678", "wait": "1"},
        json={"content": "x"},
    )  # fmt: skip
    assert into.json()["channel_id"] == "123456789012345678"
    post = http.post(
        forum["path"], params={"wait": "true"}, json={"content": "x", "thread_name": "Recap"}
    )
    assert post.json()["channel_id"] == post.json()["id"]


def test_routing_errors_in_discords_envelope(http: httpx.Client) -> None:
    """An unknown path is 404 and a wrong method 405, both as Discord words them."""
    assert http.get("/api/v10/channels/1").json() == {"message": "404: Not Found", "code": 0}
    hook = webhook(http)
    wrong = http.put(hook["path"], json={})
    assert wrong.status_code == 405
    assert wrong.json() == {"message": "405: Method Not Allowed", "code": 0}


def test_state_log_and_reset(http: httpx.Client) -> None:
    """The log never holds a token; bad control requests are 400; reset empties everything."""
    hook = webhook(http)
    http.post(hook["path"], json={"content": "x"})
    state = http.get("/_fake/state").json()
    assert [entry["status"] for entry in state["requests"]] == [204]
    assert hook["token"] not in str(state["requests"])
    assert http.post("/_fake/webhooks", json={"name": "Discord news"}).status_code == 400
    assert http.post("/_fake/webhooks", json={"threads": ["x"]}).status_code == 400
    assert [h["id"] for h in http.get("/_fake/webhooks").json()] == [hook["id"]]
    http.post("/_fake/reset").raise_for_status()
    assert http.get("/_fake/state").json() == {"webhooks": [], "faults": [], "requests": []}


def test_webhook_url_names_the_mount_point() -> None:
    """Mounted under a prefix, the fake hands out URLs under it, and they work."""
    app = Starlette(routes=[Mount("/discord", app=create_discord_app())])
    server = serve_in_thread(app)
    try:
        with httpx.Client(timeout=30.0) as client:
            hook = client.post(f"{server.url}/discord/_fake/webhooks").json()
            assert hook["url"] == (
                f"{server.url}/discord/api/webhooks/{hook['id']}/{hook['token']}"
            )
            assert client.post(hook["url"], json={"content": "x"}).status_code == 204
    finally:
        server.stop()
