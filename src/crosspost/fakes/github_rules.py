"""GitHub's REST protocol as the fake enforces it: versions, error bodies, validators, paging.

Written from GitHub's REST documentation (docs.github.com: "Troubleshooting the REST API",
"Rate limits for the REST API", "Using pagination", "API Versions", the endpoint pages) and
error bodies GitHub has been seen to return, never from our client. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

# The versions the fake serves; GitHub also serves 2026-03-10, whose breaking changes the
# fake does not model, so a client pinned to it is refused here rather than misled.
API_VERSIONS = ("2022-11-28",)
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100  # a larger per_page is quietly clamped, not refused
JSON_TYPE = "application/json; charset=utf-8"
MEDIA_TYPE = "github.v3; format=json"

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_DOCS}#about-secondary-rate-limits"
# Each endpoint's page, which GitHub puts in the documentation_url of its errors.
ENDPOINT_DOCS: dict[str, str] = {
    "user": "users/users#get-the-authenticated-user",
    "rate_limit": "rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
    "repo": "repos/repos#get-a-repository",
    "commits": "commits/commits#list-commits",
    "commit": "commits/commits#get-a-commit",
    "pulls": "pulls/pulls#list-pull-requests",
    "pull": "pulls/pulls#get-a-pull-request",
    "pull_create": "pulls/pulls#create-a-pull-request",
    "pull_update": "pulls/pulls#update-a-pull-request",
    "issues": "issues/issues#list-repository-issues",
    "releases": "releases/releases#list-releases",
    "contents": "repos/contents#get-repository-content",
    "blob_create": "git/blobs#create-a-blob",
    "blob": "git/blobs#get-a-blob",
    "tree_create": "git/trees#create-a-tree",
    "tree": "git/trees#get-a-tree",
    "gitcommit_create": "git/commits#create-a-commit",
    "gitcommit": "git/commits#get-a-commit-object",
    "ref": "git/refs#get-a-reference",
    "ref_create": "git/refs#create-a-reference",
    "ref_update": "git/refs#update-a-reference",
    "ref_delete": "git/refs#delete-a-reference",
}

USER_AGENT_REQUIRED = (
    "Request forbidden by administrative rules. Please make sure your request has a "
    "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
    "#user-agent-required). Check https://developer.github.com for other possible causes."
)
NOT_ACCESSIBLE = "Resource not accessible by personal access token"
SECONDARY_LIMITED = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID {rid}."
)


def doc_url(key: str) -> str:
    """The documentation URL GitHub names in an endpoint's errors."""
    return f"{DOCS}/{ENDPOINT_DOCS[key]}" if key in ENDPOINT_DOCS else DOCS


class ApiError(Exception):
    """An error answer in GitHub's envelope: ``{message, documentation_url, status, errors?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        doc: str = DOCS,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message}
        if errors is not None:
            self.body["errors"] = [dict(e) for e in errors]
        self.body["documentation_url"] = doc
        self.body["status"] = str(status)  # GitHub sends the status again, as a string
        self.headers = dict(headers or {})

    def answer(self) -> Answer:
        """The error as an answer the pipeline finishes like any other."""
        return Answer(self.body, self.status, headers=dict(self.headers))


@dataclass
class Answer:
    """What a handler hands back: a JSON body (or raw bytes) plus what the pipeline needs."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: float | None = None  # sent as Last-Modified, checked by If-Modified-Since
    raw: bytes | None = None  # sent as-is with `media_type` instead of the JSON body
    media_type: str = JSON_TYPE

    def content(self) -> bytes:
        """The bytes on the wire."""
        if self.raw is not None:
            return self.raw
        if self.status in (204, 304):
            return b""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()

    def response(self) -> Response:
        """A Starlette response for it."""
        media = None if self.status in (204, 304) else self.media_type
        return Response(self.content(), self.status, self.headers, media_type=media)


def not_found(doc: str = DOCS) -> ApiError:
    """GitHub's 404, also its answer for what the caller may not know exists."""
    return ApiError(404, "Not Found", doc=doc)


def validation_failed(doc: str, *errors: Mapping[str, Any]) -> ApiError:
    """The 422 "Validation Failed" with its list of ``{resource, field, code}`` errors."""
    return ApiError(422, "Validation Failed", doc=doc, errors=errors)


def not_supplied(name: str, doc: str) -> ApiError:
    """The 422 GitHub's schema check answers for a missing required body parameter."""
    return ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.', doc=doc)


def wrong_type(name: str, value: Any, kind: str, doc: str) -> ApiError:
    """The 422 GitHub's schema check answers for a body parameter of the wrong type."""
    shown = "nil" if value is None else json.dumps(value)
    return ApiError(
        422, f"Invalid request.\n\nFor 'properties/{name}', {shown} is not {kind}.", doc=doc
    )


