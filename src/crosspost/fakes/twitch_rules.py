"""Twitch's rules as the Twitch fake enforces them: both error envelopes, Get Clips' query
parameters, signed cursors, the rate-limit bucket, app tokens, the control routes' bodies, and
the sample channel with its media.

Written from Twitch's API reference and guide (dev.twitch.tv/docs/api) and the error bodies
developers report, never from our client. Twitch documents status codes, not wording: quoted from
real responses are Helix's "OAuth token is missing", "Invalid OAuth token", "Client ID is
missing", "Client ID and OAuth token do not match" and the 503 with an empty message, and
id.twitch.tv's "missing client secret", "invalid client secret" and "Invalid refresh token". The
other messages are the fake's own, in the same style; clients must not match on them.
"""

from __future__ import annotations

import array
import base64
import hashlib
import hmac
import html
import json
import math
import random
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.audio.stream
import av.video.codeccontext
import av.video.stream
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import drain, iso_time

FIRST_DEFAULT, FIRST_MAX = 20, 100
MAX_CLIP_IDS = 100  # Get Clips: "id ... Limit: 100"
MAX_DOWNLOAD_IDS = 10  # Get Clips Download: "up to a maximum of 10 clips"
MAX_USERS = 100  # Get Users: ids and logins together
DEFAULT_WINDOW = 7 * 86400.0  # started_at alone: "ended_at ... will be 1 week after"
DOWNLOAD_SCOPES = ("editor:manage:clips", "channel:manage:clips")
KNOWN_SCOPES = frozenset(
    {
        *DOWNLOAD_SCOPES,
        "clips:edit",
        "user:read:email",
        "channel:read:editors",
        "channel:manage:videos",
        "channel:manage:broadcast",
    }
)
SANDBOX_LOGIN, SANDBOX_BROADCASTER_ID = "sandbox_streamer", "902146731"  # the demo channel
SOFTWARE_GAME_ID = "1469308723"  # the "Software and Game Development" category
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # noqa: S105 - an alphabet, not a secret
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


class HelixError(Exception):
    """An answer in Helix's envelope: ``{"error": <reason>, "status": n, "message": ...}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def response(self) -> JSONResponse:
        """The error as api.twitch.tv sends it."""
        body = {"error": REASONS.get(self.status, "Error"), "status": self.status}
        return JSONResponse({**body, "message": self.message}, self.status, self.headers)


def id_error(status: int, message: str) -> JSONResponse:
    """An id.twitch.tv error: ``{"status": n, "message": ...}`` (no "error" key there)."""
    return JSONResponse({"status": status, "message": message}, status_code=status)


def single(params: QueryParams, name: str) -> str | None:
    """A parameter that may appear at most once; an empty value counts as absent."""
    values = params.getlist(name)
    if len(values) > 1:
        raise HelixError(400, f'The parameter "{name}" may only be specified once')
    return values[0] if values and values[0] != "" else None


def rfc3339(name: str, value: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp; 400 naming the parameter otherwise."""
    if not _RFC3339.fullmatch(value):
        # An unencoded "+" in the offset arrives as a space: malformed, as it is for Twitch.
        raise HelixError(
            400, f'The parameter "{name}" was malformed: the value must be a RFC3339 timestamp'
        )
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp()


def first_of(params: QueryParams) -> int:
    """The page size: 1-100, default 20."""
    raw = single(params, "first")
    if raw is None:
        return FIRST_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= FIRST_MAX:
        raise HelixError(
            400,
            f'The parameter "first" was malformed: the value must be '
            f"between 1 and {FIRST_MAX} (inclusive)",
        )
    return int(raw)


@dataclass(frozen=True)
class User:
    """A Twitch user the fake knows (the streamer, clip creators, accounts tests mint)."""

    id: str
    login: str
    display_name: str
    created_at: float
    broadcaster_type: str = ""
    description: str = ""

    def as_json(self, email: str | None = None) -> dict[str, Any]:
        """Get Users' shape; `email` only for a token with user:read:email on its own user."""
        body: dict[str, Any] = {
            "id": self.id, "login": self.login, "display_name": self.display_name, "type": "",
            "broadcaster_type": self.broadcaster_type, "description": self.description,
            "profile_image_url": f"https://static-cdn.jtvnw.net/user-default-pictures-uv/{self.id}-profile_image-300x300.png",
            "offline_image_url": "", "view_count": 0, "created_at": iso_time(self.created_at),
        }  # fmt: skip
        return body if email is None else {**body, "email": email}


