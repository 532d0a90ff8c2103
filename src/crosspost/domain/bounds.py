"""Bounded integers for every integer the API accepts: a value the database cannot store
(or the code cannot use) is refused at the door with the field's range, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
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
