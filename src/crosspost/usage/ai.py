"""Seed 002's cost controls: `transcription_minutes` (audio sent to the transcription API) and
`llm_tokens` (prompt and completion tokens of the LLM judge and writer), per month under the
tenant's and key's quotas.

As with the studio's processing minutes, work is checked before it starts (402 naming the
cap when the month has no room for it) and counted once it is done, never refused then: the
provider has already been paid. Work in flight together can pass a cap by what it spends;
the next piece of work is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from crosspost.usage import metering
from crosspost.usage.metering import UsageWarning


def check_transcription(
    conn: Connection, *, tenant_id: str, key_id: str, seconds: float, now: datetime
) -> None:
    """Refuse (QuotaExceeded, 402) transcribing `seconds` of audio that this month's
    `transcription_minutes` hard limit has no room for."""
    metering.check_room(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        metric=metering.TRANSCRIPTION_MINUTES,
        amount=max(metering.minutes_to_ms(max(seconds, 0.0) / 60), 1),
        now=now,
    )


def meter_transcription(
    conn: Connection, *, tenant_id: str, key_id: str, seconds: float, now: datetime
) -> list[UsageWarning]:
    """Count `seconds` of audio transcribed, in the transaction that keeps the transcript."""
    return metering.meter(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        amounts={metering.TRANSCRIPTION_MINUTES: metering.minutes_to_ms(max(seconds, 0.0) / 60)},
        now=now,
        enforce=False,
    )


def check_tokens(conn: Connection, *, tenant_id: str, key_id: str, now: datetime) -> None:
    """Refuse (QuotaExceeded, 402) an LLM call when this month's `llm_tokens` hard limit is
    spent (a call's size is known only once it is answered)."""
    metering.check_room(
        conn, tenant_id=tenant_id, key_id=key_id, metric=metering.LLM_TOKENS, amount=1, now=now
    )


def meter_tokens(
    conn: Connection, *, tenant_id: str, key_id: str, tokens: int, now: datetime
) -> list[UsageWarning]:
    """Count `tokens` an LLM call spent, in the transaction that keeps its answer."""
    return metering.meter(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        amounts={metering.LLM_TOKENS: tokens},
        now=now,
        enforce=False,
    )
