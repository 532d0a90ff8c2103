"""The contract every platform client offers the engine.

A client is a small step machine over its platform's real protocol. The engine calls
`step` repeatedly; each call performs one protocol interaction (start a session, send one
chunk, poll once, publish) and returns the new persisted `session` dict, which the engine
saves (fenced) before the next call. A worker that dies therefore resumes from the last
saved session rather than starting over.

Irreversible calls (the one that makes the post exist) happen only in a phase listed in
`commit_phases`. Before such a step the engine records `session["commit_attempted"] = True`;
if the worker dies or the answer is lost, the next run calls `reconcile` instead of `step`.
When a commit retried after such an unknown outcome is refused because the content is
already there (`AlreadyExists`), the engine asks `find_existing` for that post and adopts it.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import httpx

from crosspost.clock import Clock, SystemClock
from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits, Rate
from crosspost.platforms.errors import AlreadyExists, PlatformError, UnsupportedPostType
from crosspost.platforms.options import PlatformOptions


@dataclass(frozen=True)
class MediaFile:
    """A stored media file as a client sees it: where its bytes are read from (a local path,
    or an opener of a seekable stream from the media store) plus what probing found."""

    source: Path | Callable[[], BinaryIO]
    size: int
    content_type: str
    kind: MediaKind
    filename: str
    sha256: str
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None

    def _open(self) -> BinaryIO:
        return self.source.open("rb") if isinstance(self.source, Path) else self.source()

    def open(self) -> BinaryIO:
        """Open the file for reading (binary); a file shorter than recorded is refused."""
        fh = self._open()
        stored = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        if stored < self.size:
            fh.close()
            raise self._cut_short(stored)
        return fh

    def _cut_short(self, end: int) -> PlatformError:
        # Shorter than probed and recorded at upload: sending it would stall an upload on a
        # short body or put a cut file on the platform. Re-sending cannot mend it.
        return PlatformError(
            ErrorKind.PERMANENT,
            "media_truncated",
            f"the stored media file ends at byte {end}, short of the {self.size} bytes "
            "recorded at upload; upload the media again",
        )

    def read_range(self, start: int, length: int) -> bytes:
        """Read `length` bytes from `start`; chunk-sized reads keep memory bounded."""
        with self._open() as fh:
            fh.seek(start)
            return fh.read(length)

    def iter_range(self, start: int, length: int, piece: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream `length` bytes from `start` in pieces, never holding more than one piece."""
        with self._open() as fh:
            fh.seek(start)
            left = length
            while left > 0:
                data = fh.read(min(piece, left))
                if not data:
                    raise self._cut_short(start + length - left)
                left -= len(data)
                yield data


@dataclass(frozen=True)
class PublishRequest:
    """What to publish on one account; immutable for the life of a target."""

    target_id: str
    account_external_id: str
    account_handle: str
    text: str
    options: dict[str, Any]
    media: MediaFile | None
    publish_at: datetime | None = None
    media_url: str | None = None  # signed, expiring URL for pull-based platforms
    thumbnail: MediaFile | None = None  # a custom cover image, where the platform takes one
    # A post of several media (a carousel): every item in order, `media` then None; and for
    # platforms that fetch media themselves, each item's signed URL.
    items: tuple[MediaFile, ...] = ()
    item_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommentRequest:
    """A first comment to post under one of our published posts."""

    target_id: str
    post_external_id: str
    account_external_id: str
    account_handle: str
    text: str


