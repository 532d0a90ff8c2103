"""DiscordNotifier against the Discord webhook fake, served over real HTTP on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crosspost.domain.enums import ErrorKind
from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.discord import DiscordFakeConfig, create_discord_app
from crosspost.providers.discord import (
    EMBED_TOTAL_LIMIT,
    DiscordNotifier,
    InvalidWebhookURL,
    clip_text,
    fit_embeds,
    parse_webhook_url,
    redact_webhook_tokens,
)
from crosspost.providers.errors import ProviderError

TOKEN = "Zq3-x_Y7" * 8 + "abcd"  # 68 characters of base64url, as Discord's are
LIVE_URL = f"https://discord.com/api/webhooks/223704706495545344/{TOKEN}"


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_003_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RunningServer, Clock]]:
    """One fake for the module, on a clock the tests move."""
    clock = Clock()
    server = serve_in_thread(create_discord_app(DiscordFakeConfig(clock=clock)))
    yield server, clock
    server.stop()


@pytest.fixture
def control(served: tuple[RunningServer, Clock]) -> Iterator[httpx.Client]:
    """A plain client on the fake's controls, the fake reset and its clock at the start."""
    server, clock = served
    clock.now = 1_800_003_600.0
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        client.post("/_fake/reset").raise_for_status()
        yield client


@pytest.fixture
def notifier(served: tuple[RunningServer, Clock]) -> Iterator[DiscordNotifier]:
    """A sandbox notifier: its API base is the fake's /api/v10."""
    with httpx.Client(timeout=30.0) as http:
        yield DiscordNotifier(http, api_base=f"{served[0].url}/api/v10")


def webhook(control: httpx.Client, **spec: Any) -> dict[str, Any]:
    """A new webhook on the fake (id, token, url)."""
    response = control.post("/_fake/webhooks", json=spec)
    response.raise_for_status()
    hook: dict[str, Any] = response.json()
    return hook


def messages(control: httpx.Client) -> list[dict[str, Any]]:
    """Every message the fake received, in order."""
    return [m for h in control.get("/_fake/state").json()["webhooks"] for m in h["messages"]]


def failure_of(notifier: DiscordNotifier, url: str, **message: Any) -> ProviderError:
    """The ProviderError `send` raises; asserts the token appears in none of its parts."""
    message.setdefault("content", "hello")
    with pytest.raises(ProviderError) as caught:
        notifier.send(url, **message)
    error = caught.value
    token = url.rsplit("/", 1)[-1].split("?", maxsplit=1)[0]
    for shown in (str(error), repr(error), error.message, str(error.raw), repr(notifier)):
        assert token not in shown
    assert error.__cause__ is None and error.__context__ is None
    return error