@dataclass(frozen=True)
class Clip:
    """A clip; names come from the users table when it is rendered."""

    id: str
    broadcaster_id: str
    creator_id: str
    title: str
    created_at: float
    view_count: int
    duration: float
    is_featured: bool = False
    video_id: str = ""
    vod_offset: int | None = None
    game_id: str = SOFTWARE_GAME_ID
    language: str = "en"
    missing_media: bool = False  # the download URL then 404s (a test's broken clip)

    def sort_key(self) -> tuple[int, str]:
        """Get Clips orders by view count, most first; the id breaks ties."""
        return (-self.view_count, self.id)

    def as_json(self, users: dict[str, User], base: str) -> dict[str, Any]:
        """Get Clips' shape, with thumbnails served by the fake under `base`."""
        broadcaster, creator = users[self.broadcaster_id], users[self.creator_id]
        return {
            "id": self.id, "url": f"https://clips.twitch.tv/{self.id}",
            "embed_url": f"https://clips.twitch.tv/embed?clip={self.id}",
            "broadcaster_id": self.broadcaster_id, "broadcaster_name": broadcaster.display_name,
            "creator_id": self.creator_id, "creator_name": creator.display_name,
            "video_id": self.video_id, "game_id": self.game_id, "language": self.language,
            "title": self.title, "view_count": self.view_count,
            "created_at": iso_time(self.created_at),
            "thumbnail_url": f"{base}/cdn/thumbs/{self.id}-preview-480x272.jpg",
            "duration": self.duration, "vod_offset": self.vod_offset,
            "is_featured": self.is_featured,
        }  # fmt: skip


@dataclass(frozen=True)
class ClipQuery:
    """A validated Get Clips request."""

    broadcaster_id: str | None
    game_id: str | None
    ids: tuple[str, ...]
    started_at: float | None
    ended_at: float | None
    is_featured: bool | None
    first: int
    after: str | None
    before: str | None

    def fingerprint(self) -> str:
        """What a cursor is bound to: the filters, not the page size."""
        key = [self.broadcaster_id, self.game_id, self.started_at, self.ended_at, self.is_featured]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    def matches(self, clip: Clip) -> bool:
        """Whether `clip` is in the result set (before paging)."""
        if self.broadcaster_id is not None and clip.broadcaster_id != self.broadcaster_id:
            return False
        if self.game_id is not None and clip.game_id != self.game_id:
            return False
        if self.is_featured is not None and clip.is_featured != self.is_featured:
            return False
        if self.started_at is not None and self.ended_at is not None:
            return self.started_at <= clip.created_at < self.ended_at
        return True


def clip_query(params: QueryParams) -> ClipQuery:
    """Validate Get Clips' query as the reference describes it; HelixError(400) otherwise."""
    broadcaster_id, game_id = single(params, "broadcaster_id"), single(params, "game_id")
    ids = tuple(v for v in params.getlist("id") if v)
    if sum(1 for given in (broadcaster_id, game_id, ids) if given) != 1:
        # "The id, game_id, and broadcaster_id query parameters are mutually exclusive."
        raise HelixError(400, "Exactly one of broadcaster_id, game_id or id must be specified")
    if len(ids) > MAX_CLIP_IDS:
        raise HelixError(400, f"The number of id values may not exceed {MAX_CLIP_IDS}")
    after, before = single(params, "after"), single(params, "before")
    started, ended = single(params, "started_at"), single(params, "ended_at")
    if after and before:
        raise HelixError(400, "Only one of after or before may be specified")
    if ids and (after or before or started or ended):
        # The reference scopes cursors and the date window to broadcaster_id and game_id.
        raise HelixError(
            400, "after, before, started_at and ended_at apply only to broadcaster_id or game_id"
        )
    start = rfc3339("started_at", started) if started else None
    end = rfc3339("ended_at", ended) if ended else None
    if start is not None:
        # "Note that the seconds value is ignored": the window runs from whole minutes.
        start = start - start % 60
        end = start + DEFAULT_WINDOW if end is None else end - end % 60
        if end <= start:
            raise HelixError(400, "ended_at must be later than started_at")
    else:
        end = None  # ended_at alone: "the time period is ignored", as documented
    featured = single(params, "is_featured")
    if featured not in (None, "true", "false"):
        raise HelixError(
            400, 'The parameter "is_featured" was malformed: the value must be a boolean'
        )
    return ClipQuery(
        broadcaster_id, game_id, ids, start, end, None if featured is None else featured == "true",
        first_of(params), after, before,
    )  # fmt: skip


