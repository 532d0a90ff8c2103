"""How published posts performed: each published target's counts fetched from its platform
on a schedule (`metrics_schedule`), kept as a time series and told as `post.metrics_updated`.

A target gets a pending metrics row in the transaction that publishes it (`transitions`).
The planner (`metrics.plan.v1`, recurring) gives pending rows their first due time and
enqueues one fetch job per target (`metrics.fetch.v1`, dedupe `metrics:{target_id}`), which
runs again at each next due time until the schedule is over. A failed fetch is retried with
backoff until the next due time, each failure explained on the row and in the ledger; it
never touches the target itself. A target taken down, or gone from the platform, and a
disconnected account end the schedule; an account waiting to be reconnected skips fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from crosspost.domain.enums import AccountStatus, ErrorKind, Mode, Platform, TargetStatus
from crosspost.engine import pacing
from crosspost.engine.account_calls import AccountUnusable, call_as
from crosspost.engine.clients import build_client
from crosspost.engine.metrics_schedule import MetricsSchedule
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress
from crosspost.jobs import Done, JobContext, Outcome, RunAgain
from crosspost.platforms.errors import PlatformError, PostGone
from crosspost.store import accounts, ledger, posts
from crosspost.store import post_metrics as store
from crosspost.store.rows import Row
from crosspost.webhooks import outbox

PLAN_KIND = "metrics.plan.v1"
FETCH_KIND = "metrics.fetch.v1"
_PLAN_KEY = "metrics-plan"
_BATCH = 200


def dedupe_key(target_id: str) -> str:
    """At most one metrics job per target exists at a time."""
    return f"metrics:{target_id}"


def ensure_scheduled(svc: Services) -> None:
    """Enqueue the planner unless one is queued or the schedule fetches nothing."""
    if not MetricsSchedule.from_settings(svc.settings).delays():
        return
    with svc.db.write() as conn:
        svc.jobs.enqueue(conn, PLAN_KIND, {}, run_at=svc.clock.now(), dedupe_key=_PLAN_KEY)


def make_plan_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Schedule what was published since the last run, then come back."""

    def handle(ctx: JobContext) -> Outcome:
        plan(svc)
        return RunAgain(svc.clock.now() + timedelta(seconds=svc.settings.post_metrics_plan_seconds))

    return handle


def plan(svc: Services) -> int:
    """Give every pending target its first fetch and enqueue its job; how many. A target
    published long ago (say, before metrics existed) is fetched at once if its schedule
    still runs, and is finished untouched if it does not."""
    schedule = MetricsSchedule.from_settings(svc.settings)
    planned = 0
    while True:
        now = svc.clock.now()
        with svc.db.write() as conn:
            rows = store.pending(conn, _BATCH)
            for row in rows:
                due = schedule.first_due(row["published_at"])
                if due is not None and due < now:
                    due = now if schedule.next_due(row["published_at"], now) else None
                if due is None:
                    store.update(conn, row["target_id"], now, state=store.FINISHED)
                    continue
                store.update(conn, row["target_id"], now, state=store.SCHEDULED, next_fetch_at=due)
                svc.jobs.enqueue(
                    conn, FETCH_KIND, {"target_id": row["target_id"]}, run_at=due,
                    dedupe_key=dedupe_key(row["target_id"]),
                )  # fmt: skip
        planned += len(rows)
        if len(rows) < _BATCH:
            return planned


def make_fetch_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """The job handler for `metrics.fetch.v1`."""

    def handle(ctx: JobContext) -> Outcome:
        return _Fetch(svc, ctx).run()

    return handle


