"""LinkedIn's rules for the fake: settings, error JSON, version and header checks, "little" text.

Written from PLATFORM_PROTOCOLS.md §5 and LinkedIn's documented error bodies, never from the
client, so the two cannot share a misreading.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from crosspost.fakes.base import Account

MIB = 1024 * 1024
PART_BYTES = 4 * MIB
_VERSION = re.compile(r"(\d{6})(?:\.\d{2})?")
_RESERVED = "\\|{}@[]()<>#*_~"


@dataclass(frozen=True)
class LinkedInLimits:
    """The fake's LinkedIn settings; defaults follow LinkedIn's documentation."""

    access_ttl_seconds: int = 60 * 86400  # access tokens live 60 days
    refresh_ttl_seconds: int = 365 * 86400  # from the original consent; refresh never extends
    oldest_version: str = "202511"  # LinkedIn serves a monthly version for about a year
    newest_version: str = "202611"
    upload_url_ttl_seconds: float = 86400.0  # [U] uploadUrlsExpireAt is about a day ahead
    min_video_bytes: int = 75 * 1024
    max_video_bytes: int = 500 * MIB
    commentary_max_chars: int = 3000
    # Organizations every consented member administers (to post as `urn:li:organization:N`).
    organizations: tuple[str, ...] = ()


def li_error(
    status: int, code: str, message: str, service_error_code: int | None = None
) -> JSONResponse:
    """LinkedIn's error JSON: ``{"status","serviceErrorCode"?,"code","message"}``."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_error_code is not None:
        body["serviceErrorCode"] = service_error_code
    return JSONResponse(body, status_code=status)


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """www.linkedin.com/oauth/v2's error shape."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def check_version(header: str | None, limits: LinkedInLimits) -> JSONResponse | None:
    """LinkedIn's answer to a missing, malformed or sunset ``LinkedIn-Version``, else None."""
    if not header:
        return li_error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
        )
    match = _VERSION.fullmatch(header.strip())
    if match is None:
        return li_error(400, "INVALID_VERSION", f"Invalid version format: {header}")
    if not limits.oldest_version <= match[1] <= limits.newest_version:
        return li_error(426, "NONEXISTENT_VERSION", f"Requested version {header} is not active")
    return None


def check_restli(request: Request) -> JSONResponse | None:
    """Rest.li 2.0 is required on ``/rest/``: its URN encoding rules differ from 1.0's."""
    if request.headers.get("x-restli-protocol-version") != "2.0.0":
        return li_error(
            400,
            "ILLEGAL_ARGUMENT",
            "X-Restli-Protocol-Version: 2.0.0 is required for this resource.",
        )
    return None


def render_little(commentary: str) -> tuple[str, bool]:
    """What LinkedIn would show for "little" `commentary`: (text, cut short).

    A backslash escapes the next character; ``#word`` is a hashtag. Any other unescaped
    reserved character is where LinkedIn silently cuts the post.
    """
    out: list[str] = []
    index = 0
    while index < len(commentary):
        char = commentary[index]
        if char == "\\" and index + 1 < len(commentary):
            out.append(commentary[index + 1])
            index += 2
            continue
        if char == "#" and index + 1 < len(commentary) and commentary[index + 1].isalnum():
            out.append(char)
            index += 1
            continue
        if char in _RESERVED:
            return "".join(out), True
        out.append(char)
        index += 1
    return "".join(out), False


def person_urn(account: Account) -> str:
    """The member URN of a fake account."""
    return f"urn:li:person:{account.external_id}"


def may_act_as(account: Account, urn: object, limits: LinkedInLimits) -> bool:
    """Whether the member may own media / author posts as `urn` (self or an administered org)."""
    if urn == person_urn(account):
        return True
    prefix = "urn:li:organization:"
    return (
        isinstance(urn, str)
        and urn.startswith(prefix)
        and urn[len(prefix) :] in (limits.organizations)
    )


@dataclass
class Part:
    """One upload instruction and what arrived for it."""

    first: int
    last: int
    token: str
    etag: str | None = None


@dataclass
class Video:
    """A video asset: initialized, its parts uploaded, finalized, then processed."""

    urn: str
    owner: str
    account: Account
    size: int
    upload_token: str
    created_at: float
    expires_at: float
    parts: list[Part]
    folder: Path
    finalized_at: float | None = None
    processing_seconds: float = 0.0
    fails: bool = False
    sha256: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def received(self) -> int:
        """Bytes of the parts that fully arrived."""
        return sum(p.last - p.first + 1 for p in self.parts if p.etag)


@dataclass
class Post:
    """A created post."""

    urn: str
    author: str
    account: Account
    commentary: str
    text: str
    truncated: bool
    visibility: str
    video: Video | None
    title: str | None
    created_at: float
    body: dict[str, Any]
    images: list[str] = field(default_factory=list)  # the image URNs of an image post


def check_post_body(body: dict[str, Any], limits: LinkedInLimits) -> tuple[int, str, str] | None:
    """Why a ``POST /rest/posts`` body is refused: (status, code, message), or None."""
    for name in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
        if name not in body:
            return (
                422,
                "UNPROCESSABLE_ENTITY",
                f"ERROR :: /{name} :: field is required but not found",
            )
    commentary = body["commentary"]
    if not isinstance(commentary, str):
        return 422, "UNPROCESSABLE_ENTITY", "ERROR :: /commentary :: expected a string"
    if body["visibility"] not in {"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"}:
        return 422, "UNPROCESSABLE_ENTITY", "ERROR :: /visibility :: invalid enum value"
    distribution = body["distribution"]
    if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in {
        "MAIN_FEED",
        "NONE",
    }:
        return 422, "UNPROCESSABLE_ENTITY", "ERROR :: /distribution/feedDistribution :: invalid"
    if body["lifecycleState"] not in {"PUBLISHED", "DRAFT"}:
        return 422, "UNPROCESSABLE_ENTITY", "ERROR :: /lifecycleState :: invalid enum value"
    if "isReshareDisabledByAuthor" in body and not isinstance(
        body["isReshareDisabledByAuthor"], bool
    ):
        return 422, "UNPROCESSABLE_ENTITY", "ERROR :: /isReshareDisabledByAuthor :: not a boolean"
    text, _ = render_little(commentary)
    if len(text) > limits.commentary_max_chars:
        return (
            422,
            "UNPROCESSABLE_ENTITY",
            f"ERROR :: /commentary :: length exceeds {limits.commentary_max_chars} characters",
        )
    return None
