"""Distributions: a release sent out on a channel, retried, taken down, and shown.

A distribution is one row per release and channel; each delivery (the first, a retry, a
takedown) is its next attempt, carried out by one `/v1/jobs` job (`distribution_job`).
Every change of status is a `distribution.status_changed` webhook; reaching live or failed
is also `distribution.live` or `distribution.failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.distribution import distributor, releases
from crosspost.domain.enums import Mode
from crosspost.domain.music import (
    ChannelCost,
    CostEstimate,
    DistributionError,
    DistributionPublic,
    DistributionRequest,
    StorePublic,
)
from crosspost.engine import tasks
from crosspost.engine.posts import resolve_targets
from crosspost.engine.services import Services
from crosspost.errors import Conflict, InvalidInput, NotFound, Problems
from crosspost.ids import new_id
from crosspost.store import distributions as rows
from crosspost.store import ledger
from crosspost.store import releases as release_rows
from crosspost.store.rows import Row
from crosspost.webhooks import outbox

JOB_KIND = "distribution.ddex.v1"
ACTIVE = ("pending", "uploading", "processing", "scheduled")
ENDED = ("failed", "taken_down")


def start(
    svc: Services, conn: Connection, *, tenant_id: str, release_id: str, body: DistributionRequest
) -> list[Row]:
    """Send a release out on each channel asked for, in the caller's transaction: one job
    per channel. 409 for a channel it is already out on (or going out on); a date in the
    past is 422."""
    release = releases.get(conn, tenant_id, release_id, lock=True)
    test = release["mode"] == Mode.TEST.value
    today = svc.clock.now().date()
    when = body.release_date or release["digital_release_date"] or today
    if when < today:
        raise InvalidInput(
            f"the release date {when.isoformat()} is in the past; give today "
            f"({today.isoformat()}) or a later date",
            code="release_date_past",
        )
    held = {d["channel"]: d for d in rows.of_release(conn, release_id)}
    started = []
    for channel in dict.fromkeys(body.channels):
        existing = held.get(channel)
        if existing is not None and existing["status"] not in ENDED:
            raise Conflict(
                f"the release is already {existing['status']} on {channel} (distribution "
                f"{existing['id']}); retry it once failed, or take it down",
                code="already_distributed",
            )
        external = None
        if channel == "soundcloud":
            external = {"account_id": _soundcloud_account(conn, release, body)}
        else:
            distributor.check_configured(svc, test=test)
        started.append(
            _attempt(svc, conn, release, channel, when, "deliver", existing, external=external)
        )
    return started


def _soundcloud_account(conn: Connection, release: Row, body: DistributionRequest) -> str:
    """The SoundCloud account the release goes to (422 when none or several fit)."""
    problems = Problems()
    named = body.soundcloud_account_id or "soundcloud"
    found = resolve_targets(conn, release["tenant_id"], Mode(release["mode"]), [named], problems)
    # One account, not a list of targets: the problem is the field's own.
    problems.found = [("soundcloud_account_id", exc) for _, exc in problems.found]
    problems.raise_found()
    account = found[0][1]
    if account["platform"] != "soundcloud":
        raise InvalidInput(
            f"account {account['id']} is on {account['platform']}; give a SoundCloud account",
            code="not_a_soundcloud_account",
        )
    return str(account["id"])


def estimate(
    svc: Services, conn: Connection, *, tenant_id: str, release_id: str, channels: Sequence[str]
) -> CostEstimate:
    """What sending the release out on `channels` would cost, from the operator's table."""
    releases.get(conn, tenant_id, release_id)
    tracks = len(release_rows.tracks_of(conn, [release_id])[release_id])
    priced: list[ChannelCost] = []
    totals: dict[str, float] = {}
    for channel in dict.fromkeys(channels):
        table = svc.settings.distribution_costs.get(channel, {})
        per_release = float(table.get("per_release", 0.0))
        per_track = float(table.get("per_track", 0.0))
        currency = str(table.get("currency", "USD"))
        amount = round(per_release + per_track * tracks, 2)
        cost = ChannelCost.model_validate(
            {
                "channel": channel,
                "per_release": per_release,
                "per_track": per_track,
                "tracks": tracks,
                "amount": amount,
                "currency": currency,
            }
        )
        priced.append(cost)
        totals[currency] = round(totals.get(currency, 0.0) + amount, 2)
    return CostEstimate(release_id=release_id, channels=priced, totals=totals)


