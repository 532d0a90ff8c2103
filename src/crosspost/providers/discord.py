"""Discord notifications: a client of Discord's Execute Webhook (``POST /webhooks/{id}/{token}``).

A webhook URL is its own credential: whoever holds ``https://discord.com/api/webhooks/{id}/
{token}`` can post to the channel. So the token never appears in an error, a repr or a log
line (httpx's request log included: a filter on its logger masks it), and the URL a customer
gives only ever names a webhook: in live mode it must be a Discord webhook URL, and the request
always goes to ``https://discord.com/api/v10``, never to a host taken from the URL. The sandbox
passes ``api_base`` (the fake's ``…/api/v10``); then the fake's own URLs are accepted too.

Messages are posted with ``?wait=true`` so that Discord answers the message (its id) or the
reason it refused it. Content and embeds are cut to Discord's limits first, never mid-character
cluster, and mentions are off (``allowed_mentions.parse = []``): recap text quotes outsiders.
The client does not retry; a failure is a `ProviderError` whose kind says whether to.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from crosspost import __version__
from crosspost.domain.enums import ErrorKind
from crosspost.providers.errors import ProviderError, retry_after_seconds

LIVE_API_BASE = "https://discord.com/api/v10"
DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"}
)
CONTENT_LIMIT = 2000
USERNAME_LIMIT = 80
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000  # characters across every embed of a message
FIELDS_LIMIT = 25
TITLE_LIMIT, DESCRIPTION_LIMIT = 256, 4096
FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT = 256, 1024
FOOTER_TEXT_LIMIT, AUTHOR_NAME_LIMIT = 2048, 256
ELLIPSIS = "…"
REDACTED = "[redacted]"

_PATH = re.compile(r"/api(?:/v[0-9]{1,2})?/webhooks/([^/]*)(?:/([^/]*))?(/.*)?")
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # base64url, as Discord issues them: no dots
_TOKEN_IN_TEXT = re.compile(r"(/webhooks/[0-9]{1,20}/)[A-Za-z0-9_-]+")
_SNOWFLAKE_MAX = 2**63 - 1
_ZWJ = "\u200d"


class InvalidWebhookURL(ValueError):
    """A string that is not a usable Discord webhook URL; the message says what is wrong and
    never repeats the token."""


@dataclass(frozen=True, repr=False)
class WebhookTarget:
    """A parsed webhook URL: the webhook, its token, and the thread to post in, if any."""

    webhook_id: str
    token: str
    thread_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"WebhookTarget(webhook_id={self.webhook_id!r}, token={REDACTED!r}, "
            f"thread_id={self.thread_id!r})"
        )

    __str__ = __repr__


def parse_webhook_url(url: str) -> tuple[str, str]:
    """``(webhook id, token)`` of a Discord webhook URL (https, a Discord host, path
    ``/api[/vN]/webhooks/{id}/{token}``); raises InvalidWebhookURL naming what is wrong."""
    target = _parse(url, sandbox=None)
    return target.webhook_id, target.token


def check_webhook_url(url: str, *, api_base: str | None) -> None:
    """Raise InvalidWebhookURL unless a notifier with `api_base` (None: live) would post to
    `url`; checked when a URL is given, long before anything is sent."""
    _parse(url, sandbox=httpx.URL(_checked_base(api_base)) if api_base is not None else None)


def redact_webhook_tokens(text: str) -> str:
    """`text` with the token of every webhook path in it masked."""
    return _TOKEN_IN_TEXT.sub(rf"\1{REDACTED}", text)


def _parse(url: str, *, sandbox: httpx.URL | None) -> WebhookTarget:
    """The webhook a URL names; `sandbox` (an API base) also admits URLs on that origin."""
    problem, target = _examine(url, sandbox)
    if problem is not None:
        # Raised outside any except block: no chained exception carries the URL along.
        raise InvalidWebhookURL(f"not a Discord webhook URL: {problem}")
    assert target is not None
    return target


def _examine(url: str, sandbox: httpx.URL | None) -> tuple[str | None, WebhookTarget | None]:
    if not isinstance(url, str) or not url.strip():
        return "no URL was given", None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "it does not parse as a URL", None
    host = (parts.hostname or "").removesuffix(".")
    on_sandbox = sandbox is not None and (
        parts.scheme == sandbox.scheme and host == sandbox.host and port == sandbox.port
    )
    if parts.username is not None or parts.password is not None:
        return "it must not carry a user name or password", None
    if not on_sandbox:
        if not parts.scheme:
            return "it must start with https://discord.com/api/webhooks/", None
        if parts.scheme != "https":
            return f"it must use https://, not {parts.scheme}://", None
        if host not in DISCORD_HOSTS:
            return (
                f"its host {host or '(none)'!r} is not Discord's; a webhook URL is on "
                f"{', '.join(sorted(DISCORD_HOSTS))}"
            ), None
        if port not in (None, 443):
            return f"it must not name a port ({port})", None
    if parts.fragment:
        return "it must not have a #fragment", None
    path = parts.path
    if sandbox is not None and on_sandbox:
        mount = sandbox.path.rsplit("/api", 1)[0] if "/api" in sandbox.path else ""
        if not path.startswith(f"{mount}/api"):
            return f"its path must start with {mount}/api/webhooks/ on the sandbox", None
        path = path[len(mount) :]
    found = _path_problem(path)
    if isinstance(found, str):
        return found, None
    webhook_id, token = found
    thread_id = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "thread_id":
            if not _is_snowflake(value):
                return "its thread_id is not a Discord id (a number)", None
            thread_id = value
        elif key != "wait":  # ours to set; a copied ?wait=true is harmless
            return f"it has a query parameter Discord webhooks do not take ({key!r})", None
    return None, WebhookTarget(webhook_id, token, thread_id)


def _path_problem(path: str) -> str | tuple[str, str]:
    """What is wrong with a webhook path, or its ``(id, token)``."""
    match = _PATH.fullmatch(path)
    if match is None:
        return "its path must be /api/webhooks/{id}/{token}"
    webhook_id, token, rest = match.group(1), match.group(2) or "", match.group(3) or ""
    if rest in ("/slack", "/github"):
        return f"it is the {rest[1:].title()}-compatible endpoint; give the URL without {rest}"
    if rest not in ("", "/"):
        return "its path goes on after the token; it must end at /webhooks/{id}/{token}"
    if not _is_snowflake(webhook_id):
        return "the part after /webhooks/ must be the webhook's id (a number)"
    if not token:
        return "it has no token after the webhook id"
    if not _TOKEN.fullmatch(token):
        return "its token has characters Discord tokens never have (letters, digits, - and _)"
    return webhook_id, token


def _is_snowflake(value: str) -> bool:
    return bool(_SNOWFLAKE.fullmatch(value)) and int(value) <= _SNOWFLAKE_MAX


# -- fitting a message to Discord's limits ----------------------------------------------------


def clip_text(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when cut; never splits
    a character cluster (combining marks, emoji joined by ZWJ, modifiers, flags)."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    cut = limit - len(ELLIPSIS)
    while cut > 0 and (_joins_previous(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    indicators = 0  # a flag is two regional indicators: keep them in pairs
    while indicators < cut and _is_regional_indicator(text[cut - 1 - indicators]):
        indicators += 1
    if indicators % 2 and _is_regional_indicator(text[cut]):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS


def _field_texts(field: Any) -> tuple[str, str]:
    """A field's name and value, '' for what is missing or not text."""
    if not isinstance(field, Mapping):
        return "", ""
    name, value = field.get("name"), field.get("value")
    return (name if isinstance(name, str) else ""), (value if isinstance(value, str) else "")


