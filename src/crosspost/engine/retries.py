"""A target tried again: a `failed` one, or one parked for a reconnection that came.

The retry keeps the target's progress (`session`): when its last attempt reached the
platform's commit, the publish step looks for the post on the platform before publishing
again, so a retry never publishes twice. It gets a fresh attempt budget, and a variant
`auto_fit` failed to render is rendered again.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from crosspost.domain.enums import AccountStatus, TargetStatus
from crosspost.engine import fit
from crosspost.engine.publish_jobs import enqueue_publish
from crosspost.engine.services import Services
from crosspost.engine.transitions import refresh_post_status
from crosspost.errors import Conflict, NotFound
from crosspost.store import accounts, ledger, posts
from crosspost.store.rows import Row

RETRYABLE = (TargetStatus.FAILED.value, TargetStatus.NEEDS_REAUTH.value)


def retry_target(svc: Services, *, tenant_id: str, post_id: str, target_id: str) -> Row:
    """Queue a failed (or reauth-parked) target again and return it; 409 saying why when it
    cannot be retried."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        target = _target(conn, tenant_id, post_id, target_id)
        status = target["status"]
        if status not in RETRYABLE:
            raise Conflict(
                f"target {target_id} is {status}: only a failed target, or one waiting for "
                "its account to be reconnected, can be retried",
                code="not_retryable",
            )
        account = accounts.get_account_by_id(conn, target["account_id"])
        if account is None or account["status"] != AccountStatus.ACTIVE.value:
            raise Conflict(
                f"the target's {target['platform']} account needs to be reconnected first "
                "(POST /v1/accounts/connect); then retry",
                code="account_needs_reauth",
            )
        if not posts.requeue_target(conn, target_id, RETRYABLE, now):
            raise Conflict(f"target {target_id} was retried meanwhile", code="not_retryable")
        state = target["fit"]
        if state is not None and state["status"] == fit.FAILED:
            # Its variant is rendered again, and its publish run waits for it.
            posts.set_targets(conn, [target_id], fit={**state, "status": fit.PENDING,
                                                      "error": None})  # fmt: skip
            fit.enqueue_fit(svc.jobs, conn, target_id, now)
        ledger.append_event(
            conn, tenant_id=tenant_id, post_id=post_id, target_id=target_id,
            account_id=target["account_id"], event_type="publish_retry_requested", now=now,
            data={"platform": target["platform"], "previous_status": status,
                  "previous_error": target["error_code"]},
        )  # fmt: skip
        refresh_post_status(conn, tenant_id, post_id, now)
        enqueue_publish(svc.jobs, conn, target_id, now)
        return _target(conn, tenant_id, post_id, target_id)


def _target(conn: Connection, tenant_id: str, post_id: str, target_id: str) -> Row:
    row = posts.get_target(conn, target_id, tenant_id=tenant_id)
    if row is None or row["post_id"] != post_id:
        raise NotFound(f"no target {target_id!r} on post {post_id!r}")
    return row