@dataclass
class Credentials:
    """An account's OAuth tokens, decrypted for the duration of one job step."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AppCredentials:
    """The OAuth client (app) an account posts through."""

    client_id: str | None
    client_secret: str | None = field(repr=False)
    token_url: str
    code_url: str | None = None  # where a consent's code is traded, when not at token_url
    revoke_url: str | None = None  # where a grant is revoked; None: the platform has no way


@dataclass
class StepResult:
    """What one step achieved; `session` replaces the persisted session."""

    session: dict[str, Any]
    status: TargetStatus
    wait_seconds: float = 0.0
    external_id: str | None = None
    external_url: str | None = None
    bytes_sent: int | None = None
    bytes_total: int | None = None
    event: str | None = None
    event_data: dict[str, Any] = field(default_factory=dict)


class PlatformClient(abc.ABC):
    """Base of every platform client; subclasses speak one platform's protocol."""

    platform: ClassVar[Platform]
    # One entry per kind of post (POST_KINDS): its limits, or why the platform has no such post.
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]]
    # What one post of several media (`media_ids`) may hold here, or why there is no such post.
    carousel: ClassVar[CarouselLimits] = CarouselLimits(
        refusal="this platform takes one media file per post: post the files separately"
    )
    # The options (`overrides.<platform>`) this client reads; the API accepts exactly these.
    options_model: ClassVar[type[PlatformOptions]]
    commit_phases: ClassVar[frozenset[str]]
    # OAuth linking: what the consent page is asked for, and how the client is named.
    oauth_scopes: ClassVar[tuple[str, ...]] = ()
    scope_separator: ClassVar[str] = " "
    client_id_param: ClassVar[str] = "client_id"
    authorize_extra: ClassVar[dict[str, str]] = {}
    basic_client_auth: ClassVar[bool] = False  # the token endpoint wants HTTP Basic
    # Why the platform's API cannot take a published post down, said to the customer as is;
    # set by clients whose platform has no deletion (the others override `delete_post`).
    delete_refusal: ClassVar[str | None] = None

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        chunk_bytes: int = 8 * 1024 * 1024,
        poll_seconds: float = 15.0,
        clock: Clock | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.chunk_bytes = chunk_bytes
        self.poll_seconds = poll_seconds
        self.clock: Clock = clock or SystemClock()

    @classmethod
    def limits_for(cls, kind: MediaKind | None) -> MediaLimits:
        """The limits for a post of this media kind (None: text only); some platforms differ
        by post type. Checked when the post is created and again before any byte is sent."""
        return cls.post_types[kind]

    @classmethod
    def refuse_unsupported(cls, media: MediaFile | None) -> None:
        """Raise UnsupportedPostType, with the platform's reason, for a kind of post it lacks."""
        refusal = cls.limits_for(media.kind if media is not None else None).refusal
        if refusal is not None:
            raise UnsupportedPostType(refusal)

    @abc.abstractmethod
    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next protocol interaction; raise PlatformError on a classified failure."""

    @abc.abstractmethod
    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Find out whether an unconfirmed commit created the post; never create it again.

        Returns a published result when the post exists, or a session positioned so that the
        next `step` safely completes the work (with `commit_attempted` cleared).
        """

    def find_existing(
        self,
        request: PublishRequest,
        session: dict[str, Any],
        creds: Credentials,
        *,
        refusal: AlreadyExists,
        since: datetime,
    ) -> StepResult | None:
        """The post a retried commit was refused as a duplicate of, made by our own earlier
        commit (attempted no earlier than `since`): a published result, or None when the
        platform does not show it (yet). Never creates anything."""
        return None

    @abc.abstractmethod
    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """Exchange the refresh token for a new access token (keeping the old refresh token
        when the platform returns none); raise PlatformError(AUTH, "invalid_grant") if dead."""

    def revoke(self, creds: Credentials, app: AppCredentials) -> bool:
        """Revoke the user's grant to our app at the platform (a disconnect); True when the
        platform confirmed it. Raises PlatformError(PERMANENT, "unsupported_operation") for a
        platform that offers no revocation."""
        raise PlatformError(
            ErrorKind.PERMANENT,
            "unsupported_operation",
            f"{self.platform.value} offers no API to revoke an app's access; the user can "
            "remove the app in their account settings",
        )

    def delete_post(self, external_id: str, creds: Credentials) -> bool:
        """Take a published post down by its platform id: True when this call deleted it,
        False when the platform says it was already gone. Raises PlatformError(PERMANENT,
        "unsupported_operation") where the platform's API cannot delete (`delete_refusal`)."""
        raise PlatformError(
            ErrorKind.PERMANENT,
            "unsupported_operation",
            self.delete_refusal
            or f"{self.platform.value} offers no API to delete a published post",
        )

    def delete_budgets(self) -> tuple[Rate, ...]:
        """The documented call limits one `delete_post` spends from."""
        return ()

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """A published post's counts now, under normalised names (`views`, `likes`,
        `comments`, `shares`, those the platform reports) plus the platform's own extras;
        `author` is the publishing account's platform id (LinkedIn asks differently for an
        organization's posts). Raises PostGone when the platform no longer has the post."""
        raise PlatformError(
            ErrorKind.PERMANENT,
            "unsupported_operation",
            f"{self.platform.value} offers no API for a post's metrics",
        )

    def metrics_budgets(self) -> tuple[Rate, ...]:
        """The documented call limits one `fetch_metrics` spends from."""
        return ()

    def declared_budgets(self) -> tuple[Rate, ...]:
        """Every budget `budgets` may spend from, to show where an account stands."""
        return ()

    def budgets(self, request: PublishRequest, session: dict[str, Any]) -> tuple[Rate, ...]:
        """The documented call limits the next `step` (or `reconcile`) spends from; the
        engine reserves them across all workers first and waits instead of risking a 429."""
        return ()

    def exchange_code(
        self, app: AppCredentials, *, code: str, verifier: str, redirect_uri: str
    ) -> Credentials:
        """Trade a consent's code and PKCE verifier for tokens (RFC 6749's grant by default)."""
        # oauth.py builds on this module, so it is imported when first needed.
        from crosspost.platforms import oauth  # noqa: PLC0415

        return oauth.exchange_code(
            self, app, code=code, verifier=verifier, redirect_uri=redirect_uri
        )

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """(platform user id, handle) of the token's owner: validates a new connection."""
        raise PlatformError(
            ErrorKind.PERMANENT,
            "oauth_not_supported",
            f"connecting {self.platform.value} accounts by OAuth is not available yet; import "
            "existing tokens with POST /v1/accounts",
        )

    def post_comment(self, request: CommentRequest, creds: Credentials) -> str:
        """Post the first comment under our published post: one irreversible call; the
        comment's id. AlreadyExists when the platform refuses it as a duplicate."""
        raise PlatformError(
            ErrorKind.PERMANENT,
            "unsupported_operation",
            f"{self.platform.value} takes no comments through its API",
        )

    def find_comment(
        self, request: CommentRequest, creds: Credentials, *, since: datetime
    ) -> str | None:
        """The id of our comment with the request's text under the post, made no earlier
        than `since` (an attempt whose answer was lost), or None. Never posts anything."""
        return None

    def comment_budgets(self) -> tuple[Rate, ...]:
        """The documented call limits one `post_comment` (or `find_comment`) spends from."""
        return ()

    def is_commit(self, session: dict[str, Any]) -> bool:
        """True when the next `step` would perform the irreversible call."""
        return session.get("phase") in self.commit_phases


