"""The `publish.v1` job: drive one target through its platform's protocol, exactly once.

Each client step is followed by a fenced write of the returned session, so a worker that
dies resumes from the last confirmed point. Before an irreversible step the engine records
`commit_attempted`; when the answer to that step is lost (or the worker dies during it) the
target becomes `unconfirmed` and the next run reconciles with the platform instead of
calling it again.

A retried commit that the platform refuses because the content is already there
(`AlreadyExists`) after such an unknown outcome is evidence that the first one landed: the
engine adopts that post (`find_existing`) and never fails the target for it. Transient errors
count per step (a success starts the count again), and while a commit's outcome is unknown
they only delay the reconcile: a target whose post may exist never fails for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import AccountStatus, ErrorKind, MediaKind, Mode, Platform, TargetStatus
from crosspost.engine import first_comment, fit, pacing
from crosspost.engine.clients import build_client
from crosspost.engine.first_comment import first_comment_of
from crosspost.engine.overrides import read_options, thumbnail_of, title_of
from crosspost.engine.posts import post_violations
from crosspost.engine.sandbox import reprovision_sandbox_account
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress, mark_needs_reauth, refresh_account
from crosspost.engine.transitions import TargetCancelled, transition
from crosspost.jobs import Done, JobContext, Outcome, RunAgain
from crosspost.media import signed_urls
from crosspost.media.validate import MediaInfo, Violation, validate
from crosspost.platforms.base import (
    Credentials,
    MediaFile,
    PlatformClient,
    PublishRequest,
    StepResult,
)
from crosspost.platforms.errors import AlreadyExists, OutcomeUnknown, PlatformError
from crosspost.platforms.options import PlatformOptions
from crosspost.store import accounts, media, posts, tenants
from crosspost.vault import credentials as vault_creds
from crosspost.vault.keyring import VaultError

_MISSING_CREDENTIALS = {
    "no_credentials": "the account has no stored credentials; reconnect it",
    "credentials_unreadable": "the account's credentials cannot be decrypted (was the master "
    "key that sealed them removed from CROSSPOST_MASTER_KEYS?); restore the key or reconnect",
}
# Long enough for a platform's queued fetch (Meta, TikTok), short enough to not leak.
MEDIA_URL_TTL_SECONDS = 6 * 3600
_DEFAULT_WAIT = {ErrorKind.RATE_LIMITED: 60.0, ErrorKind.QUOTA: 3600.0}
_RECONCILE_DELAY = 1.0
# How long a held tenant's job sleeps before it looks again (resume wakes it sooner).
TENANT_HOLD = timedelta(hours=1)
# Engine-owned session key: the irreversible call succeeded (the post exists upstream).
_COMMITTED = "_committed"
# When the irreversible call was attempted, and whether that attempt is known to be over.
_COMMIT_AT = "_commit_at"
_SETTLED = "_commit_settled"
# When the first commit whose outcome was unknown was attempted (kept for the target's life).
_UNKNOWN_SINCE = "_unknown_since"
# The platform refused a retried commit as already there: {code, message, existing_id,
# searches}. From then on the engine looks for that post instead of posting.
_EXISTS = "_exists"


class _PostEdited(Exception):
    """The post changed after this run read it; the run starts over."""


@dataclass
class _Loaded:
    target: Mapping[str, Any]
    post: Mapping[str, Any]
    account: Mapping[str, Any]
    media: Mapping[str, Any] | None
    thumbnail: Mapping[str, Any] | None = None
    tenant_status: str | None = "active"
    items: tuple[Mapping[str, Any], ...] = ()  # the media of a post of several, in order


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """The job handler for `publish.v1`, bound to this process's services."""

    def handle(ctx: JobContext) -> Outcome:
        try:
            return _PublishRun(svc, ctx).run()
        except TargetCancelled:
            return Done()

    return handle