class _Fetch:
    """One due fetch of one target's metrics."""

    def __init__(self, svc: Services, ctx: JobContext) -> None:
        self.svc = svc
        self.ctx = ctx
        self.target_id: str = ctx.job.payload["target_id"]
        self.schedule = MetricsSchedule.from_settings(svc.settings)

    def run(self) -> Outcome:
        with self.svc.db.read() as conn:
            row = store.get(conn, self.target_id)
            target = posts.get_target(conn, self.target_id)
            account = accounts.get_account_by_id(conn, target["account_id"]) if target else None
        if row is None or target is None or row["state"] != store.SCHEDULED:
            return Done()
        now = self.svc.clock.now()
        stop = self._stop_reason(target, account)
        if stop is not None:
            return self._stop(row, target, stop, now)
        assert account is not None  # a missing account is a stop reason
        after = self.schedule.next_due(row["published_at"], now)
        if account["status"] != AccountStatus.ACTIVE.value:
            why = f"the account is {account['status']}; reconnect it to resume the metrics"
            return self._failed(row, target, now, after, ErrorKind.AUTH.value,
                                "account_needs_reauth", why, retry=False)  # fmt: skip
        client = build_client(self.svc, Platform(account["platform"]), Mode(account["mode"]))
        paced = self._pace(client.metrics_budgets(), account, now)
        if paced is not None:
            return paced
        try:
            counts = call_as(
                self.svc, account, client,
                lambda c: client.fetch_metrics(target["external_id"], c,
                                               author=account["external_id"]),
            )  # fmt: skip
        except RefreshInProgress as busy:
            return RunAgain(now + timedelta(seconds=busy.retry_after))
        except AccountUnusable as err:
            return self._failed(row, target, now, after, ErrorKind.AUTH.value,
                                "account_needs_reauth", err.reason, retry=False)  # fmt: skip
        except PostGone as err:
            return self._stop(row, target, "gone_on_platform", now, detail=err.message)
        except PlatformError as err:
            if err.code == "unsupported_operation":
                return self._stop(row, target, "unsupported", now, detail=err.message)
            return self._failed(row, target, now, after, err.kind.value, err.code, err.message,
                                retry=True, retry_after=err.retry_after)  # fmt: skip
        return self._record(row, target, counts, now, after)

    @staticmethod
    def _stop_reason(target: Row, account: Mapping[str, Any] | None) -> str | None:
        if target["status"] == TargetStatus.DELETED.value:
            return "deleted"
        if target["status"] != TargetStatus.PUBLISHED.value:
            return f"target_{target['status']}"
        if not target["external_id"]:
            return "no_platform_id"
        if account is None or account["status"] == AccountStatus.DISABLED.value:
            return "account_disconnected"
        return None

    def _pace(
        self, rates: tuple[Any, ...], account: Mapping[str, Any], now: datetime
    ) -> Outcome | None:
        """Spend the fetch's budgets, or come back when they have room (not a failure)."""
        if not self.svc.settings.pacing or not rates:
            return None
        wait = pacing.reserve(self.svc.db, Platform(account["platform"]), account["id"], rates,
                              now.timestamp())  # fmt: skip
        if wait <= 0:
            return None
        pacing.report_exhausted(self.svc, account, rates, now.timestamp())
        return RunAgain(now + timedelta(seconds=wait))

    def _record(
        self,
        row: Row,
        target: Row,
        counts: Mapping[str, int],
        now: datetime,
        after: datetime | None,
    ) -> Outcome:
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            store.record(conn, row, counts, fetched_at=now, next_fetch_at=after)
            post = posts.get_post(conn, target["tenant_id"], target["post_id"])
            if post is not None:
                outbox.emit(
                    conn, tenant_id=target["tenant_id"], mode=post["mode"],
                    event_type="post.metrics_updated", now=now, post_id=target["post_id"],
                    data=metrics_event(target, row["published_at"], counts, now),
                )  # fmt: skip
        return RunAgain(after) if after is not None else Done()

    def _failed(
        self,
        row: Row,
        target: Row,
        now: datetime,
        after: datetime | None,
        kind: str,
        code: str,
        message: str,
        *,
        retry: bool,
        retry_after: float | None = None,
    ) -> Outcome:
        """Explain a fetch that did not happen; when `retry`, try it again with backoff, up
        to `target_max_transient_errors` tries and never past the next due time, which is
        then waited for instead."""
        failures = int(row["failures"]) + 1
        at: datetime | None = after
        # `failures` runs on across due times until a fetch succeeds: each due gets its tries.
        if retry and failures % self.svc.settings.target_max_transient_errors:
            delay = max(retry_after or 0.0, self.svc.backoff.delay(failures))
            soon = now + timedelta(seconds=delay)
            if after is None or soon < after:
                at = soon
        state = store.SCHEDULED if at is not None else store.FINISHED
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            store.update(conn, row["target_id"], now, failures=failures, error_kind=kind,
                         error_code=code, error_message=message, next_fetch_at=at,
                         state=state)  # fmt: skip
            ledger.append_event(
                conn, tenant_id=target["tenant_id"], post_id=target["post_id"],
                target_id=target["id"], account_id=target["account_id"],
                event_type="metrics_fetch_failed", now=now,
                data={"platform": target["platform"], "error_kind": kind, "code": code,
                      "message": message, "attempt": failures,
                      "next_attempt_at": at.isoformat() if at else None},
            )  # fmt: skip
        return RunAgain(at) if at is not None else Done()

    def _stop(
        self, row: Row, target: Row, reason: str, now: datetime, detail: str | None = None
    ) -> Outcome:
        with self.svc.db.write() as conn:
            self.ctx.fence(conn)
            store.stop(conn, row["target_id"], reason, now)
            ledger.append_event(
                conn, tenant_id=target["tenant_id"], post_id=target["post_id"],
                target_id=target["id"], account_id=target["account_id"],
                event_type="metrics_stopped", now=now,
                data={"platform": target["platform"], "reason": reason, "message": detail},
            )  # fmt: skip
        return Done()


def metrics_event(
    target: Mapping[str, Any], published_at: datetime, counts: Mapping[str, int], now: datetime
) -> dict[str, Any]:
    """The `data` of `post.metrics_updated`."""
    core, extra = store.split(counts)
    return {
        "post_id": target["post_id"],
        "target": {
            "id": target["id"],
            "platform": target["platform"],
            "account_id": target["account_id"],
            "external_id": target["external_id"],
            "external_url": target["external_url"],
        },
        "fetched_at": now,
        "age_seconds": int((now - published_at).total_seconds()),
        "metrics": {**core, "extra": extra},
    }