class Cursors:
    """Opaque, tamper-evident page cursors: base64url(JSON) plus an HMAC over it.

    Like Twitch's (base64 of ``{"b": ..., "a": ...}``) a cursor holds both edges of the page
    it came with, so ``after`` continues past its last clip and ``before`` returns to just ahead
    of its first. The edges are sort keys, not offsets, so clips added meanwhile never shift a
    page or repeat one.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, query: str, first: Clip, last: Clip) -> str:
        """The cursor of a page running from `first` to `last`, bound to the query."""
        payload = json.dumps({"q": query, "b": first.sort_key(), "a": last.sort_key()})
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, value: str, query: str, name: str) -> tuple[int, str]:
        """The edge of the page a cursor names on the side `name` ("after"/"before")."""
        body, _, signature = value.partition(".")
        try:
            if not hmac.compare_digest(signature, self._sign(body)):
                raise ValueError("bad signature")
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            if payload["q"] != query:
                raise ValueError("issued for another query")
            edge = payload["a" if name == "after" else "b"]
            return (int(edge[0]), str(edge[1]))
        except (ValueError, KeyError, TypeError, IndexError):
            raise HelixError(400, f'The parameter "{name}" was malformed: invalid cursor') from None

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


class TokenBucket:
    """Twitch's rate limit: a bucket of points that refills continuously over a minute."""

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity, self.points, self._at = capacity, float(capacity), now

    def take(self, now: float, cost: int = 1) -> tuple[bool, dict[str, str]]:
        """Spend `cost` points if there are enough; the Ratelimit-* headers either way."""
        rate = self.capacity / 60.0
        self.points = min(self.capacity, self.points + (now - self._at) * rate)
        self._at = now
        allowed = self.points >= cost
        if allowed:
            self.points -= cost
        reset = math.ceil(now + (self.capacity - self.points) / rate)
        return allowed, {
            "Ratelimit-Limit": str(self.capacity),
            "Ratelimit-Remaining": str(math.floor(self.points)),
            "Ratelimit-Reset": str(reset),  # epoch seconds when the bucket is full again
        }


# -- tokens and request bodies -----------------------------------------------------------------


class AppTokens:
    """App access tokens from the client credentials grant: no user, no scopes, no refresh."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._live: dict[str, tuple[str, float]] = {}

    def issue(self, client_id: str, ttl: int) -> str:
        """A new token for `client_id`, living `ttl` seconds."""
        token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(30))
        self._live[token] = (client_id, self._clock() + ttl)
        return token

    def live(self, token: str) -> tuple[str, float] | None:
        """The client and expiry of an unexpired token."""
        entry = self._live.get(token)
        return entry if entry is not None and self._clock() < entry[1] else None

    def revoke(self, token: str) -> bool:
        """Forget a token; False when it was unknown."""
        return self._live.pop(token, None) is not None

    def expire_all(self) -> None:
        """Every token issued so far is now expired."""
        now = self._clock()
        self._live = {t: (c, min(exp, now)) for t, (c, exp) in self._live.items()}

    def clear(self) -> None:
        """Forget every token."""
        self._live.clear()


def download_request(
    params: QueryParams, user_id: str, editors: dict[str, set[str]]
) -> tuple[str, list[str]]:
    """Get Clips Download's broadcaster and clip ids, once the editor may fetch them."""
    editor_id, broadcaster_id = single(params, "editor_id"), single(params, "broadcaster_id")
    clip_ids = list(dict.fromkeys(v for v in params.getlist("clip_id") if v))
    for name, value in (
        ("editor_id", editor_id),
        ("broadcaster_id", broadcaster_id),
        ("clip_id", clip_ids),
    ):
        if not value:
            raise HelixError(400, f'Missing required parameter "{name}"')
    if len(clip_ids) > MAX_DOWNLOAD_IDS:
        raise HelixError(400, f"The number of clip_id values may not exceed {MAX_DOWNLOAD_IDS}")
    if editor_id != user_id:
        raise HelixError(
            401,
            "The ID in editor_id must match the user ID found in the request's OAuth token.",
        )
    if editor_id != broadcaster_id and editor_id not in editors.get(str(broadcaster_id), set()):
        raise HelixError(403, "The user in editor_id is not one of the broadcaster's editors.")
    return str(broadcaster_id), clip_ids


