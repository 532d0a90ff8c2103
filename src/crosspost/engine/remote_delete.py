"""Taking published posts down on their platforms (`DELETE …/remote`).

A delete claims its target first (a conditional update: of two racing deletes one calls
the platform, the other is told one is under way), then calls the platform, then records
the target `deleted` with a ledger event and `target.deleted`. A delete that dies between
the call and the record leaves a claim that runs out after `CLAIM_SECONDS`; the next
attempt calls again, and the platform's "not found" then counts as deleted, so it is safe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import ErrorKind, Mode, Platform, TargetStatus
from crosspost.engine import pacing
from crosspost.engine.account_calls import AccountUnusable, call_as
from crosspost.engine.clients import build_client
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress
from crosspost.engine.transitions import transition
from crosspost.errors import Conflict, CrosspostError, InvalidInput, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.platforms.base import PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.store import accounts, ledger, post_metrics, posts, remote_deletes
from crosspost.store.rows import Row

# Longer than a delete call and a token refresh can take (each times out after 60 s).
CLAIM_SECONDS = 300.0
# How often a delete waits for another worker's token refresh before giving up.
_REFRESH_WAITS = 5
_DEFAULT_RETRY = {ErrorKind.RATE_LIMITED: 60.0, ErrorKind.QUOTA: 3600.0}


class PlatformFailed(CrosspostError):
    """The platform failed or refused the delete (502); `platform_error` says how."""

    status = 502
    code = "platform_unavailable"
    title = "Platform error"


class PlatformBusy(CrosspostError):
    """The platform's rate limit or quota leaves no room for the call now (503)."""

    status = 503
    code = "platform_rate_limited"
    title = "Platform busy"


@dataclass(frozen=True)
class Removal:
    """What one delete did: the target as it stands after it, and whether the platform
    had already lost the post (deleted elsewhere, or by an earlier attempt of ours)."""

    target: Row
    already_gone: bool


def delete_target(
    svc: Services, *, tenant_id: str, post_id: str, target_id: str, actor: Actor
) -> Removal:
    """Take one published target down; the problem to answer when it cannot be."""
    with svc.db.read() as conn:
        target = posts.get_target(conn, target_id, tenant_id=tenant_id)
    if target is None or target["post_id"] != post_id:
        raise NotFound(f"no target {target_id!r} on post {post_id!r}")
    return _remove(svc, target, actor)


def delete_post_targets(
    svc: Services, *, tenant_id: str, post_id: str, actor: Actor
) -> list[tuple[Row, Removal | CrosspostError]]:
    """Take down every published target of a post: per target, what was done or why not.
    409 when nothing of the post is published."""
    with svc.db.read() as conn:
        post = posts.get_post(conn, tenant_id, post_id)
        if post is None:
            raise NotFound(f"no post {post_id!r}")
        rows = posts.targets_of(conn, [post_id])[post_id]
    statuses = {t["status"] for t in rows}
    if TargetStatus.PUBLISHED.value not in statuses:
        if statuses and statuses <= {TargetStatus.DELETED.value, TargetStatus.CANCELLED.value}:
            raise Conflict(f"post {post_id} was already taken down", code="already_deleted")
        shown = ", ".join(f"{t['platform']} {t['status']}" for t in rows) or "no targets"
        raise Conflict(
            f"nothing of post {post_id} is published ({shown}): only published targets can "
            "be taken down; cancel a post still to publish instead (POST /v1/posts/{id}/cancel)",
            code="not_published",
        )
    done: list[tuple[Row, Removal | CrosspostError]] = []
    for target in rows:
        try:
            done.append((target, _remove(svc, target, actor)))
        except CrosspostError as err:
            done.append((target, err))
    return done


def _remove(svc: Services, target: Row, actor: Actor) -> Removal:
    _check_published(target)
    platform = Platform(target["platform"])
    with svc.db.read() as conn:
        account = accounts.get_account_by_id(conn, target["account_id"])
    if account is None:
        raise NotFound(f"the account of target {target['id']} is gone")
    client = build_client(svc, platform, Mode(account["mode"]))
    if client.delete_refusal:
        raise InvalidInput(client.delete_refusal, code="unsupported_operation")
    external_id = target["external_id"]
    if not external_id:
        raise Conflict(
            f"{platform.value} refused a retry of this post as already there but never showed "
            "it, so crosspost holds no id to delete it by; delete it on the platform itself",
            code="no_platform_id",
        )
    now = svc.clock.now()
    until = now + timedelta(seconds=CLAIM_SECONDS)
    with svc.db.write() as conn:
        if not remote_deletes.claim(conn, target["id"], now=now, until=until):
            _refuse_claim(conn, target, now)
        _ledger(conn, target, "remote_delete_started", now, external_id=external_id)
    try:
        _pace(svc, client, account)
        gone_now = _call(svc, account, client, external_id)
    except BaseException as err:
        _give_up(svc, target, until, err)
        raise _answer(err, platform) from err
    return _record(svc, target, actor, already_gone=not gone_now)


def _check_published(target: Row) -> None:
    status = target["status"]
    if status == TargetStatus.DELETED.value:
        raise Conflict(
            f"target {target['id']} was already taken down on {target['platform']}",
            code="already_deleted",
        )
    if status != TargetStatus.PUBLISHED.value:
        raise Conflict(
            f"target {target['id']} is {status}: only a published target can be taken down "
            "(cancel a post still to publish instead: POST /v1/posts/{id}/cancel)",
            code="not_published",
        )