def body_fields(
    body: Any, doc: str, required: Mapping[str, str], optional: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Check a JSON body against its schema: kind names are "a string", "a boolean", "an
    array", "an object"; the first problem is the answer, as GitHub's check reports it."""
    if not isinstance(body, dict):
        raise ApiError(400, "Body should be a JSON object", doc=doc)
    for name in required:
        if name not in body:
            raise not_supplied(name, doc)
    for name, kind in {**required, **(optional or {})}.items():
        if name in body and not _is(body[name], kind):
            raise wrong_type(name, body[name], kind, doc)
    return body


def _is(value: Any, kind: str) -> bool:
    nullable = kind.endswith(" or null")
    if value is None:
        return nullable
    base = kind.removesuffix(" or null")
    checks = {"a string": str, "a boolean": bool, "an array": list, "an object": dict}
    return isinstance(value, checks[base])


def parse_body(raw: bytes, doc: str) -> Any:
    """The request body as JSON; 400 "Problems parsing JSON" when it is not."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Problems parsing JSON", doc=doc) from None


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: str) -> float | None:
    """An ISO 8601 timestamp (``YYYY-MM-DDTHH:MM:SSZ``, an offset, or a bare date) as epoch
    seconds; None when it is not one."""
    match = _ISO.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        stamp = calendar.timegm(
            time.struct_time(
                (
                    int(year),
                    int(month),
                    int(day),
                    int(hour or 0),
                    int(minute or 0),
                    int(second or 0),
                    0,
                    0,
                    0,
                )
            )
        )
    except (ValueError, OverflowError):
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return float(stamp)


def query_time(value: str | None, name: str, doc: str) -> float | None:
    """A ``since``/``until`` query parameter; GitHub refuses one not in ISO 8601."""
    if value is None:
        return None
    stamp = parse_time(value)
    if stamp is None:
        raise ApiError(
            422,
            f"The {name} parameter needs to be in ISO 8601 format: YYYY-MM-DDTHH:MM:SSZ",
            doc=doc,
        )
    return stamp


def query_choice(
    value: str | None, name: str, choices: Iterable[str], default: str, resource: str, doc: str
) -> str:
    """An enum query parameter (``state``, ``sort``, ``direction``); a value outside it is a
    422 naming the field (the fake refuses what a client should never send)."""
    if value is None or value == "":
        return default
    if value not in choices:
        raise validation_failed(
            doc, {"value": value, "resource": resource, "field": name, "code": "invalid"}
        )
    return value


def http_date(stamp: float) -> str:
    """An RFC 7231 date, as in Last-Modified."""
    return formatdate(stamp, usegmt=True)


def parse_http_date(value: str) -> float | None:
    """An If-Modified-Since date as epoch seconds; None when it does not parse."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def weak_etag(content: bytes, variant: str) -> str:
    """A weak validator over the body and what the answer varies by (Accept, the caller)."""
    digest = hashlib.sha256(variant.encode() + b"\0" + content).hexdigest()
    return f'W/"{digest}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 7232 weak comparison of an If-None-Match list against the current tag."""
    tags = [tag.strip() for tag in if_none_match.split(",")]
    bare = etag.removeprefix("W/")
    return "*" in tags or any(tag.removeprefix("W/") == bare for tag in tags)


@dataclass(frozen=True)
class Page:
    """One page of a list: the items shown and the numbers the Link header needs."""

    items: list[Any]
    page: int
    last: int


def paginate(items: Sequence[Any], per_page: str | None, page: str | None) -> Page:
    """Cut a list as GitHub does: 30 a page by default, at most 100, pages from 1.

    A per_page or page that is not a positive integer falls back to the default.
    """
    size = _positive(per_page, DEFAULT_PER_PAGE)
    size = min(size, MAX_PER_PAGE)
    number = _positive(page, 1)
    last = max(1, -(-len(items) // size))
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, last)


def _positive(value: str | None, default: int) -> int:
    if value is None or not value.strip().isdigit() or int(value) < 1:
        return default
    return int(value)


def link_header(url: str, params: Sequence[tuple[str, str]], page: Page) -> str | None:
    """RFC 8288 ``Link`` with prev, next, last and first, in GitHub's order; None when the
    whole list fits on one page (GitHub then sends no Link header)."""
    if page.last <= 1 and page.page <= 1:
        return None
    kept = [(k, v) for k, v in params if k != "page"]

    def at(number: int) -> str:
        return f"{url}?{urlencode([*kept, ('page', str(number))])}"

    links = []
    if page.page > 1:
        links.append(f'<{at(min(page.page - 1, page.last))}>; rel="prev"')
    if page.page < page.last:
        links.append(f'<{at(page.page + 1)}>; rel="next"')
        links.append(f'<{at(page.last)}>; rel="last"')
    if page.page > 1:
        links.append(f'<{at(1)}>; rel="first"')
    return ", ".join(links)


def unsupported_version(value: str) -> ApiError:
    """The 400 GitHub answers for an X-GitHub-Api-Version it does not serve."""
    newest, *rest = sorted(API_VERSIONS, reverse=True)
    listed = ", ".join([f'"{newest}" (most recent)', *(f'"{v}"' for v in rest)])
    return ApiError(
        400,
        f'The version you specified in the "X-GitHub-API-Version" request header, "{value}", '
        f"is not a supported version. The following versions are currently supported: "
        f"{listed}.",
        doc=f"{DOCS}/about-the-rest-api/api-versions",
    )


def primary_limited(who: str, rid: str, now: float, user: bool) -> ApiError:
    """The 403 for a spent primary rate limit, worded for a user or an IP address."""
    if user:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        message = (
            f"API rate limit exceeded for user ID {who}. If you reach out to GitHub Support "
            f"for help, please include the request ID {rid} and timestamp {stamp} UTC."
        )
    else:
        message = (
            f"API rate limit exceeded for {who}. (But here's the good news: Authenticated "
            "requests get a higher rate limit. Check out the documentation for more details.)"
        )
    return ApiError(403, message, doc=RATE_DOCS)


def base64_lines(data: bytes) -> str:
    """Base64 wrapped at 60 characters with a newline after each line, as GitHub sends a
    blob's or a file's content."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


__all__ = [
    "API_VERSIONS",
    "DOCS",
    "NOT_ACCESSIBLE",
    "USER_AGENT_REQUIRED",
    "Answer",
    "ApiError",
    "Page",
    "body_fields",
    "doc_url",
    "etag_matches",
    "http_date",
    "link_header",
    "not_found",
    "paginate",
    "parse_body",
    "parse_time",
    "primary_limited",
    "query_choice",
    "query_time",
    "unsupported_version",
    "validation_failed",
    "weak_etag",
]