def _joins_previous(char: str) -> bool:
    """True for a character that belongs to the cluster of the one before it."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def fit_embeds(embeds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the first 10 embeds, every text cut to its limit and the texts together to
    6000 characters (earlier embeds, and earlier parts of each, keep theirs first); a field,
    footer or author left without its text is dropped, as Discord requires one."""
    budget = EMBED_TOTAL_LIMIT
    fitted: list[dict[str, Any]] = []

    def take(text: Any, limit: int) -> str:
        nonlocal budget
        if not isinstance(text, str):
            return ""
        clipped = clip_text(text, min(limit, budget))
        budget -= len(clipped)
        return clipped

    for source in list(embeds)[:EMBEDS_LIMIT]:
        embed = dict(source)
        for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
            if key in embed:
                embed[key] = take(embed[key], limit)
                if not embed[key]:
                    del embed[key]
        if isinstance(embed.get("fields"), list):
            fields = []
            for field in embed["fields"][:FIELDS_LIMIT]:
                name, value = _field_texts(field)
                if not (name and value) or budget < 2:
                    continue  # Discord wants both: a field that cannot have them goes
                name = clip_text(name, min(FIELD_NAME_LIMIT, budget - 1))
                value = clip_text(value, min(FIELD_VALUE_LIMIT, budget - len(name)))
                budget -= len(name) + len(value)
                fields.append({**field, "name": name, "value": value})
            embed["fields"] = fields
        for key, text_key, limit in (
            ("footer", "text", FOOTER_TEXT_LIMIT),
            ("author", "name", AUTHOR_NAME_LIMIT),
        ):
            part = embed.get(key)
            if isinstance(part, Mapping):
                text = take(part.get(text_key), limit)
                if text:
                    embed[key] = {**part, text_key: text}
                else:
                    del embed[key]
        fitted.append(embed)
    return fitted


