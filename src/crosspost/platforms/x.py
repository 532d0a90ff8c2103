"""X API v2: chunked media upload (initialize / append / finalize / status), then the post.

Phases of the persisted session: ``init`` → ``append`` (one segment per step; the media id and
the next ``segment_index`` are saved after each) → ``finalize`` → ``status`` (waits exactly
``check_after_secs``) → ``tweet`` (``POST /2/tweets``: the commit) → ``done``. A text-only post
goes straight to ``tweet``. The pure rules (limits, weighted text, segments, error mapping)
live in ``x_rules.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits, Rate
from crosspost.platforms.base import (
    AppCredentials,
    CommentRequest,
    Credentials,
    MediaFile,
    PlatformClient,
    PublishRequest,
    StepResult,
    counts_from,
    poll_step,
    upload_step,
)
from crosspost.platforms.errors import AlreadyExists, PlatformError, PostGone
from crosspost.platforms.oauth import classify_token_error, json_body, revoke_grant, send
from crosspost.platforms.x_rules import (
    MIN_POLL_SECONDS,
    POST_TYPES,
    XOptions,
    check_text,
    classify,
    media_category,
    media_type,
    multipart_segment,
    plan_segments,
    post_url,
    processing_error,
    same_text,
)

__all__ = ["FINALIZE_PATH", "INIT_PATH", "STATUS_PATH", "TWEETS_PATH", "XClient"]

INIT_PATH = "/2/media/upload/initialize"
APPEND_PATH = "/2/media/upload/{id}/append"
FINALIZE_PATH = "/2/media/upload/{id}/finalize"
STATUS_PATH = "/2/media/upload"
TWEETS_PATH = "/2/tweets"
TIMELINE_PATH = "/2/users/{id}/tweets"
TWEET_PATH = "/2/tweets/{id}"
LIVE_BASE_URL = "https://api.x.com"
LIVE_TOKEN_URL = "https://api.x.com/2/oauth2/token"  # noqa: S105 - a URL, not a secret
EXPIRY_MARGIN = timedelta(minutes=5)  # never append to / post a media id about to expire
RECONCILE_LOOKBACK = timedelta(minutes=2)  # clock skew allowance for the timeline search
# [U] X does not say how far back it looks for duplicate content; a day is generous.
DUPLICATE_LOOKBACK = timedelta(hours=24)
TIMELINE_MAX_PAGES = 32  # X serves a user's 3,200 most recent posts, 100 a page


# Per-user windows (docs.x.com rate limits; the media ones are [U] in our reference).
TWEET_RATES = (Rate("tweets", 200, 900.0), Rate("tweets_24h", 100, 86400.0))
MEDIA_UPLOAD_RATE = Rate("media_upload", 500, 900.0)
MEDIA_STATUS_RATE = Rate("media_status", 1000, 900.0)
TIMELINE_RATE = Rate("timeline", 900, 900.0)
DELETE_RATE = Rate("tweets_delete", 50, 900.0)  # DELETE /2/tweets/:id per user
LOOKUP_RATE = Rate("tweet_lookup", 900, 900.0)  # GET /2/tweets/:id per user
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


class XClient(PlatformClient):
    """Client of X's v2 media upload and ``POST /2/tweets`` (OAuth 2.0 user context)."""

    oauth_scopes = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
    basic_client_auth = True  # confidential clients authenticate with HTTP Basic

    platform = Platform.X
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = XOptions
    carousel = CarouselLimits(max_items=4, kinds=frozenset({MediaKind.IMAGE}))
    commit_phases: ClassVar[frozenset[str]] = frozenset({"tweet"})

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the post for `session`'s phase."""
        phase = session.get("phase")
        if not phase:
            check_text(request.text)
            if request.media is None and not request.items:
                if not request.text.strip():
                    raise PlatformError(ErrorKind.PERMANENT, "empty_post", "nothing to post")
                # The commit phase must be persisted before the irreversible call is made.
                return self._to_tweet({})
            phase = "init"
        if phase == "init":
            return self._init(self._media(request, session), session, creds)
        if phase == "append":
            return self._append(self._media(request, session), session, creds)
        if phase in {"finalize", "status"}:
            result = self._processing(self._media(request, session), session, creds)
            return self._next_item(request, result)
        if phase == "tweet":
            return self._tweet(request, session, creds)
        if phase == "done":
            return self._finished(request, session)
        raise ValueError(f"unknown X session phase {phase!r}")

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The token's user: `GET /2/users/me`."""
        response = send(
            self.http,
            "GET",
            f"{self.base_url}/2/users/me",
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        body = json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("id"):
            raise classify(response, now=self.clock.now())
        return str(data["id"]), str(data.get("username") or data["id"])

    def declared_budgets(self) -> tuple[Rate, ...]:
        """Posts (15 minutes, 24 hours), media uploads and status checks, timeline reads,
        deletes and post lookups."""
        return (*TWEET_RATES, MEDIA_UPLOAD_RATE, MEDIA_STATUS_RATE, TIMELINE_RATE,
                DELETE_RATE, LOOKUP_RATE)  # fmt: skip

    def delete_post(self, external_id: str, creds: Credentials) -> bool:
        """`DELETE /2/tweets/:id` (`{"data":{"deleted":true}}`; 404: already gone). X's
        `deleted: false` says only that this request deleted nothing, so the post is looked
        up: gone means it was already deleted, still there is a refusal."""
        response = send(
            self.http,
            "DELETE",
            f"{self.base_url}{TWEET_PATH.format(id=external_id)}",
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        body = json_body(response)
        if self._data(body, "DELETE /2/tweets").get("deleted") is True:
            return True
        if self._lookup(external_id, creds) is None:
            return False
        raise PlatformError(
            ErrorKind.PERMANENT,
            "not_deleted",
            f"X answered deleted=false and still shows post {external_id}",
            raw=body,
            http_status=response.status_code,
        )

    def delete_budgets(self) -> tuple[Rate, ...]:
        """X's per-user window of deletes."""
        return (DELETE_RATE,)

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """`GET /2/tweets/:id?tweet.fields=public_metrics`: impressions as views, likes,
        replies as comments, reposts as shares; quotes and bookmarks besides."""
        data = self._lookup(external_id, creds, fields="public_metrics")
        if data is None:
            raise PostGone(f"X cannot find post {external_id} (deleted, or not visible)")
        names = {"views": "impression_count", "likes": "like_count", "comments": "reply_count",
                 "shares": "retweet_count", "quotes": "quote_count",
                 "bookmarks": "bookmark_count"}  # fmt: skip
        return counts_from(data.get("public_metrics"), names)

    def metrics_budgets(self) -> tuple[Rate, ...]:
        """X's per-user window of post lookups."""
        return (LOOKUP_RATE,)

    def _lookup(
        self, tweet_id: str, creds: Credentials, fields: str | None = None
    ) -> dict[str, Any] | None:
        """`GET /2/tweets/:id`: the post, or None when X answers that it cannot find it (a
        200 with a `resource-not-found` error, or a 404)."""
        params = {"tweet.fields": fields} if fields else None
        response = send(
            self.http,
            "GET",
            f"{self.base_url}{TWEET_PATH.format(id=tweet_id)}",
            params=params,
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        body = json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            return data
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and any(
            isinstance(e, dict) and e.get("type") == _NOT_FOUND for e in errors
        ):
            return None
        raise PlatformError(
            ErrorKind.TRANSIENT, "malformed_response", "GET /2/tweets/:id returned no data",
            raw=body,
        )  # fmt: skip

    def budgets(self, request: PublishRequest, session: dict[str, Any]) -> tuple[Rate, ...]:
        """X's per-user windows: posts (15-minute and 24-hour caps), media upload commands
        and status checks, and timeline reads when reconciling."""
        if session.get("commit_attempted"):
            return (TIMELINE_RATE,)
        # A text post's first step only records the commit phase: no call, nothing spent.
        has_media = request.media is not None or bool(request.items)
        phase = session.get("phase") or ("init" if has_media else "")
        if phase == "tweet":
            return TWEET_RATES
        if phase in {"init", "append", "finalize"}:
            return (MEDIA_UPLOAD_RATE,)
        if phase == "status":
            return (MEDIA_STATUS_RATE,)
        return ()

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Look for the post in the user's recent timeline; re-post only if it is not there."""
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        if session.get("phase") != "tweet":
            return StepResult(cleared, TargetStatus.UPLOADING)
        found = self._find_tweet(request, session, creds)
        if found is not None:
            return self._finished(request, {**cleared, "phase": "done", "tweet_id": found})
        if (request.media is not None or request.items) and self._media_expired(session):
            return self._restart(cleared, "the media id expired before the post was made")
        return StepResult(
            cleared,
            TargetStatus.PUBLISHING,
            event="reconcile_not_found",
            event_data={"media_id": session.get("media_id")},
        )

    def revoke(self, creds: Credentials, app: AppCredentials) -> bool:
        """X's revocation (Basic auth for confidential clients): the refresh token when
        there is one, which ends the grant."""
        token, hint = (
            (creds.refresh_token, "refresh_token") if creds.refresh_token
            else (creds.access_token, "access_token")
        )  # fmt: skip
        form = {"token": token, "token_type_hint": hint, "client_id": app.client_id or ""}
        auth = (app.client_id or "", app.client_secret) if app.client_secret else None
        return revoke_grant(self.http, app, form, now=self.clock.now(), auth=auth)

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """X's refresh grant (Basic auth for confidential clients); refresh tokens rotate."""
        if not creds.refresh_token:
            raise PlatformError(ErrorKind.AUTH, "invalid_grant", "no refresh token is stored")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": app.client_id or "",
        }
        auth = (app.client_id or "", app.client_secret) if app.client_secret else None
        now = self.clock.now()
        response = send(
            self.http,
            "POST",
            app.token_url,
            data=form,
            headers={"Accept": "application/json"},
            auth=auth,
        )
        body = json_body(response)
        if (
            response.status_code >= 400
            or not isinstance(body, dict)
            or not isinstance(body.get("access_token"), str)
        ):
            error = classify_token_error(response, body, now=now)
            # X answers a dead refresh token with 400 invalid_request, not invalid_grant.
            if response.status_code == 400 and error.code == "invalid_request":
                raise PlatformError(
                    ErrorKind.AUTH,
                    "invalid_grant",
                    f"the refresh token was refused ({error.message}); reconnect the account",
                    raw=body,
                    http_status=400,
                ) from None
            raise error
        expires_in = body.get("expires_in")
        scope = body.get("scope")
        return Credentials(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or creds.refresh_token,
            expires_at=now + timedelta(seconds=float(expires_in))
            if isinstance(expires_in, int | float)
            else None,
            scopes=scope.split() if isinstance(scope, str) else list(creds.scopes),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _media(self, request: PublishRequest, session: dict[str, Any]) -> MediaFile:
        """The file this session is uploading: the post's, or the current of its several."""
        if request.items:
            return request.items[int(session.get("item_index", 0))]
        self.refuse_unsupported(request.media)
        media = request.media
        if media is None:
            raise ValueError("a media phase was reached for a post without media")
        if media.size <= 0:
            raise PlatformError(ErrorKind.PERMANENT, "empty_file", "the media file is empty")
        return media

    def _call(
        self, method: str, path: str, creds: Credentials, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        """One authenticated call; a non-2xx answer is classified and raised."""
        headers = {"Authorization": f"Bearer {creds.access_token}", **kwargs.pop("headers", {})}
        response = send(self.http, method, f"{self.base_url}{path}", headers=headers, **kwargs)
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        return response, json_body(response) if response.content else None

    @staticmethod
    def _data(body: Any, what: str) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PlatformError(
                ErrorKind.TRANSIENT, "malformed_response", f"{what} returned no data", raw=body
            )
        return data

    def _next_item(self, request: PublishRequest, result: StepResult) -> StepResult:
        """After one of several images is uploaded, start the next; the post waits for all.
        The uploaded ones are kept in `uploaded`, in order."""
        session = result.session
        index = int(session.get("item_index", 0))
        if session.get("phase") != "tweet" or index + 1 >= len(request.items):
            return result
        done = {k: session.get(k) for k in ("media_id", "media_key", "media_expires_at")}
        following = {
            "phase": "init",
            "item_index": index + 1,
            "uploaded": [*session.get("uploaded", []), done],
        }
        return StepResult(following, TargetStatus.UPLOADING, event="upload_item_complete",
                          event_data={"item": index + 1, "media_id": done["media_id"]})  # fmt: skip

    def _media_expired(self, session: dict[str, Any]) -> bool:
        stamps = [session.get("media_expires_at")]
        stamps += [u.get("media_expires_at") for u in session.get("uploaded", [])]
        soon = self.clock.now() + EXPIRY_MARGIN
        return any(s and soon >= datetime.fromisoformat(str(s)) for s in stamps)

    def _expires_at(self, data: dict[str, Any]) -> str | None:
        seconds = data.get("expires_after_secs")
        if not isinstance(seconds, int | float):
            return None
        return (self.clock.now() + timedelta(seconds=float(seconds))).isoformat()

    def _restart(self, session: dict[str, Any], why: str) -> StepResult:
        return StepResult(
            {"phase": "init"},
            TargetStatus.UPLOADING,
            event="upload_restarted",
            event_data={"reason": why, "abandoned_media_id": session.get("media_id")},
        )

    def _to_tweet(self, session: dict[str, Any]) -> StepResult:
        new = {k: v for k, v in session.items() if k not in {"commit_attempted", "polls"}}
        new.update(phase="tweet", prepared_at=self.clock.now().isoformat())
        return StepResult(new, TargetStatus.PUBLISHING)

    # -- phases -----------------------------------------------------------------------------

    def _init(self, media: MediaFile, session: dict[str, Any], creds: Credentials) -> StepResult:
        body = {
            "media_type": media_type(media),
            "total_bytes": media.size,
            "media_category": media_category(media),
        }
        _, payload = self._call("POST", INIT_PATH, creds, json=body)
        data = self._data(payload, "initialize")
        media_id = data.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_media_id", "initialize returned no id", raw=payload
            )
        segment = plan_segments(media.size, self.chunk_bytes)
        new: dict[str, Any] = {
            "phase": "append",
            "media_id": media_id,
            "media_key": data.get("media_key"),
            "media_expires_at": self._expires_at(data),
            "total": media.size,
            "segment_bytes": segment,
            "segment_count": math.ceil(media.size / segment),
            "segment_index": 0,
            "progress_decile": 0,
        }
        # One of several images: which, and the ones already uploaded, go on with it.
        new.update({k: session[k] for k in ("item_index", "uploaded") if k in session})
        result = upload_step(new, session, 0, media.size)
        result.event = "upload_started"
        result.event_data = {"media_id": media_id, "segments": new["segment_count"]}
        return result

    def _append(self, media: MediaFile, session: dict[str, Any], creds: Credentials) -> StepResult:
        if self._media_expired(session):
            return self._restart(session, "the upload session expired")
        index = int(session["segment_index"])
        segment = int(session["segment_bytes"])
        start = index * segment
        length = min(segment, media.size - start)
        content_type, size, pieces = multipart_segment(media, start, length, index)
        path = APPEND_PATH.format(id=session["media_id"])
        self._call(
            "POST",
            path,
            creds,
            content=pieces,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        )
        done = index + 1 >= int(session["segment_count"])
        new = {**session, "segment_index": index + 1, "phase": "finalize" if done else "append"}
        return upload_step(new, session, start + length, media.size)

    def _processing(
        self, media: MediaFile, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Finalize, or poll STATUS; wait exactly `check_after_secs` while X processes."""
        media_id = str(session["media_id"])
        if session["phase"] == "finalize":
            _, payload = self._call("POST", FINALIZE_PATH.format(id=media_id), creds)
            data = self._data(payload, "finalize")
            expires = self._expires_at(data) or session.get("media_expires_at")
            session = {**session, "media_expires_at": expires, "phase": "status"}
            if data.get("media_key"):
                session["media_key"] = data["media_key"]
        else:
            params = {"command": "STATUS", "media_id": media_id}
            _, payload = self._call("GET", STATUS_PATH, creds, params=params)
            data = self._data(payload, "status")
        info = data.get("processing_info")
        if not isinstance(info, dict) or info.get("state") == "succeeded":
            result = self._to_tweet(session)
            result.bytes_sent = result.bytes_total = media.size
            result.event, result.event_data = "upload_complete", {"media_id": media_id}
            return result
        if info.get("state") == "failed":
            raise processing_error(info)
        after = info.get("check_after_secs")
        wait = float(after) if isinstance(after, int | float) and after > 0 else None
        return poll_step(
            session,
            wait if wait is not None else max(MIN_POLL_SECONDS, self.poll_seconds),
            media_id=media_id,
            state=info.get("state"),
        )

    def _tweet(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        if request.media is not None and self._media_expired(session):
            return self._restart(session, "the media id expired before the post was made")
        body: dict[str, Any] = {}
        if request.text:
            body["text"] = request.text
        if request.media is not None or request.items:
            earlier = [str(u["media_id"]) for u in session.get("uploaded", [])]
            body["media"] = {"media_ids": [*earlier, str(session["media_id"])]}
        _, payload = self._call("POST", TWEETS_PATH, creds, json=body)
        tweet_id = self._data(payload, "POST /2/tweets").get("id")
        if not isinstance(tweet_id, str) or not tweet_id:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_tweet_id", "the post has no id", raw=payload
            )
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        return self._finished(request, {**new, "phase": "done", "tweet_id": tweet_id})

    def _find_tweet(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> str | None:
        """The id of the post this session made, from the user's recent posts, if any."""
        media_id = str(session.get("media_id") or "")
        wanted_key = str(session.get("media_key") or "")
        prepared = session.get("prepared_at")
        start = datetime.fromisoformat(str(prepared)) - RECONCILE_LOOKBACK if prepared else None
        for tweet, keys in self._timeline(request.account_external_id, creds, start):
            if media_id:
                if any(k == wanted_key or str(k).split("_", 1)[-1] == media_id for k in keys):
                    return str(tweet["id"])
            elif not keys and same_text(str(tweet.get("text", "")), request.text, has_media=False):
                return str(tweet["id"])
        return None

    def find_existing(
        self,
        request: PublishRequest,
        session: dict[str, Any],
        creds: Credentials,
        *,
        refusal: AlreadyExists,
        since: datetime,
    ) -> StepResult | None:
        """X refused the post as duplicate content: find the post with our text (its media may
        be an earlier upload of ours) among the user's posts around our first unconfirmed try.

        X itself says the post exists, so the search reaches further back than reconcile's
        (which must not mistake an older post for ours): a clock that ran ahead of X's by
        more than reconcile's allowance hid the post from it.
        """
        for tweet, keys in self._timeline(
            request.account_external_id, creds, since - DUPLICATE_LOOKBACK
        ):
            if same_text(str(tweet.get("text", "")), request.text, has_media=bool(keys)):
                done = {k: v for k, v in session.items() if k != "commit_attempted"}
                return self._finished(request, {**done, "phase": "done", "tweet_id": tweet["id"]})
        return None

    def _timeline(
        self, user_id: str, creds: Credentials, start: datetime | None
    ) -> Iterator[tuple[dict[str, Any], list[Any]]]:
        """(post, its media keys) of the user's posts since `start`, newest first, page after
        page: a busy user may have posted many times since, and a search that stopped at the
        first page would miss ours."""
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet.fields": "attachments,created_at,referenced_tweets",
            "expansions": "attachments.media_keys",
        }
        if start is not None:
            params["start_time"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = TIMELINE_PATH.format(id=user_id)
        for _ in range(TIMELINE_MAX_PAGES):
            _, payload = self._call("GET", path, creds, params=params)
            tweets = payload.get("data") if isinstance(payload, dict) else None
            for tweet in tweets if isinstance(tweets, list) else []:
                if not isinstance(tweet, dict) or not tweet.get("id"):
                    continue
                attachments = tweet.get("attachments")
                keys = attachments.get("media_keys", []) if isinstance(attachments, dict) else []
                yield tweet, keys if isinstance(keys, list) else []
            meta = payload.get("meta") if isinstance(payload, dict) else None
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                return
            params = {**params, "pagination_token": token}

    def post_comment(self, request: CommentRequest, creds: Credentials) -> str:
        """The first comment is a reply: `POST /2/tweets` with `reply.in_reply_to_tweet_id`."""
        check_text(request.text)
        body = {"text": request.text, "reply": {"in_reply_to_tweet_id": request.post_external_id}}
        _, payload = self._call("POST", TWEETS_PATH, creds, json=body)
        reply_id = self._data(payload, "POST /2/tweets").get("id")
        if not isinstance(reply_id, str) or not reply_id:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_tweet_id", "the reply has no id", raw=payload
            )
        return reply_id

    def find_comment(
        self, request: CommentRequest, creds: Credentials, *, since: datetime
    ) -> str | None:
        """Our reply with this text to the post, among the user's posts since `since`."""
        for tweet, _ in self._timeline(
            request.account_external_id, creds, since - RECONCILE_LOOKBACK
        ):
            replied = tweet.get("referenced_tweets")
            to_post = isinstance(replied, list) and any(
                isinstance(r, dict)
                and r.get("type") == "replied_to"
                and r.get("id") == request.post_external_id
                for r in replied
            )
            if to_post and same_text(str(tweet.get("text", "")), request.text, has_media=False):
                return str(tweet["id"])
        return None

    def comment_budgets(self) -> tuple[Rate, ...]:
        """A reply is a post: X's post windows, and the timeline read of a reconcile."""
        return (*TWEET_RATES, TIMELINE_RATE)

    def _finished(self, request: PublishRequest, session: dict[str, Any]) -> StepResult:
        tweet_id = str(session["tweet_id"])
        return StepResult(
            session,
            TargetStatus.PUBLISHED,
            external_id=tweet_id,
            external_url=post_url(request.account_handle, tweet_id),
        )