def replace_release(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    mode: Mode,
    prepared: releases.Prepared,
    release_id: str,
) -> Row:
    """Replace a release (checked by `releases.prepare`) in the caller's transaction; each
    DDEX distribution live in stores is sent the change as its next attempt (an update)."""
    row = releases.store(
        svc, conn, tenant_id=tenant_id, mode=mode, prepared=prepared, release_id=release_id,
        live_ok=True,
    )  # fmt: skip
    for live in rows.of_release(conn, release_id):
        if live["channel"] == "ddex" and live["status"] == "live":
            _attempt(svc, conn, row, live["channel"], live["release_date"], "update", live)
    return row


def retry(svc: Services, conn: Connection, *, tenant_id: str, distribution_id: str) -> Row:
    """Deliver a failed distribution again (its next attempt, a new batch)."""
    row = get(conn, tenant_id, distribution_id, lock=True)
    if row["status"] != "failed":
        raise Conflict(
            f"only a failed distribution is retried; this one is {row['status']}",
            code="distribution_not_failed",
        )
    release = releases.get(conn, tenant_id, row["release_id"])
    action = row["action"]
    today = svc.clock.now().date()
    return _attempt(
        svc, conn, release, row["channel"], max(row["release_date"], today), action, row
    )


def take_down(svc: Services, conn: Connection, *, tenant_id: str, distribution_id: str) -> Row:
    """Withdraw a release from every store of the channel (a takedown message)."""
    row = get(conn, tenant_id, distribution_id, lock=True)
    if row["status"] in ACTIVE:
        raise Conflict(
            f"the distribution is {row['status']}; take it down once it is live (or failed)",
            code="distribution_in_progress",
        )
    if row["status"] == "taken_down":
        raise Conflict("the release is already taken down", code="already_taken_down")
    release = releases.get(conn, tenant_id, row["release_id"])
    return _attempt(svc, conn, release, row["channel"], row["release_date"], "takedown", row)


def get(conn: Connection, tenant_id: str, distribution_id: str, *, lock: bool = False) -> Row:
    """A tenant's distribution; 404 otherwise."""
    row = rows.get_distribution(conn, tenant_id, distribution_id, lock=lock)
    if row is None:
        raise NotFound(f"no distribution {distribution_id!r}", code="distribution_not_found")
    return row


def public(row: Row, stores: Sequence[Row]) -> DistributionPublic:
    """The API's view of a distribution and its stores."""
    error = None
    if row["error_code"] is not None:
        error = DistributionError(code=row["error_code"], message=row["error_message"] or "")
    return DistributionPublic(
        id=row["id"],
        release_id=row["release_id"],
        channel=row["channel"],
        status=row["status"],
        action=row["action"],
        release_date=row["release_date"],
        attempt=row["attempt"],
        batch_id=row["batch_id"],
        job_id=row["task_id"],
        external_ids=_external_ids(row),
        error=error,
        stores=[StorePublic.model_validate(s) for s in stores],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        completed_at=row["completed_at"],
    )


def _external_ids(row: Row) -> dict[str, Any]:
    """The channel's own ids, as a customer can use them (internal bookkeeping left out)."""
    external = row.get("external") or {}
    shown: dict[str, Any] = {}
    if "posts" in external:
        shown["post_ids"] = list(external["posts"])
    if "set" in external:
        shown["set_id"], shown["set_url"] = external["set"]["id"], external["set"]["url"]
    return shown


