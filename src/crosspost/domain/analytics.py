"""What the API analytics reports look like: the tenant's (per endpoint, status or key) and
the operator's across tenants (per tenant, endpoint or status)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GroupBy = Literal["endpoint", "status", "key"]
# The operator's report, across tenants: by tenant rather than by key (a key is a tenant's).
AdminGroupBy = Literal["tenant", "endpoint", "status"]


class AnalyticsGroup(BaseModel):
    """Requests of one endpoint, status, key or tenant in the range."""

    group: str = Field(
        description="`METHOD /route/{template}`, the status code, the API key id or (in the "
        "operator's report) the tenant id."
    )
    requests: int
    errors: int = Field(description="Requests answered with a status of 400 or more.")
    p50_ms: float
    p95_ms: float
    p99_ms: float
    request_bytes: int
    response_bytes: int


class AnalyticsReport(BaseModel):
    """API analytics of the tenant over [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy
    data: list[AnalyticsGroup]


class AdminAnalyticsReport(BaseModel):
    """API analytics across tenants over [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: AdminGroupBy
    data: list[AnalyticsGroup] = Field(
        description="One row per tenant id, endpoint or status, most requested first."
    )