# -- the client -------------------------------------------------------------------------------


class _RedactTokens(logging.Filter):
    """Masks webhook tokens in records of the logger it is on (httpx logs each request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_webhook_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        return True


def _redacted_arg(arg: object) -> object:
    if isinstance(arg, str | httpx.URL):
        text = str(arg)
        masked = redact_webhook_tokens(text)
        return masked if masked != text else arg
    return arg


_LOG_FILTER = _RedactTokens()


class DiscordNotifier:
    """Posts messages through Discord webhooks and answers the id of each message.

    `http` is borrowed and left open. Without `api_base` the notifier is live: only Discord
    webhook URLs are accepted and every request goes to Discord. With it (the sandbox), the
    requests go to ``{api_base}/webhooks/{id}/{token}``, and URLs on that origin are accepted.
    """

    def __init__(
        self, http: httpx.Client, *, api_base: str | None = None, timeout: float = 15.0
    ) -> None:
        self._http = http
        self.timeout = timeout
        self.sandbox = api_base is not None
        self.api_base = _checked_base(api_base) if api_base is not None else LIVE_API_BASE
        self._base_url = httpx.URL(self.api_base)
        if _LOG_FILTER not in logging.getLogger("httpx").filters:
            logging.getLogger("httpx").addFilter(_LOG_FILTER)

    def __repr__(self) -> str:
        mode = "sandbox" if self.sandbox else "live"
        return f"DiscordNotifier(api_base={self.api_base!r}, mode={mode!r})"

    def target(self, webhook_url: str) -> WebhookTarget:
        """The webhook `webhook_url` names, as this notifier accepts it (see the class)."""
        return _parse(webhook_url, sandbox=self._base_url if self.sandbox else None)

    def send(
        self,
        webhook_url: str,
        *,
        content: str,
        embeds: Sequence[Mapping[str, Any]] | None = None,
        username: str | None = None,
    ) -> str:
        """Post a message; answers its id. Content and embeds are cut to Discord's limits.
        Raises InvalidWebhookURL for a bad URL, ProviderError for anything Discord answers."""
        target = self.target(webhook_url)
        payload: dict[str, Any] = {"allowed_mentions": {"parse": []}}
        if content.strip():
            payload["content"] = clip_text(content, CONTENT_LIMIT)
        fitted = fit_embeds(embeds or [])
        if fitted:
            payload["embeds"] = fitted
        if username and username.strip():
            payload["username"] = clip_text(username.strip(), USERNAME_LIMIT)
        if "content" not in payload and "embeds" not in payload:
            raise ProviderError(
                ErrorKind.PERMANENT,
                "empty_message",
                f"nothing to post to webhook {target.webhook_id}: Discord refuses a message "
                "without content or embeds",
            )
        params = {"wait": "true"}
        if target.thread_id:
            params["thread_id"] = target.thread_id
        response, failure = self._post(target, payload, params)
        if failure is not None:
            raise failure
        assert response is not None
        if response.status_code == 200:
            return self._message_id(response, target)
        raise self._classify(response, target)

    def _post(
        self, target: WebhookTarget, payload: dict[str, Any], params: dict[str, str]
    ) -> tuple[httpx.Response | None, ProviderError | None]:
        """The response, or the failure to get one (built here, raised by the caller outside
        the except block, so that no chained httpx error carries the URL)."""
        where = f"webhook {target.webhook_id}"
        try:
            response = self._http.post(
                f"{self.api_base}/webhooks/{target.webhook_id}/{target.token}",
                params=params,
                json=payload,
                headers={"User-Agent": f"crosspost/{__version__}"},
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                # A redirect would carry the token to wherever it points: never follow one.
                follow_redirects=False,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return None, ProviderError(
                ErrorKind.TRANSIENT,
                "unreachable",
                f"could not reach {self._base_url.host} for {where} ({type(exc).__name__}); "
                "nothing was posted: retry later",
            )
        except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # The request was sent: Discord may have posted the message without answering.
            return None, ProviderError(
                ErrorKind.UNCONFIRMED,
                "no_answer",
                f"{self._base_url.host} did not answer for {where} ({type(exc).__name__}); "
                "the message may have been posted",
            )
        except httpx.HTTPError as exc:
            return None, ProviderError(
                ErrorKind.TRANSIENT,
                "transport_error",
                f"the request for {where} failed ({type(exc).__name__}): retry later",
            )
        return response, None

    def _message_id(self, response: httpx.Response, target: WebhookTarget) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        message_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(message_id, str) and _is_snowflake(message_id):
            return message_id
        raise ProviderError(
            ErrorKind.UNCONFIRMED,
            "malformed_response",
            f"Discord answered 200 for webhook {target.webhook_id} without a message id: the "
            "message was probably posted; check the API base if this persists",
            http_status=200,
            raw=_redacted(_body(response), target.token),
        )

    def _classify(self, response: httpx.Response, target: WebhookTarget) -> ProviderError:
        """Discord's refusal as a ProviderError (kind by status and Discord's JSON code)."""
        status = response.status_code
        body = _redacted(_body(response), target.token)
        error = body if isinstance(body, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        said = str(error.get("message") or "").strip() or _first_line(body)
        where = f"webhook {target.webhook_id}"

        def failure(
            kind: ErrorKind, ours: str, message: str, wait: float | None = None
        ) -> ProviderError:
            return ProviderError(
                kind, ours, message, retry_after=wait, http_status=status, raw=body
            )

        if 200 <= status < 300:  # asked with wait=true, so a 204 posted without confirming
            return failure(
                ErrorKind.UNCONFIRMED,
                "no_message_id",
                f"{self._base_url.host} answered HTTP {status} for {where} without the message: "
                "it was probably posted; check the API base if this persists",
            )
        if status == 429:
            wait = _retry_after(response, error)
            scope = "Discord's global limit" if error.get("global") else f"the limit of {where}"
            after = f"retry after {wait:.2f} s" if wait is not None else "retry later"
            return failure(
                ErrorKind.RATE_LIMITED,
                "rate_limited",
                f"Discord rate-limited the request ({scope}): {after}",
                wait,
            )
        if status >= 500:
            return failure(
                ErrorKind.TRANSIENT,
                "server_error",
                f"Discord answered HTTP {status} for {where} ({said or 'no detail'}): retry later",
                retry_after_seconds(response.headers),
            )
        if status == 404 and code == 10015:
            return failure(
                ErrorKind.AUTH,
                "unknown_webhook",
                f"Discord has no {where} (HTTP 404 Unknown Webhook): it was deleted or the URL "
                "is wrong; create a webhook in the channel's Integrations settings and save its "
                "URL again (Discord asks that a webhook answering 404 is not used again)",
            )
        if status == 401:
            return failure(
                ErrorKind.AUTH,
                "invalid_webhook_token",
                f"Discord refused the token of {where} (HTTP 401 {said or 'Unauthorized'}): "
                "the URL's token is wrong or was reset; copy the webhook URL again from the "
                "channel's Integrations settings",
            )
        if status == 403:
            return failure(
                ErrorKind.AUTH,
                "forbidden",
                f"Discord refused {where} (HTTP 403 {said or 'Forbidden'}): the webhook may not "
                "post there; check the channel's permissions or create a new webhook",
            )
        if status == 404 and code == 10003:
            return failure(
                ErrorKind.PERMANENT,
                "unknown_thread",
                f"Discord has no thread {target.thread_id} in the channel of {where} (HTTP 404 "
                "Unknown Channel): fix the thread_id in the webhook URL",
            )
        if status == 400 and code == 50035:
            return failure(
                ErrorKind.PERMANENT,
                "invalid_form_body",
                f"Discord refused the message for {where} (Invalid Form Body: "
                f"{_form_errors(error.get('errors'))}): change what it names",
            )
        if status == 400 and code == 50006:
            return failure(
                ErrorKind.PERMANENT,
                "empty_message",
                f"Discord found the message for {where} empty: add content",
            )
        if status == 400 and code in (220001, 220002, 220003):
            return failure(
                ErrorKind.PERMANENT,
                "thread_required" if code == 220001 else "thread_conflict",
                f"Discord refused the message for {where} ({said}): a webhook of a forum "
                "channel posts in a thread; add ?thread_id=<thread id> to the webhook URL",
            )
        if 300 <= status < 400:
            return failure(
                ErrorKind.PERMANENT,
                "redirected",
                f"{self._base_url.host} answered a redirect (HTTP {status}) for {where}, which "
                "is not followed (it would carry the token along): check the API base",
            )
        return failure(
            ErrorKind.PERMANENT,
            f"discord_{code}" if code else "rejected",
            f"Discord refused the message for {where} (HTTP {status}"
            f"{f', code {code}' if code else ''}: {said or 'no detail'}): it will not be "
            "accepted as sent",
        )


def _checked_base(api_base: str) -> str:
    """The sandbox API base without its trailing slash; http(s) and nothing after the path."""
    try:
        url = httpx.URL(api_base.strip())
    except httpx.InvalidURL:
        raise ValueError("api_base is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
        raise ValueError(
            "api_base must be an http(s) URL without a query, such as http://127.0.0.1:8025/api/v10"
        )
    return str(url).rstrip("/")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _redacted(value: Any, token: str) -> Any:
    """`value` without the token, whole or in a webhook path."""
    if isinstance(value, str):
        return redact_webhook_tokens(value.replace(token, REDACTED))
    if isinstance(value, dict):
        return {k: _redacted(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, token) for v in value]
    return value


def _first_line(body: Any) -> str:
    """A plain-text answer's first line (an HTML page's title); '' for JSON."""
    if not isinstance(body, str):
        return ""
    title = re.search(r"<title>([^<]*)</title>", body, re.IGNORECASE)
    line = title.group(1) if title else (body.strip().splitlines() or [""])[0]
    return line.strip()[:200]


def _retry_after(response: httpx.Response, error: Mapping[str, Any]) -> float | None:
    """Seconds to wait: the body's ``retry_after`` (finer than the header), else ``Retry-After``,
    else ``X-RateLimit-Reset-After``."""
    value = error.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(0.0, float(value))
    waited = retry_after_seconds(response.headers)
    if waited is not None:
        return waited
    try:
        reset_after = float(response.headers.get("x-ratelimit-reset-after", ""))
    except ValueError:
        return None
    return max(0.0, reset_after) if math.isfinite(reset_after) else None


def _form_errors(errors: Any, limit: int = 5) -> str:
    """Discord's nested form errors as ``path: message (CODE)`` lines, the first few."""
    found: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for item in node.get("_errors") or []:
            if isinstance(item, dict):
                where = ".".join(path) or "body"
                found.append(f"{where}: {item.get('message')} ({item.get('code')})")
        for key, child in node.items():
            if key != "_errors":
                walk(child, [*path, str(key)])

    walk(errors, [])
    if not found:
        return "no detail"
    more = f"; and {len(found) - limit} more" if len(found) > limit else ""
    return "; ".join(found[:limit]) + more


__all__ = [
    "CONTENT_LIMIT",
    "DISCORD_HOSTS",
    "EMBEDS_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "LIVE_API_BASE",
    "DiscordNotifier",
    "InvalidWebhookURL",
    "WebhookTarget",
    "clip_text",
    "fit_embeds",
    "parse_webhook_url",
    "redact_webhook_tokens",
]
