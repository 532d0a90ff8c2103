"""The first comment (`overrides.<platform>.first_comment`): posted under a target once it is
published, exactly once, by a job of its own.

Posting a comment is irreversible, like the post itself, so it follows the same protocol:
the attempt is recorded (fenced) before the call; an attempt whose answer was lost is looked
for on the platform before any new one, and a refusal as a duplicate adopts the comment
found. A comment that fails is explained on the target (`first_comment.error`) and in the
ledger; it never changes the target's status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import ErrorKind, Mode, Platform, TargetStatus
from crosspost.engine import pacing
from crosspost.engine.account_calls import AccountUnusable, call_as
from crosspost.engine.clients import build_client
from crosspost.engine.overrides import read_options
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress
from crosspost.engine.transitions import TargetCancelled, transition
from crosspost.jobs import Done, JobContext, Outcome, RunAgain
from crosspost.jobs.store import JobStore
from crosspost.platforms.base import CommentRequest, Credentials, PlatformClient
from crosspost.platforms.errors import AlreadyExists, PlatformError
from crosspost.platforms.options import CommentOptions, PlatformOptions
from crosspost.store import accounts, posts

KIND = "comment.v1"
SESSION_KEY = "first_comment"  # where the comment's state lives in the target's session
MAX_ATTEMPTS = 5
# An error that may come after the platform made the comment (a 5xx, a lost answer).
_MAYBE_MADE = (ErrorKind.TRANSIENT, ErrorKind.UNCONFIRMED)
_DEFAULT_WAIT = {ErrorKind.RATE_LIMITED: 60.0, ErrorKind.QUOTA: 3600.0}


def first_comment_of(options: PlatformOptions) -> str | None:
    """The first comment a target's options ask for, if any."""
    return options.first_comment if isinstance(options, CommentOptions) else None


def enqueue(jobs: JobStore, conn: Connection, target_id: str, run_at: datetime) -> None:
    """Queue a published target's first comment in the caller's transaction."""
    jobs.enqueue(
        conn, KIND, {"target_id": target_id}, run_at=run_at, dedupe_key=f"comment:{target_id}"
    )


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """The job handler for `comment.v1`, bound to this process's services."""

    def handle(ctx: JobContext) -> Outcome:
        try:
            return _CommentRun(svc, ctx).run()
        except TargetCancelled:
            return Done()

    return handle


class _CommentRun:
    def __init__(self, svc: Services, ctx: JobContext) -> None:
        self.svc, self.ctx = svc, ctx
        self.target_id: str = ctx.job.payload["target_id"]
        self.target: Mapping[str, Any] = {}
        self.state: dict[str, Any] = {}
        # A comment whose answer was lost shows on the platform within this long, or never
        # will: the same allowance as a post's commit.
        self.settle = timedelta(seconds=svc.settings.commit_settle_seconds)

    def run(self) -> Outcome:
        with self.svc.db.read() as conn:
            target = posts.get_target(conn, self.target_id)
            post = posts.get_post(conn, target["tenant_id"], target["post_id"]) if target else None
            account = accounts.get_account_by_id(conn, target["account_id"]) if target else None
        if target is None or post is None or account is None:
            return Done()
        if target["status"] != TargetStatus.PUBLISHED.value or not target["external_id"]:
            return Done()  # taken down (or never up): nothing to comment on
        self.target = target
        self.state = dict((target["session"] or {}).get(SESSION_KEY) or {})
        if self.state.get("status") in ("posted", "failed"):
            return Done()
        overrides = (target["content"] or post)["overrides"]
        platform = Platform(target["platform"])
        try:
            text = first_comment_of(read_options(overrides, platform))
        except PlatformError:
            text = None
        if not text:
            return Done()
        client = build_client(self.svc, platform, Mode(account["mode"]))
        request = CommentRequest(
            target_id=target["id"],
            post_external_id=target["external_id"],
            account_external_id=account["external_id"],
            account_handle=account["handle"],
            text=text,
        )
        now = self.svc.clock.now()
        wait = pacing.reserve(
            self.svc.db, platform, account["id"], client.comment_budgets(), now.timestamp()
        )
        if wait > 0:
            return RunAgain(now + timedelta(seconds=wait))
        try:
            return call_as(self.svc, account, client, lambda c: self._attempt(client, request, c))
        except AccountUnusable as unusable:
            return self._failed(
                "account_needs_reauth", f"the account needs reconnecting: {unusable.reason}"
            )
        except RefreshInProgress as busy:
            return RunAgain(now + timedelta(seconds=busy.retry_after))
        except PlatformError as err:
            return self._on_error(err)

    def _attempt(
        self, client: PlatformClient, request: CommentRequest, creds: Credentials
    ) -> Outcome:
        now = self.svc.clock.now()
        if self.state.get("status") == "posting":
            since = datetime.fromisoformat(self.state["attempted_at"])
            found = client.find_comment(request, creds, since=since)
            if found is not None:
                return self._posted(found, adopted=True)
            if now < since + self.settle:
                return RunAgain(since + self.settle)
        attempts = int(self.state.get("attempts", 0)) + 1
        self._save(
            {
                **self.state,
                "status": "posting",
                "attempts": attempts,
                "attempted_at": now.isoformat(),
            }
        )
        try:
            comment_id = client.post_comment(request, creds)
        except AlreadyExists:
            found = client.find_comment(request, creds, since=now - self.settle)
            if found is None:
                raise
            return self._posted(found, adopted=True)
        except PlatformError as err:
            if err.kind not in _MAYBE_MADE:
                # Refused for certain: nothing was made, the next attempt need not look.
                self.state = {**self.state, "status": "pending"}
            raise
        return self._posted(comment_id, adopted=False)

    def _on_error(self, err: PlatformError) -> Outcome:
        now = self.svc.clock.now()
        attempts = int(self.state.get("attempts", 0))
        retryable = err.kind in (*_MAYBE_MADE, ErrorKind.RATE_LIMITED, ErrorKind.QUOTA)
        if not retryable or attempts >= MAX_ATTEMPTS:
            return self._failed(err.code, err.message)
        error = {"code": err.code, "message": err.message}
        if self.state.get("status") == "posting":
            # The call may have made the comment: the next run looks for it first.
            self._save({**self.state, "error": error}, event="first_comment_unconfirmed",
                       data=error)  # fmt: skip
            return RunAgain(now + max(self.settle, timedelta(seconds=err.retry_after or 0)))
        wait = err.retry_after or _DEFAULT_WAIT.get(err.kind) or self.svc.backoff.delay(attempts)
        self._save({**self.state, "status": "pending", "error": error})
        return RunAgain(now + timedelta(seconds=wait))

    def _posted(self, comment_id: str, *, adopted: bool) -> Outcome:
        state = {k: v for k, v in self.state.items() if k != "error"}
        self._save(
            {**state, "status": "posted", "id": comment_id},
            event="first_comment_posted",
            data={"comment_id": comment_id, "adopted": adopted},
        )
        return Done()

    def _failed(self, code: str, message: str) -> Outcome:
        self._save(
            {**self.state, "status": "failed", "error": {"code": code, "message": message}},
            event="first_comment_failed",
            data={"code": code, "message": message},
        )
        return Done()

    def _save(
        self,
        state: dict[str, Any],
        *,
        event: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the comment's state into the target's session, fenced by this job's lease."""
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            current = posts.get_target(conn, self.target_id)
            session = dict((current or self.target)["session"] or {})
            session[SESSION_KEY] = state
            transition(
                conn, self.target, now=self.svc.clock.now(), event=event, data=data, session=session
            )
        self.state = state