# -- the URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        LIVE_URL,
        f"https://discordapp.com/api/webhooks/223704706495545344/{TOKEN}",
        f"https://canary.discord.com/api/webhooks/223704706495545344/{TOKEN}",
        f"https://ptb.discord.com/api/v10/webhooks/223704706495545344/{TOKEN}",
        f"  https://Discord.com./api/v9/webhooks/223704706495545344/{TOKEN}/\n",
        f"{LIVE_URL}?thread_id=123456789012345678&wait=true",
    ],
)
def test_parse_accepts_discord_webhook_urls(url: str) -> None:
    """Discord's hosts, with or without an API version, a stray slash or whitespace."""
    assert parse_webhook_url(url) == ("223704706495545344", TOKEN)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "no URL"),
        (f"discord.com/api/webhooks/1/{TOKEN}", "must start with https://"),
        (f"http://discord.com/api/webhooks/1/{TOKEN}", "https://, not http://"),
        (f"https://discord.com.evil.example/api/webhooks/1/{TOKEN}", "is not Discord's"),
        (f"https://evil.example/api/webhooks/1/{TOKEN}", "'evil.example' is not Discord's"),
        (f"https://me:pw@discord.com/api/webhooks/1/{TOKEN}", "user name or password"),
        (f"https://discord.com:8443/api/webhooks/1/{TOKEN}", "port"),
        (f"https://discord.com/webhooks/1/{TOKEN}", "/api/webhooks/{id}/{token}"),
        ("https://discord.com/api/webhooks/223704706495545344", "no token"),
        ("https://discord.com/api/webhooks/223704706495545344/", "no token"),
        (f"https://discord.com/api/webhooks/abc/{TOKEN}", "webhook's id (a number)"),
        (f"https://discord.com/api/webhooks/99999999999999999999/{TOKEN}", "(a number)"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}/slack", "Slack-compatible"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}/messages/2", "goes on after the token"),
        (f"https://discord.com/api/webhooks/1/{TOKEN[:20]}%2F..", "characters Discord tokens"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}?channel=2", "do not take ('channel')"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}?thread_id=x", "thread_id"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}#x", "#fragment"),
        ("https://[::1", "does not parse"),
    ],
)
def test_parse_refuses_with_the_reason(url: str, said: str) -> None:
    """Each refusal names what is wrong, and never repeats the token."""
    with pytest.raises(InvalidWebhookURL) as caught:
        parse_webhook_url(url)
    assert said in str(caught.value)
    assert TOKEN[:20] not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_live_mode_takes_only_discord_and_the_sandbox_maps_both(
    control: httpx.Client, served: tuple[RunningServer, Clock]
) -> None:
    """Live, the fake's http URL is refused before any request; the sandbox takes it, and a
    discord.com URL of the same webhook goes to the fake too."""
    hook = webhook(control)
    with httpx.Client() as http:
        live = DiscordNotifier(http)
        with pytest.raises(InvalidWebhookURL, match=r"https://, not http://"):
            live.send(hook["url"], content="x")
        sandbox = DiscordNotifier(http, api_base=f"{served[0].url}/api/v10/")
        assert sandbox.api_base.endswith("/api/v10")
        first = sandbox.send(hook["url"], content="from the fake's URL")
        second = sandbox.send(
            f"https://discord.com/api/webhooks/{hook['id']}/{hook['token']}", content="as live"
        )
    assert [m["id"] for m in messages(control)] == [first, second]
    assert control.get("/_fake/state").json()["requests"][0]["path"].startswith("/api/v10/")
    with pytest.raises(ValueError, match="api_base"):
        DiscordNotifier(httpx.Client(), api_base="ftp://example.com/api")


# -- sending ----------------------------------------------------------------------------------


def test_send_returns_the_message_id(control: httpx.Client, notifier: DiscordNotifier) -> None:
    """The message goes out with wait=true, mentions off, the username and embeds as given;
    the answer is the message's id."""
    hook = webhook(control, name="Recaps")
    embeds = [{"title": "Episode 12", "url": "https://example.com/12", "color": 0x5865F2,
               "fields": [{"name": "Duration", "value": "42 min", "inline": True}]}]  # fmt: skip
    message_id = notifier.send(hook["url"], content="A recap is ready", embeds=embeds,
                               username="crosspost")  # fmt: skip
    [stored] = messages(control)
    assert stored["id"] == message_id and message_id.isdigit()
    assert stored["content"] == "A recap is ready"
    assert stored["author"]["username"] == "crosspost"
    assert stored["embeds"][0]["fields"] == embeds[0]["fields"]
    assert stored["received"]["allowed_mentions"] == {"parse": []}
    assert stored["received"]["query"] == {"wait": "true"}


