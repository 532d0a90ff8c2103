"""Bounded integers and times for every integer and time the API accepts: a value the
database cannot store (or the code cannot use) is refused at the door with the field's
range, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# What BIGINT (PostgreSQL) and INTEGER (SQLite: 64-bit signed) hold.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# What INTEGER holds on PostgreSQL.
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Range:
    """`Annotated[int, Range(lo, hi)]`: an int from lo to hi inclusive, published as the
    schema's minimum and maximum, refused otherwise with a message naming the range."""

    lo: int
    hi: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Check the bounds after the type's own validation."""
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Publish the bounds (clients and fuzzers read them from the OpenAPI document)."""
        found = handler(schema)
        found.update(minimum=self.lo, maximum=self.hi)
        return found

    def _check(self, value: int) -> int:
        if not self.lo <= value <= self.hi:
            raise PydanticCustomError(
                "int_out_of_range",
                "must be a whole number from {lo} to {hi}",
                {"lo": self.lo, "hi": self.hi},
            )
        return value


# A count, size or limit stored in a BIGINT column (quotas, byte counts).
Count64 = Annotated[int, Range(0, INT64_MAX)]
# A Unix time in seconds, as signed URLs carry it.
UnixSeconds = Annotated[int, Range(0, INT64_MAX)]
# `limit` of a paginated list.
PageLimit = Annotated[int, Range(1, 100)]


# The times a request may carry, on the wall clock of their own offset. Converting one to
# UTC (offsets reach ±24 h) or adding weeks to it then stays inside datetime's years 1 to
# 9999; outside them Python raises OverflowError (a 500 before these bounds).
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9999, 1, 1)
TIME_RANGE = "from 1970-01-01 to 9998-12-31"


def time_in_range(value: datetime) -> bool:
    """Whether a time (naive or aware, read on its own wall clock) is within the range."""
    return EARLIEST <= value.replace(tzinfo=None) < LATEST


@dataclass(frozen=True)
class TimeBounds:
    """`Annotated[datetime, TimeBounds()]`: a time refused outside `TIME_RANGE`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Check the range after the type's own validation."""
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    @staticmethod
    def _check(value: datetime) -> datetime:
        if not time_in_range(value):
            raise PydanticCustomError(
                "time_out_of_range", "must be a time {range}", {"range": TIME_RANGE}
            )
        return value


# A time in a request: with or without its UTC offset, and with one.
Instant = Annotated[datetime, TimeBounds()]
AwareInstant = Annotated[AwareDatetime, TimeBounds()]
