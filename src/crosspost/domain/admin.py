"""The operator's shapes (`/v1/admin/*`) and the audit log's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crosspost.domain.bounds import Range

TenantStatus = Literal["active", "suspended", "deleted", "purged"]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_tier: str | None = Field(
        default=None, max_length=16, description="Tier of keys created without one."
    )
    require_signing: bool | None = Field(
        default=None, description="Every key of the tenant must sign its requests (HMAC)."
    )
    webhook_max_endpoints: Annotated[int, Range(0, 10_000)] | None = Field(
        default=None, description="Webhook endpoints the tenant may have (null: the server's)."
    )
    webhook_payload_retention_days: Annotated[int, Range(1, 365)] | None = Field(
        default=None, description="Days webhook payloads are kept (null: the server's)."
    )
    analytics_retention_days: Annotated[int, Range(1, 3650)] | None = Field(
        default=None, description="Days API analytics are kept (null: the server's)."
    )
    media_retention_days: Annotated[int, Range(0, 3650)] | None = Field(
        default=None,
        description="Days media no post uses is kept (0: until deleted; null: the server's).",
    )
    published_media_retention_days: Annotated[int, Range(1, 3650)] | None = Field(
        default=None,
        description="Days the media of finished posts is kept after the last post using it "
        "finished (null: as long as the posts, which keep naming it).",
    )


class TenantCreate(_Settings):
    """A new tenant (workspace) and its settings."""

    name: str = Field(min_length=1, max_length=200)


class TenantUpdate(_Settings):
    """Change a tenant's name or settings (`null` returns a setting to the server's)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)


class TenantAdmin(BaseModel):
    """A tenant as the operator sees it."""

    id: str
    name: str
    status: TenantStatus
    is_default: bool
    created_at: datetime
    suspended_at: datetime | None
    deleted_at: datetime | None
    purge_after: datetime | None = Field(
        description="When a deleted tenant is purged; until then `resume` restores it."
    )
    default_tier: str | None
    require_signing: bool
    webhook_max_endpoints: int | None
    webhook_payload_retention_days: int | None
    analytics_retention_days: int | None
    media_retention_days: int | None
    published_media_retention_days: int | None = None


class AuditEventPublic(BaseModel):
    """One entry of the audit log."""

    id: str
    action: str = Field(description="What was done, e.g. `key.created`, `tenant.suspended`.")
    actor_type: str = Field(description="key, operator, user, app, cli or system.")
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    data: dict[str, Any] | None
    ip: str | None
    created_at: datetime