def _refuse_claim(conn: Connection, target: Row, now: datetime) -> None:
    """Why the claim was not taken: the target moved on, or another delete holds it."""
    current = posts.get_target(conn, target["id"])
    assert current is not None  # targets are never removed
    _check_published(current)
    until = current["next_attempt_at"]
    wait = max(1, math.ceil((until - now).total_seconds())) if until else 1
    raise Conflict(
        f"target {target['id']} is being taken down by another request; ask again later",
        code="delete_in_progress",
        headers={"Retry-After": str(min(wait, int(CLAIM_SECONDS)))},
    )


def _pace(svc: Services, client: PlatformClient, account: Mapping[str, Any]) -> None:
    """Spend the delete's share of the platform's budgets, or refuse for now (503)."""
    if not svc.settings.pacing:
        return
    rates = client.delete_budgets()
    now = svc.clock.now().timestamp()
    wait = pacing.reserve(svc.db, client.platform, account["id"], rates, now)
    if wait > 0:
        pacing.report_exhausted(svc, account, rates, now)
        raise PlatformError(
            ErrorKind.RATE_LIMITED,
            "budget_exhausted",
            f"{client.platform.value}'s documented call budget for this account is spent",
            retry_after=wait,
        )


def _call(
    svc: Services, account: Mapping[str, Any], client: PlatformClient, external_id: str
) -> bool:
    """The platform's delete, waiting a little while another worker refreshes the token."""
    for _ in range(_REFRESH_WAITS):
        try:
            return call_as(
                svc, account, client, lambda creds: client.delete_post(external_id, creds)
            )
        except RefreshInProgress as busy:
            time.sleep(busy.retry_after)
            with svc.db.read() as conn:
                fresh = accounts.get_account_by_id(conn, account["id"])
            if fresh is None:
                raise AccountUnusable("the account was removed") from busy
            account = fresh
    raise PlatformError(
        ErrorKind.RATE_LIMITED,
        "token_refresh_in_progress",
        "the account's token is being refreshed by another worker",
        retry_after=float(_REFRESH_WAITS),
    )


def _give_up(svc: Services, target: Row, until: datetime, err: BaseException) -> None:
    """Release the claim and ledger why: nothing was deleted (or we cannot tell, and a
    later attempt finds out safely)."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        remote_deletes.release(conn, target["id"], until=until, now=now)
        if isinstance(err, PlatformError):
            data = {"error_kind": err.kind.value, "code": err.code, "message": err.message}
        elif isinstance(err, AccountUnusable):
            data = {"error_kind": ErrorKind.AUTH.value, "code": "account_needs_reauth",
                    "message": err.reason}  # fmt: skip
        else:
            data = {"error_kind": "internal", "code": type(err).__name__, "message": str(err)}
        _ledger(conn, target, "remote_delete_failed", now, **data)


def _answer(err: BaseException, platform: Platform) -> BaseException:
    """The problem a failed delete answers with (other exceptions pass through)."""
    if isinstance(err, AccountUnusable):
        return Conflict(
            f"the target's {platform.value} account needs to be reconnected ({err.reason}); "
            "reconnect it (POST /v1/accounts/connect), then delete again",
            code="account_needs_reauth",
        )
    if not isinstance(err, PlatformError):
        return err
    if err.code == "unsupported_operation":
        return InvalidInput(err.message, code="unsupported_operation")
    platform_error = {"kind": err.kind.value, "code": err.code, "message": err.message}
    if err.kind in (ErrorKind.RATE_LIMITED, ErrorKind.QUOTA):
        wait = err.retry_after or _DEFAULT_RETRY[err.kind]
        return PlatformBusy(
            f"{platform.value} has no room for this call now ({err.message}); the post is "
            f"still up: try again in {math.ceil(wait)} s",
            platform_error=platform_error,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    if err.kind is ErrorKind.PERMANENT:
        return PlatformFailed(
            f"{platform.value} refused to delete the post: {err.message} ({err.code}); it is "
            "still up",
            code="platform_refused",
            platform_error=platform_error,
        )
    return PlatformFailed(
        f"{platform.value} did not complete the delete ({err.message}); the post may still "
        "be up: try again (a post already gone then counts as deleted)",
        platform_error=platform_error,
    )


def _record(svc: Services, target: Row, actor: Actor, *, already_gone: bool) -> Removal:
    """The target `deleted`, in one transaction with its ledger event, webhook and audit."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = posts.get_target(conn, target["id"])
        assert current is not None  # targets are never removed
        if current["status"] == TargetStatus.PUBLISHED.value:
            session = {**(current["session"] or {}), "_deleted_at": now.isoformat()}
            transition(
                conn, current, now=now, status=TargetStatus.DELETED, event="remote_deleted",
                data={"external_id": current["external_id"], "already_gone": already_gone},
                next_attempt_at=None, session=session,
            )  # fmt: skip
            post_metrics.stop(conn, current["id"], "deleted", now)
            audited = {"platform": current["platform"], "already_gone": already_gone}
            record(conn, actor, "post.remote_deleted", tenant_id=current["tenant_id"], now=now,
                   target=("target", current["id"]), data=audited)  # fmt: skip
        stored = posts.get_target(conn, target["id"])
    assert stored is not None
    return Removal(stored, already_gone)


def _ledger(conn: Connection, target: Row, event: str, now: datetime, **data: Any) -> None:
    ledger.append_event(
        conn, tenant_id=target["tenant_id"], post_id=target["post_id"], target_id=target["id"],
        account_id=target["account_id"], event_type=event, now=now,
        data={"platform": target["platform"], **data},
    )  # fmt: skip