def upload_step(
    session: dict[str, Any], previous: dict[str, Any], offset: int, total: int
) -> StepResult:
    """An `uploading` result at `offset`, with an `upload_progress` event every 10 %."""
    result = StepResult(session, TargetStatus.UPLOADING, bytes_sent=offset, bytes_total=total)
    decile = offset * 10 // total if total else 10
    if decile > int(previous.get("progress_decile", 0)):
        session["progress_decile"] = decile
        result.event = "upload_progress"
        result.event_data = {"bytes_sent": offset, "bytes_total": total}
    return result


def poll_step(session: dict[str, Any], wait_seconds: float, **event_data: Any) -> StepResult:
    """A `processing` result that polls again after `wait_seconds`; the first poll of a
    session also records a `processing` event carrying `event_data`."""
    polls = int(session.get("polls", 0))
    result = StepResult({**session, "polls": polls + 1}, TargetStatus.PROCESSING, wait_seconds)
    if polls == 0:
        result.event = "processing"
        result.event_data = dict(event_data)
    return result


def counts_from(source: object, names: Mapping[str, str]) -> dict[str, int]:
    """Our name → the platform's count under `names[ours]`, for every count `source` (a JSON
    object) holds as an integer or an integer string (YouTube sends strings); others are
    left out rather than guessed."""
    if not isinstance(source, Mapping):
        return {}
    found: dict[str, int] = {}
    for ours, theirs in names.items():
        value = source.get(theirs)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            found[ours] = value
        elif isinstance(value, str) and value.isdigit():
            found[ours] = int(value)
    return found
