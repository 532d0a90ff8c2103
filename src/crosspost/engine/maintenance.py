"""The `maintenance.v1` job: hourly housekeeping that keeps promises about retention.

Exactly one such job exists (a dedupe key), whichever process enqueued it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from crosspost.engine import direct_uploads, exports, media_library, tus
from crosspost.engine.services import Services
from crosspost.jobs import JobContext, Outcome, RunAgain
from crosspost.store import idempotency, oauth_grants, tenants, webhook_deliveries
from crosspost.store import tasks as task_rows
from crosspost.usage.analytics import purge_expired

KIND = "maintenance.v1"
DEDUPE_KEY = "maintenance"
EVERY = timedelta(hours=1)
IDEMPOTENCY_RETENTION = timedelta(hours=24)
_TEMP_UPLOAD_AGE = timedelta(hours=6)
log = logging.getLogger("crosspost.maintenance")


def ensure_scheduled(svc: Services) -> None:
    """Enqueue the maintenance job unless one is already queued (safe from every process)."""
    with svc.db.write() as conn:
        svc.jobs.enqueue(conn, KIND, {}, run_at=svc.clock.now(), dedupe_key=DEDUPE_KEY)


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Purge idempotency keys past their 24 h, API analytics, webhook payloads and export
    files past their retention, expired OAuth codes and refresh tokens, media no post uses
    past its retention, upload leftovers of crashed requests, expired tus uploads, direct
    uploads never completed and finished jobs past theirs; refresh SQLite's planner
    statistics."""

    def handle(ctx: JobContext) -> Outcome:
        now = svc.clock.now()
        with svc.db.write() as conn:
            ctx.fence(conn)
            purged = idempotency.purge(conn, now=now, retention=IDEMPOTENCY_RETENTION)
            payloads = webhook_deliveries.expire_payloads(
                conn,
                now,
                svc.settings.webhook_payload_retention_days,
                tenants.overrides(conn, "webhook_payload_retention_days"),
            )
            shorter = tenants.overrides(conn, "analytics_retention_days")
            # Expired codes and refresh tokens prove nothing any more: replays of them are
            # refused as unknown.
            oauth = oauth_grants.delete_codes_expired_before(conn, now)
            oauth += oauth_grants.delete_refresh_tokens_expired_before(conn, now)
            jobs = task_rows.purge_ended(
                conn, before=now - timedelta(hours=svc.settings.job_retention_hours)
            )
        # Hourly, in small transactions: each run reads only the oldest rows, so it is cheap
        # when there is nothing to do and never holds a long lock when there is.
        expired = purge_expired(svc.db, now, svc.settings.analytics_retention_days, shorter=shorter)
        leftovers = svc.storage.purge_pending(_TEMP_UPLOAD_AGE.total_seconds())
        files = exports.expire(svc, now=now)
        unused = media_library.purge_unused(svc, now)
        leftovers += tus.purge_expired(svc, now)
        leftovers += direct_uploads.purge_expired(svc, now)
        svc.db.refresh_statistics()
        if purged or expired or leftovers or payloads or files or oauth or unused or jobs:
            log.info(
                "maintenance: %d idempotency keys, %d analytics rows, %d upload leftovers "
                "(crashed, or expired tus and direct uploads), "
                "%d webhook payloads, %d export files, %d OAuth codes and refresh tokens, "
                "%d unused media past retention, %d finished jobs past retention",
                purged,
                expired,
                leftovers,
                payloads,
                files,
                oauth,
                unused,
                jobs,
            )
        return RunAgain(now + EVERY)

    return handle
