"""The clip studio's usage (seed 000's "minutes processed" and "exports created"):
`processing_minutes`, the seconds of source video rendered or scanned for highlights, and
`renders`, the clip renders asked for, each per month under the tenant's and key's quotas.

Work is checked before it starts (`check_processing`, 402 when the month's hard limit has
no room for it) and its minutes are counted once it is done (`meter_processing`), never
refused then: the work is already spent. Renders in flight together can therefore pass the
limit by at most what they process; the next request is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from crosspost.usage import metering
from crosspost.usage.metering import UsageWarning


def processing_ms(seconds: float) -> int:
    """Seconds of source video as the milliseconds `processing_minutes` counts."""
    return metering.minutes_to_ms(max(seconds, 0.0) / 60)


def check_processing(
    conn: Connection, *, tenant_id: str, key_id: str, seconds: float, now: datetime
) -> None:
    """Refuse (QuotaExceeded, 402) work on `seconds` of source video that this month's
    `processing_minutes` hard limit (the tenant's or the key's) has no room for."""
    metering.check_room(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        metric=metering.PROCESSING_MINUTES,
        amount=processing_ms(seconds),
        now=now,
    )


def meter_processing(
    conn: Connection, *, tenant_id: str, key_id: str, seconds: float, now: datetime
) -> list[UsageWarning]:
    """Count `seconds` of source video processed, in the caller's transaction (the one that
    records the work's result); past the soft limit it warns, it never refuses."""
    return metering.meter(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        amounts={metering.PROCESSING_MINUTES: processing_ms(seconds)},
        now=now,
        enforce=False,
    )


def count_render(
    conn: Connection, *, tenant_id: str, key_id: str, seconds: float, now: datetime
) -> list[UsageWarning]:
    """Count one render asked for, in the caller's transaction, after checking that its
    `seconds` of video fit this month's `processing_minutes`; QuotaExceeded (402) past
    either hard limit, and the caller's transaction must then roll back."""
    check_processing(conn, tenant_id=tenant_id, key_id=key_id, seconds=seconds, now=now)
    return metering.meter(
        conn, tenant_id=tenant_id, key_id=key_id, amounts={metering.RENDERS: 1}, now=now
    )