def test_content_of_2500_characters_is_cut_to_2000(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """Too long for Discord: cut to exactly 2000 characters, ending in an ellipsis."""
    hook = webhook(control)
    notifier.send(hook["url"], content="word " * 500)
    [stored] = messages(control)
    assert len(stored["content"]) == 2000 and stored["content"].endswith("word…")


def test_embeds_are_fitted_to_every_limit(control: httpx.Client, notifier: DiscordNotifier) -> None:
    """12 oversized embeds come out as 10 the fake accepts: each text within its limit, 25
    fields at most, 6000 characters in all."""
    hook = webhook(control)
    big = {
        "title": "t" * 300,
        "description": "d" * 5000,
        "fields": [{"name": "n" * 300, "value": "v" * 2000}] * 30,
        "footer": {"text": "f" * 3000},
        "author": {"name": "a" * 300},
    }
    notifier.send(hook["url"], content="", embeds=[big] * 12)
    [stored] = messages(control)
    embeds = stored["embeds"]
    assert len(embeds) == 10  # Discord's most; later ones keep what the budget leaves
    assert len(embeds[0]["title"]) == 256 and len(embeds[0]["description"]) == 4096
    sizes = [
        len(e.get("title", "")) + len(e.get("description", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
        + len(e.get("footer", {}).get("text", "")) + len(e.get("author", {}).get("name", ""))
        for e in embeds
    ]  # fmt: skip
    assert sum(sizes) <= EMBED_TOTAL_LIMIT
    assert all(len(e.get("fields", [])) <= 25 for e in embeds)


def test_fit_embeds_keeps_what_fits_and_drops_what_cannot_have_text() -> None:
    """Within the limits an embed is unchanged; past the budget a field loses its place rather
    than go out without a value."""
    small = [{"title": "T", "fields": [{"name": "a", "value": "b"}], "footer": {"text": "f"}}]
    assert fit_embeds(small) == small
    second = {"description": "e" * 1903, "fields": [{"name": "n", "value": "v"}],
              "author": {"name": "x"}}  # fmt: skip
    fitted = fit_embeds([{"description": "d" * 4096}, second])
    assert len(fitted[1]["description"]) == 1903 and fitted[1]["fields"] == []
    assert "author" in fitted[1]  # the last character of the budget


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("abcdef", 4, "abc…"),
        ("ab cdef", 4, "ab…"),
        ("abe\u0301x", 4, "ab…"),  # e + combining acute stays whole (here: dropped whole)
        ("a👍🏽bc", 4, "a👍🏽…"),
        ("a👍🏽bc", 3, "a…"),  # the thumb keeps its skin tone or goes with it
        ("a👩\u200d💻x", 4, "a…"),  # a ZWJ sequence is not cut in half
        ("a🇫🇷🇩🇪", 4, "a🇫🇷…"),
        ("a🇫🇷🇩🇪", 3, "a…"),  # flags stay in pairs
    ],
)
def test_clip_text_never_splits_a_character(text: str, limit: int, expected: str) -> None:
    """Cut texts end in an ellipsis, within the limit, at a cluster boundary."""
    assert clip_text(text, limit) == expected
    assert len(clip_text(text, limit)) <= limit


def test_a_message_with_nothing_is_refused_before_sending(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """Blank content and no embeds: PERMANENT empty_message, and no request is made."""
    hook = webhook(control)
    error = failure_of(notifier, hook["url"], content="  \n")
    assert error.kind is ErrorKind.PERMANENT and error.code == "empty_message"
    assert control.get("/_fake/state").json()["requests"] == []


def test_thread_id_in_the_url_posts_in_the_thread(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """A forum webhook without a thread is refused (PERMANENT, saying how to fix it); with
    ?thread_id= in the URL the message lands in the thread."""
    hook = webhook(control, forum=True, threads=["123456789012345678"])
    error = failure_of(notifier, hook["url"])
    assert error.kind is ErrorKind.PERMANENT and error.code == "thread_required"
    assert "thread_id" in error.message
    notifier.send(f"{hook['url']}?thread_id=123456789012345678", content="in the thread")
    [stored] = messages(control)
    assert stored["channel_id"] == "123456789012345678"


# -- failures ---------------------------------------------------------------------------------


def test_deleted_webhook_is_auth_and_says_so(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """404 Unknown Webhook: AUTH, not retryable, saying it was deleted or the URL is wrong."""
    hook = webhook(control)
    control.delete(f"/api/webhooks/{hook['id']}/{hook['token']}").raise_for_status()
    error = failure_of(notifier, hook["url"])
    assert error.kind is ErrorKind.AUTH and error.code == "unknown_webhook"
    assert error.http_status == 404 and not error.retryable
    assert "deleted or the URL is wrong" in error.message and hook["id"] in error.message


def test_wrong_token_is_auth(control: httpx.Client, notifier: DiscordNotifier) -> None:
    """401 Invalid Webhook Token: AUTH, telling to copy the URL again."""
    hook = webhook(control)
    error = failure_of(notifier, f"{hook['url'][:-6]}AAAAAA")
    assert error.kind is ErrorKind.AUTH and error.code == "invalid_webhook_token"
    assert error.http_status == 401 and "copy the webhook URL again" in error.message


def test_rate_limit_is_rate_limited_with_retry_after(
    control: httpx.Client, notifier: DiscordNotifier, served: tuple[RunningServer, Clock]
) -> None:
    """The 6th message in 2 s: RATE_LIMITED, retry_after from the body (finer than the
    header); after the window the webhook takes messages again."""
    hook = webhook(control)
    for index in range(5):
        notifier.send(hook["url"], content=f"n{index}")
    served[1].now += 0.75
    error = failure_of(notifier, hook["url"])
    assert error.kind is ErrorKind.RATE_LIMITED and error.retryable
    assert error.retry_after == pytest.approx(1.25) and error.http_status == 429
    served[1].now += 1.25
    notifier.send(hook["url"], content="after the window")
    assert len(messages(control)) == 6


def test_injected_429_global_uses_its_retry_after(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """A global 429 is RATE_LIMITED too, and says it is Discord's global limit."""
    hook = webhook(control)
    control.post("/_fake/faults", json={"status": 429, "retry_after": 3.5, "global": True})
    error = failure_of(notifier, hook["url"])
    assert error.kind is ErrorKind.RATE_LIMITED and error.retry_after == 3.5
    assert "global" in error.message


@pytest.mark.parametrize(
    ("status", "said"),
    [(500, "500: Internal Server Error"), (502, "502 Bad Gateway"), (503, "upstream")],
)
def test_server_errors_are_transient(
    control: httpx.Client, notifier: DiscordNotifier, status: int, said: str
) -> None:
    """5xx, whether JSON, Cloudflare's HTML or Envoy's text: TRANSIENT, with what it said."""
    hook = webhook(control)
    control.post("/_fake/faults", json={"status": status}).raise_for_status()
    error = failure_of(notifier, hook["url"])
    assert error.kind is ErrorKind.TRANSIENT and error.code == "server_error"
    assert error.http_status == status and said in error.message


def test_invalid_form_body_is_permanent_and_names_the_field(
    control: httpx.Client, notifier: DiscordNotifier
) -> None:
    """Discord's 50035 (here a username it will not take): PERMANENT, naming field and code."""
    hook = webhook(control)
    error = failure_of(notifier, hook["url"], username="Discord relay")
    assert error.kind is ErrorKind.PERMANENT and error.code == "invalid_form_body"
    assert 'username: Username cannot contain "discord" (USERNAME_INVALID_CONTAINS)' in (
        error.message
    )


def test_unreachable_is_transient(control: httpx.Client) -> None:
    """Nothing listening at the API base: TRANSIENT unreachable, nothing posted."""
    hook = webhook(control)
    with httpx.Client() as http:
        closed = DiscordNotifier(http, api_base="http://127.0.0.1:9/api/v10")
        error = failure_of(closed, f"https://discord.com/api/webhooks/{hook['id']}/{TOKEN}")
    assert error.kind is ErrorKind.TRANSIENT and error.code == "unreachable"


def test_the_token_is_in_no_repr_error_or_log(
    control: httpx.Client, notifier: DiscordNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request's URL: the token is masked there; the notifier's repr and an
    InvalidWebhookURL never hold it either."""
    hook = webhook(control)
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        notifier.send(hook["url"], content="logged")
    assert hook["id"] in caplog.text and "[redacted]" in caplog.text
    assert hook["token"] not in caplog.text
    assert hook["token"] not in repr(notifier)
    with pytest.raises(InvalidWebhookURL) as caught:
        notifier.send(f"{hook['url']}/extra", content="x")
    assert hook["token"] not in str(caught.value) and hook["token"] not in repr(caught.value)
    target = notifier.target(hook["url"])
    assert hook["token"] not in repr(target) and hook["token"] not in str(target)
    assert redact_webhook_tokens(hook["url"]).endswith(f"/webhooks/{hook['id']}/[redacted]")


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (httpx.Response(204), ErrorKind.UNCONFIRMED, "no_message_id"),
        (httpx.Response(200, json={"content": "x"}), ErrorKind.UNCONFIRMED, "malformed_response"),
        (
            httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
            ErrorKind.PERMANENT,
            "redirected",
        ),
    ],
)
def test_answers_no_discord_gives_are_not_taken_for_success(
    answer: httpx.Response, kind: ErrorKind, code: str
) -> None:
    """A 204 despite wait=true, a 200 without an id, a redirect (never followed: it would take
    the token along). Served by a stub transport: the fake never answers so."""
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    with httpx.Client(transport=httpx.MockTransport(reply)) as http:
        error = failure_of(DiscordNotifier(http), LIVE_URL)
    assert error.kind is kind and error.code == code
    [request] = seen
    assert request.url.host == "discord.com" and request.url.path.startswith("/api/v10/webhooks/")
    assert request.url.params["wait"] == "true"