def views(conn: Connection, found: Sequence[Row]) -> list[DistributionPublic]:
    """The API's view of distributions, their stores read in one query."""
    stores = rows.stores_of(conn, [d["id"] for d in found])
    return [public(d, stores[d["id"]]) for d in found]


def set_status(
    svc: Services,
    conn: Connection,
    row: Row,
    status: str,
    *,
    error: tuple[str, str] | None = None,
    **values: Any,
) -> Row:
    """Move a distribution to `status` in the caller's transaction, with its webhooks."""
    now = svc.clock.now()
    change: dict[str, Any] = {"status": status, "updated_at": now, **values}
    if error is not None:
        change["error_code"], change["error_message"] = error
    if status in ("live", "failed", "taken_down"):
        change["completed_at"] = now
    rows.update_distribution(conn, row["id"], change)
    updated = {**row, **change}
    if status == row["status"]:
        return updated
    data: dict[str, Any] = {
        "distribution_id": row["id"],
        "release_id": row["release_id"],
        "channel": row["channel"],
        "status": status,
        "previous_status": row["status"],
        "attempt": updated["attempt"],
    }
    step = {k: v for k, v in data.items() if k != "distribution_id"}
    if updated.get("batch_id"):
        step["batch_id"] = updated["batch_id"]
    if error is not None:
        step["error"] = {"code": error[0], "message": error[1]}
    ledger.append_event(
        conn,
        tenant_id=row["tenant_id"],
        event_type=f"distribution_{status}",
        now=now,
        distribution_id=row["id"],
        data=step,
    )
    events = [("distribution.status_changed", data)]
    if status == "live":
        events.append(("distribution.live", data))
    elif status == "failed":
        reason = {"code": updated["error_code"], "message": updated["error_message"] or ""}
        events.append(("distribution.failed", {**data, "error": reason}))
    for event_type, payload in events:
        outbox.emit(
            conn,
            tenant_id=row["tenant_id"],
            mode=row["mode"],
            event_type=event_type,
            data=payload,
            now=now,
        )
    return updated


def _attempt(
    svc: Services,
    conn: Connection,
    release: Row,
    channel: str,
    when: date,
    action: str,
    existing: Row | None,
    *,
    external: dict[str, Any] | None = None,
) -> Row:
    """The distribution's next attempt (its first when `existing` is None), queued."""
    now = svc.clock.now()
    distribution_id = existing["id"] if existing is not None else new_id("dst")
    attempt = existing["attempt"] + 1 if existing is not None else 1
    task = tasks.start_task(
        svc,
        conn,
        tenant_id=release["tenant_id"],
        mode=release["mode"],
        kind="distribution",
        job_kind=JOB_KIND,
        subject_id=distribution_id,
        params={"attempt": attempt, "action": action},
        unit="files",
    )
    values = {
        "status": "pending",
        "release_date": when,
        "action": action,
        "attempt": attempt,
        "batch_id": None,
        "task_id": task["id"],
        "error_code": None,
        "error_message": None,
        "updated_at": now,
        "delivered_at": None,
        "completed_at": None,
    }
    if existing is None:
        ledger.append_event(
            conn,
            tenant_id=release["tenant_id"],
            event_type="distribution_created",
            now=now,
            distribution_id=distribution_id,
            data={"release_id": release["id"], "channel": channel, "action": action,
                  "release_date": when.isoformat(), "job_id": task["id"]},
        )  # fmt: skip
        rows.insert_distribution(
            conn,
            {
                "external": external,
                "id": distribution_id,
                "tenant_id": release["tenant_id"],
                "release_id": release["id"],
                "mode": release["mode"],
                "channel": channel,
                "created_at": now,
                **values,
            },
        )
        return {**values, "id": distribution_id, "tenant_id": release["tenant_id"],
                "release_id": release["id"], "mode": release["mode"], "channel": channel,
                "created_at": now, "external": external}  # fmt: skip
    rows.update_distribution(conn, distribution_id, values)
    rows.clear_stores(conn, distribution_id)
    return set_status(svc, conn, {**existing, **values, "status": existing["status"]}, "pending")
