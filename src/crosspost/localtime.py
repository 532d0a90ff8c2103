"""Local wall-clock times read in an IANA zone, refusing the ones daylight saving makes wrong.

A local time inside a spring-forward gap does not exist, and one inside a fall-back overlap
happens twice; zoneinfo would silently pick an instant for both. Here the first is refused with
the nearest times that do exist, and the second unless the caller says which (PEP 495 `fold`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crosspost.errors import InvalidInput


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`; InvalidInput (422) when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a directory of the database ("Europe") or too long.
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Paris",
            code="invalid_timezone",
        ) from None


def _exists(aware: datetime, local: datetime) -> bool:
    """Whether `aware` (local read with a fold) survives a round trip through UTC."""
    zone = aware.tzinfo
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


def _offset(value: datetime) -> str:
    return value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]


def _wall(value: datetime) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _gap_end(local: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the gap `local` falls in (e.g. 03:00+02:00)."""
    # fold=1 reads a gap time with the offset after the change, fold=0 with the one before:
    # the change happened between the two instants they give, and is found to the second.
    low = int(local.replace(tzinfo=zone, fold=1).timestamp())
    high = int(local.replace(tzinfo=zone, fold=0).timestamp())
    after = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, zone)


def local_to_utc(
    local: datetime, zone: ZoneInfo, *, fold: int | None = None, field: str = "publish_at"
) -> datetime:
    """The UTC instant of the naive `local` in `zone`; `fold` picks a repeated time (0: the
    first, 1: the second). InvalidInput for a time that does not exist or that is ambiguous."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    shown = local.isoformat()
    if not _exists(first, local):
        end = _gap_end(local, zone)
        # In UTC: arithmetic on a zoned datetime moves the wall clock, into the gap itself.
        last = (end.astimezone(UTC) - timedelta(seconds=1)).astimezone(zone)
        jump_from = (end.astimezone(UTC) + (last.utcoffset() or timedelta())).replace(tzinfo=None)
        if jump_from.date() == end.date():
            jump = (
                f"on {end.date().isoformat()} clocks jump from {_wall(jump_from)} to {_wall(end)}"
            )
        else:  # a whole day skipped, as Samoa did in 2011
            jump = f"clocks jump from {jump_from:%Y-%m-%d} {_wall(jump_from)} to {end:%Y-%m-%d} "
            jump += _wall(end)
        raise InvalidInput(
            f"{field} {shown} does not exist in {zone.key}: {jump} (UTC offset {_offset(last)} "
            f"to {_offset(end)}). The nearest times that exist are {last.isoformat()} and "
            f"{end.isoformat()}: send one of them",
            code=f"{field}_nonexistent",
            nearest=[last.isoformat(), end.isoformat()],
        )
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    if fold is None:
        raise InvalidInput(
            f"{field} {shown} happens twice in {zone.key}, where clocks go back that day: first "
            f"at {first.isoformat()}, then at {second.isoformat()}. Send `fold`: 0 for the "
            "first or 1 for the second, or give the time with its UTC offset",
            code=f"{field}_ambiguous",
            candidates=[first.isoformat(), second.isoformat()],
        )
    return (second if fold else first).astimezone(UTC)


def check_offset(when: datetime, zone: ZoneInfo, *, field: str = "publish_at") -> None:
    """Refuse an aware time whose UTC offset (other than UTC's own) is not the one `zone` has
    at that time: such an offset was almost always computed for the wrong season."""
    offset = when.utcoffset()
    if not offset:
        return  # a UTC time names an instant whatever the zone
    local = when.replace(tzinfo=None)
    readings = (local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1))
    if any(r.utcoffset() == offset and _exists(r, local) for r in readings):
        return
    there = when.astimezone(zone)
    raise InvalidInput(
        f"{field} {when.isoformat()} has UTC offset {_offset(when)}, which {zone.key} does not "
        f"have at that time: that instant is {there.isoformat()} there. Give the offset "
        f"{zone.key} has, or send the time without an offset to have it read in {zone.key}",
        code=f"{field}_offset_mismatch",
    )