class _PublishRun:
    def __init__(self, svc: Services, ctx: JobContext) -> None:
        self.svc = svc
        self.ctx = ctx
        self.target_id: str = ctx.job.payload["target_id"]
        self.refreshed = False
        # Columns to fold into this run's first write (saves a transaction per run).
        self.carry: dict[str, Any] = {}
        self.wants_comment = False  # the target's options ask for a first comment

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> _Loaded | None:
        with self.svc.db.read() as conn:
            target = posts.get_target(conn, self.target_id)
            if target is None:
                return None
            post = posts.get_post(conn, target["tenant_id"], target["post_id"])
            if post is not None and target["content"]:
                # Under way when the post was edited: it keeps what it started with.
                post = {**post, **target["content"]}
            account = accounts.get_account_by_id(conn, target["account_id"])
            several = list(post["media_ids"] or []) if post else []
            # auto_fit's variant stands in for the post's video on this platform.
            single = fit.media_for(target["fit"], post["media_id"] if post else None)
            row = (
                media.get_media(conn, target["tenant_id"], single)
                if single and not several
                else None
            )
            found = [media.get_media(conn, target["tenant_id"], m) for m in several]
            cover_id = _stored_thumbnail(post, Platform(target["platform"])) if post else None
            cover = media.get_media(conn, target["tenant_id"], cover_id) if cover_id else None
            tenant_status = tenants.tenant_status(conn, target["tenant_id"])
        if post is None or account is None:
            return None
        items = tuple(r for r in found if r is not None)
        if len(items) != len(several):
            # An item deleted from under a post that still named it: the run fails on it.
            items = ()
        return _Loaded(target, post, account, row, cover, tenant_status, items)

    def _client(self, account: Mapping[str, Any]) -> PlatformClient:
        return build_client(self.svc, Platform(account["platform"]), Mode(account["mode"]))

    def _request(self, loaded: _Loaded, options: PlatformOptions) -> PublishRequest:
        post, account, row = loaded.post, loaded.account, loaded.media
        media_url = None
        settings = self.svc.settings
        # Platforms that fetch media themselves get a signed URL, when they can reach us: a
        # public URL is configured, or the account is a sandbox one (the fakes are local).
        if row is not None and (settings.public_url or account["mode"] == Mode.TEST.value):
            expires = int(self.svc.clock.now().timestamp() + MEDIA_URL_TTL_SECONDS)
            media_url = signed_urls.sign(settings.base_url, row["id"], self.svc.hash_key, expires)
        files = tuple(f for f in (self._media_file(r) for r in loaded.items) if f is not None)
        urls: tuple[str, ...] = ()
        if files and (settings.public_url or account["mode"] == Mode.TEST.value):
            expires = int(self.svc.clock.now().timestamp() + MEDIA_URL_TTL_SECONDS)
            urls = tuple(
                signed_urls.sign(settings.base_url, r["id"], self.svc.hash_key, expires)
                for r in loaded.items
            )
        return PublishRequest(
            items=files,
            item_urls=urls,
            target_id=loaded.target["id"],
            account_external_id=account["external_id"],
            account_handle=account["handle"],
            text=options.text or post["text"],
            # Only what the platform's options model holds: keys no client reads are left out.
            options=options.model_dump(exclude_unset=True),
            media=self._media_file(row),
            publish_at=post["publish_at"],
            thumbnail=self._media_file(loaded.thumbnail),
            media_url=media_url,
        )

    def _media_file(self, row: Mapping[str, Any] | None) -> MediaFile | None:
        if row is None:
            return None
        key, storage = row["storage_key"], self.svc.storage
        return MediaFile(
            source=lambda: storage.open(key),
            size=row["size_bytes"],
            content_type=row["content_type"],
            kind=MediaKind(row["kind"]),
            filename=row["filename"],
            sha256=row["sha256"],
            duration_seconds=row["duration_seconds"],
            width=row["width"],
            height=row["height"],
        )

    # -- fenced writes -------------------------------------------------------------------
    def _write(self, target: Mapping[str, Any], *, last: bool = False, **kwargs: Any) -> None:
        """Record a step under the job's fence; `last`: the run ends on it (failed, or parked
        for a reconnect), so the job frees its dedupe key in the same commit and a retry or
        reconnect from then on queues a new job instead of being swallowed by this one."""
        kwargs = {**self.carry, **kwargs}
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            if last:
                self.ctx.release_key(conn)
            transition(conn, target, now=self.svc.clock.now(), **kwargs)
        self.carry = {}

    # -- the run -------------------------------------------------------------------------
    def run(self) -> Outcome:
        loaded = self._load()
        if loaded is None:
            return Done()
        target = loaded.target
        status = TargetStatus(target["status"])
        if status.terminal:
            return Done()
        if loaded.tenant_status != "active":
            # Held where it stands while the operator has the tenant suspended or deleted:
            # no attempt is spent, and `resume` brings the job forward.
            return RunAgain(self.svc.clock.now() + TENANT_HOLD)
        if fit.is_waiting(target["fit"]):
            # Its variant is being rendered; the fit job brings this job forward once stored.
            return RunAgain(fit.await_variant(self.svc, self.ctx, target, loaded.post))
        if loaded.account["status"] != AccountStatus.ACTIVE.value:
            # Parked, not failed: the job ends here and the target waits for the account
            # to be reconnected, which must enqueue it again.
            if status is not TargetStatus.NEEDS_REAUTH:
                self._write(
                    target,
                    last=True,
                    status=TargetStatus.NEEDS_REAUTH,
                    event="publish_waiting_for_reauth",
                    data={"reason": loaded.account["last_error"] or "account needs reauth"},
                )
            return Done()
        client = self._client(loaded.account)
        try:
            options = read_options(loaded.post["overrides"], client.platform)
            self.wants_comment = first_comment_of(options) is not None
        except PlatformError as err:
            # Stored before options were checked, with a value no client can use.
            return self._on_error(target, dict(target["session"] or {}), err)
        request = self._request(loaded, options)
        fresh = status in (TargetStatus.SCHEDULED, TargetStatus.QUEUED) and not target["session"]
        if fresh:
            publish_at = loaded.post["publish_at"]
            if publish_at is not None and publish_at > self.svc.clock.now():
                # Rescheduled later by an edit while this job was already claimed.
                return RunAgain(publish_at)
            try:
                if self._preflight(client, request, loaded):
                    return Done()
            except _PostEdited:
                # Edited between our read and our start: read it again before any call.
                return RunAgain(self.svc.clock.now())
        try:
            creds = vault_creds.unseal(self.svc.keyring, loaded.account)
            missing = None if creds is not None else "no_credentials"
        except VaultError:
            creds, missing = None, "credentials_unreadable"
        if creds is None:
            if loaded.account["mode"] != Mode.TEST.value:
                # Live accounts never fall back to anything: the owner must reconnect.
                reason = _MISSING_CREDENTIALS[str(missing)]
                mark_needs_reauth(self.svc, loaded.account, reason)
                self._write(
                    target,
                    last=True,
                    status=TargetStatus.NEEDS_REAUTH,
                    event="publish_waiting_for_reauth",
                    data={"reason": reason},
                )
                return Done()
            # A sandbox account only ever talks to the fakes: mint it fresh tokens there.
            creds = reprovision_sandbox_account(self.svc, loaded.account)
            self._write(
                target,
                event="publish_provider_fallback",
                data={"reason": missing, "provider": "sandbox"},
            )
        return self._drive(loaded, client, request, creds)

    def _preflight(self, client: PlatformClient, request: PublishRequest, loaded: _Loaded) -> bool:
        """Validate media before any byte is sent; True when the target was refused."""
        target = loaded.target
        info = MediaInfo.from_row(loaded.media) if loaded.media is not None else None
        if loaded.post["media_ids"]:
            violations = post_violations(
                client.platform,
                client.options_model.read(request.options),
                None,
                [MediaInfo.from_row(r) for r in loaded.items],
                request.text,
            )
            if not loaded.items:
                violations.append(Violation(
                    "media_not_found",
                    "an item of this post's media_ids was deleted; post again with media "
                    "that exists",
                    "media_ids",
                ))  # fmt: skip
        else:
            violations = validate(
                client.limits_for(request.media.kind if request.media else None),
                info,
                request.text,
                title=title_of(client.options_model.read(request.options)),
                destination=client.platform.value,
            )
        now = self.svc.clock.now()
        if violations:
            first = violations[0]
            with self.svc.db.write() as conn:
                self.ctx.fence(conn)
                self.ctx.release_key(conn)  # the run ends here: see _write's `last`
                transition(
                    conn,
                    target,
                    now=now,
                    status=TargetStatus.FAILED,
                    event="publish_failed",
                    data={"error_kind": "permanent", "code": first.code, "message": first.message},
                    error_kind=ErrorKind.PERMANENT.value,
                    error_code=first.code,
                    error_message="; ".join(v.message for v in violations),
                    error_raw={
                        "violations": [{"code": v.code, "message": v.message} for v in violations]
                    },
                    next_attempt_at=None,
                )
                self._check_revision(conn, loaded)
            return True
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            transition(
                conn,
                target,
                now=now,
                status=TargetStatus.QUEUED,
                event="publish_started",
                data={"attempt": int(target["attempts"]) + 1},
                started_at=now,
            )
            self._check_revision(conn, loaded)
            transition(
                conn,
                {**target, "status": TargetStatus.QUEUED.value},
                now=now,
                event="publish_provider_ready",
                data={"provider": client.platform.value, "mode": loaded.account["mode"]},
            )
        return False

    def _check_revision(self, conn: Connection, loaded: _Loaded) -> None:
        """Raise _PostEdited (rolling back the start) when an edit committed after our read.

        Read after the target's row was written: an edit holds that row until it commits, so
        either it finds the target started or this read finds its new revision."""
        if posts.post_revision(conn, loaded.post["id"]) != loaded.post["revision"]:
            raise _PostEdited

    def _drive(
        self, loaded: _Loaded, client: PlatformClient, request: PublishRequest, creds: Credentials
    ) -> Outcome:
        target = dict(loaded.target)
        session: dict[str, Any] = dict(target["session"] or {})
        target["attempts"] = int(target["attempts"]) + 1
        self.carry["attempts"] = target["attempts"]
        if vault_creds.needs_refresh(creds, self.svc.clock.now()) and creds.refresh_token:
            try:
                creds = refresh_account(self.svc, loaded.account, client, creds)
                self.refreshed = True
            except RefreshInProgress as busy:
                return self._after_refresh(busy)
            except PlatformError as err:
                return self._on_error(target, session, err)
        while True:
            if self.ctx.lost:
                return Done()
            committing = False
            reconciling = bool(session.get("commit_attempted"))
            paced = self._pace(loaded, client, request, session, target)
            if paced is not None:
                return paced
            if reconciling and not session.get(_SETTLED):
                unsettled = self._await_settle(target, session)
                if unsettled is not None:
                    return unsettled
            if reconciling and not session.get(_UNKNOWN_SINCE):
                since = session.get(_COMMIT_AT) or self.svc.clock.now().isoformat()
                session = {**session, _UNKNOWN_SINCE: since}
            try:
                if reconciling:
                    if target["status"] != TargetStatus.RECONCILING.value:
                        self._write(
                            target, status=TargetStatus.RECONCILING, event="publish_reconciling"
                        )
                        target["status"] = TargetStatus.RECONCILING.value
                    if session.get(_EXISTS):
                        adopted = self._adopt(target, client, request, session, creds)
                        if not isinstance(adopted, StepResult):
                            return adopted
                        result = adopted
                    else:
                        result = client.reconcile(request, session, creds)
                else:
                    if client.is_commit(session):
                        committing = True
                        session = {
                            **{k: v for k, v in session.items() if k != _SETTLED},
                            "commit_attempted": True,
                            _COMMIT_AT: self.svc.clock.now().isoformat(),
                        }
                        self._write(target, status=TargetStatus.PUBLISHING, session=session)
                        target["status"] = TargetStatus.PUBLISHING.value
                    result = client.step(request, session, creds)
            except PlatformError as err:
                if err.kind is ErrorKind.AUTH and not self.refreshed and creds.refresh_token:
                    try:
                        creds = refresh_account(self.svc, loaded.account, client, creds)
                    except RefreshInProgress as busy:
                        return self._after_refresh(busy)
                    except PlatformError as refresh_err:
                        return self._on_error(target, session, refresh_err)
                    self.refreshed = True
                    continue
                if committing and isinstance(err, AlreadyExists) and session.get(_UNKNOWN_SINCE):
                    # Refused as already there after an unknown outcome: ours landed. Look
                    # for it (next turn of the loop) instead of failing or posting again.
                    evidence = {
                        "code": err.code,
                        "message": err.message,
                        "existing_id": err.existing_id,
                        "searches": 0,
                    }
                    session = {**session, _EXISTS: evidence, _SETTLED: True}
                    self._write(
                        target,
                        status=TargetStatus.RECONCILING,
                        event="publish_refused_as_existing",
                        data={k: evidence[k] for k in ("code", "message", "existing_id")},
                        session=session,
                    )
                    target["status"] = TargetStatus.RECONCILING.value
                    continue
                if committing and not err.definite_refusal:
                    err = OutcomeUnknown(
                        f"publish call outcome unknown: {err.message}", raw=err.raw
                    )
                    # Our own call is over (it failed in our hands): nothing of ours is
                    # still in flight, so the reconcile need not wait.
                    session = {**session, _SETTLED: True}
                elif committing:
                    session = {k: v for k, v in session.items() if k != "commit_attempted"}
                return self._on_error(target, session, err)
            if committing or (
                reconciling and result.status in (TargetStatus.PROCESSING, TargetStatus.PUBLISHED)
            ):
                # The post now exists on the platform: from here on it cannot be cancelled.
                result.session = {**result.session, _COMMITTED: True}
            elif session.get(_COMMITTED):
                result.session = {**result.session, _COMMITTED: True}
            if session.get(_UNKNOWN_SINCE) and not result.session.get(_UNKNOWN_SINCE):
                # Clients keep only their own keys (a restarted upload keeps none).
                result.session = {**result.session, _UNKNOWN_SINCE: session[_UNKNOWN_SINCE]}
            if result.session.get(_COMMITTED) and not result.status.terminal:
                result.status = TargetStatus.PUBLISHING
            outcome = self._apply(target, result)
            if outcome is not None:
                return outcome
            session = result.session
            target["status"] = result.status.value
            target["session"] = session
            target["transient_errors"] = 0

    def _adopt(
        self,
        target: Mapping[str, Any],
        client: PlatformClient,
        request: PublishRequest,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult | Outcome:
        """Find the post a duplicate refusal proved exists: a published result, or, while the
        platform does not show it yet, a later look. The post exists whatever the search
        finds, so after the transient budget of looks the target is published without an id
        rather than failed (which would have the customer post it a second time)."""
        evidence: dict[str, Any] = dict(session[_EXISTS])
        refusal = AlreadyExists(
            str(evidence["code"]), str(evidence["message"]), existing_id=evidence["existing_id"]
        )
        since = datetime.fromisoformat(str(session[_UNKNOWN_SINCE]))
        found = client.find_existing(request, session, creds, refusal=refusal, since=since)
        note = {"adopted": True, "evidence": evidence["code"]}
        if found is not None:
            found.event_data = {**found.event_data, **note}
            return found
        evidence["searches"] = int(evidence["searches"]) + 1
        done = {k: v for k, v in session.items() if k != "commit_attempted"}
        if evidence["searches"] >= self.svc.settings.target_max_transient_errors:
            return StepResult(
                {**done, _EXISTS: evidence},
                TargetStatus.PUBLISHED,
                event_data={
                    **note,
                    "note": f"{client.platform.value} refused the retry as already posted "
                    f"({evidence['message']}) but does not show the post; it has no id here",
                },
            )
        at = self.svc.clock.now() + timedelta(
            seconds=max(_RECONCILE_DELAY, self.svc.backoff.delay(int(evidence["searches"])))
        )
        self._write(
            target,
            event="publish_existing_not_found",
            data={"searches": evidence["searches"], "next_attempt_at": at.isoformat()},
            session={**session, _EXISTS: evidence},
            next_attempt_at=at,
        )
        return RunAgain(at)

    def _after_refresh(self, busy: RefreshInProgress) -> Outcome:
        """Another worker is refreshing the account's token: come back when it is done (the
        run then reads the new token instead of refreshing again)."""
        return RunAgain(self.svc.clock.now() + timedelta(seconds=busy.retry_after))

    def _await_settle(self, target: Mapping[str, Any], session: dict[str, Any]) -> Outcome | None:
        """A commit whose worker died or lost its lease mid-call may still be in flight (or
        queued at the platform): reconcile only once it must have landed, or a "not found"
        could be followed by its late arrival and a second post."""
        started = session.get(_COMMIT_AT)
        if not started:
            return None
        until = datetime.fromisoformat(started) + timedelta(
            seconds=self.svc.settings.commit_settle_seconds
        )
        now = self.svc.clock.now()
        if now >= until:
            return None
        self._write(
            target,
            status=TargetStatus.UNCONFIRMED,
            event="publish_settling",
            data={"reconcile_at": until.isoformat()},
            next_attempt_at=until,
        )
        return RunAgain(until)

    def _pace(
        self,
        loaded: _Loaded,
        client: PlatformClient,
        request: PublishRequest,
        session: dict[str, Any],
        target: Mapping[str, Any],
    ) -> Outcome | None:
        """Reserve the next call's budgets; when one is full, come back when it has room."""
        if not self.svc.settings.pacing:
            return None
        now = self.svc.clock.now()
        wait = pacing.reserve(
            self.svc.db,
            client.platform,
            loaded.account["id"],
            client.budgets(request, session),
            now.timestamp(),
        )
        if wait <= 0:
            return None
        pacing.report_exhausted(
            self.svc, loaded.account, client.budgets(request, session), now.timestamp()
        )
        at = now + timedelta(seconds=wait)
        self._write(
            target,
            event="publish_paced",
            data={"wait_seconds": round(wait, 3), "next_attempt_at": at.isoformat()},
            next_attempt_at=at,
        )
        return RunAgain(at)

    def _apply(self, target: Mapping[str, Any], result: StepResult) -> Outcome | None:
        """Persist one step's result; an Outcome when this run should stop."""
        now = self.svc.clock.now()
        if result.status is TargetStatus.PUBLISHED:
            with self.svc.db.write() as conn:
                self.ctx.fence(conn)
                transition(
                    conn,
                    target,
                    now=now,
                    status=TargetStatus.PUBLISHED,
                    event="publish_successful",
                    data={
                        "external_id": result.external_id,
                        "external_url": result.external_url,
                        **result.event_data,
                    },
                    **{**self.carry, "session": result.session},
                    external_id=result.external_id,
                    external_url=result.external_url,
                    published_at=now,
                    next_attempt_at=None,
                    error_kind=None,
                    error_code=None,
                    error_message=None,
                    error_raw=None,
                )
                accounts.update_account(conn, target["account_id"], last_published_at=now)
                if self.wants_comment:
                    first_comment.enqueue(self.svc.jobs, conn, target["id"], now)
            return Done()
        data = dict(result.event_data)
        if result.bytes_sent is not None:
            progress = {"bytes_sent": result.bytes_sent, "bytes_total": result.bytes_total}
            data.update(progress)
            # Clients ignore keys they did not write; the API reads progress from here.
            result.session = {**result.session, "_progress": progress}
        run_at = now + timedelta(seconds=result.wait_seconds) if result.wait_seconds > 0 else None
        # The step went through: the next step has its own transient budget.
        fresh_budget: dict[str, Any] = {"transient_errors": 0} if target["transient_errors"] else {}
        self._write(
            target,
            status=result.status,
            event=result.event,
            data=data,
            session=result.session,
            external_id=result.external_id or target.get("external_id"),
            next_attempt_at=run_at,
            **fresh_budget,
        )
        if run_at is not None:
            return RunAgain(run_at)
        return None

    def _on_error(
        self, target: Mapping[str, Any], session: dict[str, Any], err: PlatformError
    ) -> Outcome:
        """Apply the retry policy of the error's class: one write, then stop or come back."""
        now = self.svc.clock.now()
        columns: dict[str, Any] = {
            "error_kind": err.kind.value,
            "error_code": err.code,
            "error_message": err.message,
            "error_raw": _jsonable(err.raw),
            "session": session,
        }
        data: dict[str, Any] = {
            "error_kind": err.kind.value,
            "code": err.code,
            "message": err.message,
        }
        status: TargetStatus | None = TargetStatus.FAILED
        event, at = "publish_failed", None
        if err.kind is ErrorKind.UNCONFIRMED:
            count = int(target["transient_errors"]) + 1
            columns["transient_errors"] = count
            status, event = TargetStatus.UNCONFIRMED, "publish_unconfirmed"
            # At once the first time; later each time the platform still cannot tell.
            delay = _RECONCILE_DELAY if count == 1 else self.svc.backoff.delay(count)
            at = now + timedelta(seconds=max(_RECONCILE_DELAY, delay))
        elif err.kind is ErrorKind.AUTH:
            with self.svc.db.read() as conn:
                account = accounts.get_account_by_id(conn, target["account_id"])
            if account is not None and account["status"] == AccountStatus.ACTIVE.value:
                mark_needs_reauth(self.svc, account, f"{err.code}: {err.message}")
            # Parked, not failed: reconnecting the account resumes it.
            status, event = TargetStatus.NEEDS_REAUTH, "publish_waiting_for_reauth"
        elif err.kind in (ErrorKind.RATE_LIMITED, ErrorKind.QUOTA):
            status, event = TargetStatus.WAITING, "publish_waiting"
            at = now + timedelta(seconds=err.retry_after or _DEFAULT_WAIT[err.kind])
        elif err.kind is ErrorKind.TRANSIENT:
            count = int(target["transient_errors"]) + 1
            columns["transient_errors"] = count
            data["attempt"] = count
            # While a commit's outcome is unknown the post may exist: never give up on it.
            outcome_unknown = bool(session.get("commit_attempted"))
            if outcome_unknown or count < self.svc.settings.target_max_transient_errors:
                status, event = None, "publish_retrying"  # stays where it was, later
                delay = max(err.retry_after or 0.0, self.svc.backoff.delay(count))
                at = now + timedelta(seconds=delay)
            else:
                data["message"] = f"gave up after {count} transient errors in a row: {err.message}"
                columns["error_message"] = data["message"]
        if at is not None:
            data["next_attempt_at"] = at.isoformat()
        self._write(target, last=at is None, status=status, event=event, data=data,
                    next_attempt_at=at, **columns)  # fmt: skip
        return RunAgain(at) if at is not None else Done()


def _stored_thumbnail(post: Mapping[str, Any], platform: Platform) -> str | None:
    """The cover image a stored post names for `platform` (None if its options are invalid:
    the run then fails the target on them)."""
    try:
        return thumbnail_of(read_options(post["overrides"], platform))
    except PlatformError:
        return None


def _jsonable(raw: Any) -> Any:
    if raw is None or isinstance(raw, (dict, list, str, int, float, bool)):
        return raw
    return str(raw)


def resume_at(post_publish_at: datetime | None, now: datetime) -> datetime:
    """When a new target's first job should run."""
    return max(post_publish_at, now) if post_publish_at else now