async def form_fields(request: Request) -> dict[str, str] | Response:
    """The form fields of an id.twitch.tv request (url-encoded or multipart, as curl -F sends)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        await drain(request)
        return id_error(400, "the request body must be form-encoded")
    async with request.form() as form:
        return {key: value for key, value in form.items() if isinstance(value, str)}


async def json_object(request: Request) -> dict[str, Any] | Response:
    """A control route's JSON object body, or the 400 saying why not."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    return body


def is_count(value: Any) -> bool:
    """An int (not a bool) >= 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_seconds(value: Any) -> bool:
    """A number of seconds a clip may last: (0, 60]."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and 0 < value <= 60


def first_problem(*checks: tuple[bool, str]) -> str | None:
    """The message of the first failed check of a control route's body."""
    return next((message for failed, message in checks if failed), None)


def fault_request(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The faults a ``/_fake/faults`` body queues, and whether it expires tokens."""
    status, count, where = body.get("status"), body.get("count", 1), body.get("where", "helix")
    expire = body.get("expire_tokens", False)
    problem = first_problem(
        (status not in (None, 429, 500, 503), "status must be 429, 500 or 503"),
        (not (is_count(count) and count >= 1), "count must be a positive integer"),
        (where not in ("helix", "cdn"), "where must be 'helix' or 'cdn'"),
        (not isinstance(expire, bool), "expire_tokens must be a boolean"),
        (status is None and expire is not True, "give a status or expire_tokens"),
    )
    if problem:
        raise ValueError(problem)
    return ([] if status is None else [{"status": status, "where": where}] * count), expire


@dataclass(frozen=True)
class AccountRequest:
    """A ``/_fake/accounts`` body: who consents, to which scopes, as whose editor."""

    login: str
    scopes: tuple[str, ...]
    editor_of: tuple[str, ...]
    access_ttl: int


def account_request(body: dict[str, Any], default_ttl: int) -> AccountRequest:
    """Validate a ``/_fake/accounts`` body ("handle" is accepted for "login"); ValueError."""
    login = body.get("login", body.get("handle"))
    scopes, editor_of = body.get("scopes", ["channel:manage:clips"]), body.get("editor_of", [])
    ttl = body.get("access_ttl_seconds", default_ttl)
    problem = first_problem(
        (not isinstance(login, str) or not login, "login must be a non-empty string"),
        (not isinstance(scopes, list) or not set(map(str, scopes)) <= KNOWN_SCOPES,
         f"scopes must be a list of known scopes: {sorted(KNOWN_SCOPES)}"),
        (not isinstance(editor_of, list) or not all(isinstance(b, str) for b in editor_of),
         "editor_of must be a list of user ids"),
        (not is_count(ttl), "access_ttl_seconds must be an integer >= 0"),
    )  # fmt: skip
    if problem:
        raise ValueError(problem)
    return AccountRequest(
        str(login).lower(), tuple(dict.fromkeys(map(str, scopes))), tuple(editor_of), int(ttl)
    )


def consent_page(url: str, scopes: tuple[str, ...]) -> str:
    """The authorize page a person sees: Authorize or Cancel (links back with ``consent=``)."""
    here, asked = html.escape(url), html.escape(" ".join(scopes))
    return (
        f"<h1>Allow crosspost to access your Twitch account?</h1><p>{asked}</p>"
        f'<p><a href="{here}&amp;consent=allow">Authorize</a> '
        f'<a href="{here}&amp;consent=deny">Cancel</a></p>'
    )


def shade(clip_id: str) -> int:
    """A clip's own grey level, so its video and thumbnail differ from other clips'."""
    return 40 + hashlib.sha256(clip_id.encode()).digest()[0] % 160


def clip_from_body(body: dict[str, Any], users: dict[str, User], now: float) -> Clip:
    """The clip a ``/_fake/clips`` body describes (by a regular clipper); ValueError if bad."""
    title, created = body.get("title"), body.get("created_at")
    views, duration = body.get("view_count", 0), body.get("duration", 30.0)
    broadcaster_id = body.get("broadcaster_id", SANDBOX_BROADCASTER_ID)
    flags = (body.get("missing_media", False), body.get("is_featured", False))
    problem = first_problem(
        (not isinstance(title, str) or not title, "title must be a non-empty string"),
        (not is_count(views), "view_count must be an integer >= 0"),
        (not is_seconds(duration), "duration must be a number in (0, 60]"),
        (created is not None and not isinstance(created, str), "created_at must be a string"),
        (any(not isinstance(f, bool) for f in flags), "flags must be booleans"),
        (broadcaster_id not in users, f"unknown broadcaster_id {broadcaster_id!r}"),
    )
    if problem:
        raise ValueError(problem)
    try:
        at = rfc3339("created_at", created) if isinstance(created, str) else now
    except HelixError as exc:
        raise ValueError(exc.message) from None
    creator = next(u for u in users.values() if u.id != SANDBOX_BROADCASTER_ID)
    return Clip(
        id=clip_slug(random.Random(secrets.randbits(64))),
        broadcaster_id=str(broadcaster_id),
        creator_id=creator.id,
        title=str(title),
        created_at=float(int(at)),
        view_count=int(views),
        duration=round(float(duration), 1),
        is_featured=bool(body.get("is_featured", False)),
        missing_media=bool(body.get("missing_media", False)),
    )


# -- the sample channel -------------------------------------------------------------------------

_CREATORS = (
    ("731550482", "pair_prog_pat"),
    ("731550519", "rubberduck_rita"),
    ("731550577", "lurking_linus"),
    ("731550601", "ci_cat"),
)
_TITLES = (
    "fixing the OAuth refresh race", "first green CI run", "the flaky test was a timezone",
    "rm -rf node_modules speedrun", "chat finds the off-by-one", "migrations, live, no net",
    "the cursor was base64 all along", "rewriting it in a weekend (again)",
    "tests pass locally, CI says no", "finally shipping the retry queue",
    "profiling the slow endpoint", "the 3am deploy", "reading the RFC so you don't have to",
    "mypy strict: the boss fight",
)  # fmt: skip
_WORDS = (
    "Awkward", "Helpless", "Brave", "Sleepy", "Curious", "Tiny", "Spicy", "Gentle",
    "Salamander", "Otter", "Falcon", "Badger", "Kappa", "PogChamp", "SwiftRage", "Kreygasm",
)  # fmt: skip


def clip_slug(rng: random.Random) -> str:
    """A Twitch-looking clip id: four words, a dash and sixteen characters."""
    words = "".join(rng.choice(_WORDS) for _ in range(4))
    tail = "".join(
        rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_")
        for _ in range(16)
    )
    return f"{words}-{tail}"


def sample_channel(seed: int, now: float, count: int) -> tuple[list[User], list[Clip]]:
    """The demo streamer, four regular clippers and `count` clips from the last three days."""
    rng = random.Random(f"twitch-sample:{seed}")
    streamer = User(
        SANDBOX_BROADCASTER_ID,
        SANDBOX_LOGIN,
        "Sandbox_Streamer",
        now - 900 * 86400,
        "affiliate",
        "Building a social publishing service, live.",
    )
    users = [streamer] + [
        User(uid, login, login, now - rng.uniform(30, 600) * 86400) for uid, login in _CREATORS
    ]
    titles = list(_TITLES[: max(count, 1)])  # the first titles always appear, in any order
    rng.shuffle(titles)
    clips = []
    for index in range(count):
        video_id = str(rng.randrange(2_000_000_000, 2_400_000_000)) if rng.random() < 0.7 else ""
        clips.append(
            Clip(
                id=clip_slug(rng),
                broadcaster_id=streamer.id,
                creator_id=rng.choice(_CREATORS)[0],
                title=titles[index % len(titles)],
                created_at=float(int(now - rng.uniform(600, 3 * 86400 - 600))),
                view_count=int(rng.lognormvariate(4.0, 1.4)) + 1,
                duration=round(rng.uniform(5.0, 60.0), 1),
                is_featured=rng.random() < 0.25,
                video_id=video_id,
                vod_offset=rng.randrange(60, 14_400) if video_id else None,
            )
        )
    return users, clips


# -- media --------------------------------------------------------------------------------------

_WIDTH, _HEIGHT, _FPS, _RATE = 192, 108, 15, 48_000  # small landscape, like a clip's preview


def render_mp4(seconds: float, shade: int) -> bytes:
    """A real H.264 + AAC MP4 (moov first) of `seconds`: a moving bar over `shade`, a tone."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"  # faststart rewrites the file, so not a BytesIO
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as out:
            encoder = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            video = out.add_stream(encoder, rate=_FPS, options={"preset": "ultrafast"})
            sound = out.add_stream("aac", rate=_RATE)
            if not isinstance(video, av.video.stream.VideoStream) or not isinstance(
                sound, av.audio.stream.AudioStream
            ):
                raise TypeError("PyAV returned streams of unexpected kinds")
            video.width, video.height, video.pix_fmt = _WIDTH, _HEIGHT, "yuv420p"
            sound.layout = "mono"
            for index in range(max(round(seconds * _FPS), 1)):
                frame = av.VideoFrame(_WIDTH, _HEIGHT, "yuv420p")
                luma, blue, red = frame.planes
                row = bytearray([shade]) * luma.line_size
                at = (index * 5) % _WIDTH
                row[at : at + 12] = b"\xeb" * len(row[at : at + 12])
                luma.update(bytes(row) * luma.height)
                blue.update(b"\x80" * blue.buffer_size)
                red.update(b"\x80" * red.buffer_size)
                frame.pts, frame.time_base = index, Fraction(1, _FPS)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
            tone = array.array("h", (int(6000 * math.sin(math.tau * k / 100)) for k in range(100)))
            chunk, total, sent = tone.tobytes() * 10, round(seconds * _RATE), 0
            while sent < total:
                count = min(1000, total - sent)
                samples = av.AudioFrame(format="s16", layout="mono", samples=count)
                samples.sample_rate, samples.pts = _RATE, sent
                samples.time_base = Fraction(1, _RATE)
                samples.planes[0].update(chunk[: count * 2])
                out.mux(sound.encode(samples))
                sent += count
            out.mux(sound.encode(None))
        return path.read_bytes()


def render_jpeg(shade: int, width: int = 480, height: int = 272) -> bytes:
    """A flat JPEG thumbnail (Twitch's preview size by default)."""
    frame = av.VideoFrame(width, height, "yuvj420p")
    luma, blue, red = frame.planes
    luma.update(bytes([shade]) * luma.buffer_size)
    blue.update(b"\x70" * blue.buffer_size)
    red.update(b"\x90" * red.buffer_size)
    context = av.CodecContext.create("mjpeg", "w")
    if not isinstance(context, av.video.codeccontext.VideoCodecContext):
        raise TypeError("mjpeg is not a video encoder")
    context.width, context.height, context.pix_fmt = width, height, "yuvj420p"
    context.time_base = Fraction(1, 25)
    frame.pts = 0
    return b"".join(bytes(packet) for packet in [*context.encode(frame), *context.encode(None)])
