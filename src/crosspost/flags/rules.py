"""How a flag decides for a tenant: pure functions over an in-memory `Flag`, no I/O.

Precedence, first match wins: killed → off for everyone (even the allow-list); tenant on
the deny-list → off; on the allow-list → on; disabled → off; else on iff the tenant's
bucket falls under the rollout percentage. The bucket is a stable hash of flag and tenant,
so raising the percentage only adds tenants: those already in stay in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Capability flags the code knows, key → description. A registered flag absent from the
# database is on: every capability ships on, and the operator can switch it off or kill it.
KNOWN_FLAGS: dict[str, str] = {
    "admin.tenants": "The operator's tenant administration API (/v1/admin/tenants)",
    "audit.log": "A tenant's audit log (GET /v1/audit)",
    "quotas.per_key": "Quotas on one API key (PUT /v1/usage/quotas with key_id)",
    "oauth.apps": "Third-party apps people authorise (/v1/oauth-apps, /oauth/authorize)",
    "posts.retry": "Retrying a failed target (POST /v1/posts/{id}/targets/{id}/retry)",
    "posts.edit": "Editing a post not yet published everywhere (PATCH /v1/posts/{id})",
    "media.library": "Listing and deleting media (GET /v1/media, DELETE /v1/media/{id})",
    "accounts.disconnect": "Disconnecting an account (DELETE /v1/accounts/{id})",
    "posts.remote_delete": "Taking published posts down on their platforms "
    "(DELETE /v1/posts/{id}/remote, …/targets/{id}/remote)",
    "posts.metrics": "How posts performed (GET /v1/posts/{id}/metrics, GET /v1/analytics/posts)",
}

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
BUCKETS = 10_000  # a bucket is 0.01 %: percentages are compared at that grain


class Reason(StrEnum):
    """Why a flag answered as it did."""

    KILLED = "killed"  # the kill switch: off for everyone
    DENIED = "denied"  # the tenant is on the deny-list
    ALLOWED = "allowed"  # the tenant is on the allow-list
    DISABLED = "disabled"  # switched off
    EVERYONE = "everyone"  # on at 100 %
    IN_ROLLOUT = "in_rollout"  # the tenant's bucket is under the percentage
    OUT_OF_ROLLOUT = "out_of_rollout"  # … or not (every tenant at 0 %)
    NO_TENANT = "no_tenant"  # a partial rollout, asked without a tenant: off
    DEFAULT = "default"  # not in the database, registered in code: on
    UNKNOWN = "unknown"  # neither: the caller's default


@dataclass(frozen=True, slots=True)
class Decision:
    """A flag's answer for one tenant and the reason for it."""

    on: bool
    reason: Reason


# One instance per outcome: evaluation allocates nothing.
_KILLED = Decision(False, Reason.KILLED)
_DENIED = Decision(False, Reason.DENIED)
_ALLOWED = Decision(True, Reason.ALLOWED)
_DISABLED = Decision(False, Reason.DISABLED)
_EVERYONE = Decision(True, Reason.EVERYONE)
_IN = Decision(True, Reason.IN_ROLLOUT)
_OUT = Decision(False, Reason.OUT_OF_ROLLOUT)
_NO_TENANT = Decision(False, Reason.NO_TENANT)
_DEFAULT = Decision(True, Reason.DEFAULT)
_UNKNOWN = {True: Decision(True, Reason.UNKNOWN), False: Decision(False, Reason.UNKNOWN)}


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag as evaluation needs it (a stored row, read into memory)."""

    key: str
    enabled: bool = True
    killed: bool = False
    rollout_percent: int = 100
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    description: str = ""
    version: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Flag:
        """A flag from its stored row (`crosspost.store.flags`)."""
        return cls(
            key=row["key"],
            enabled=bool(row["enabled"]),
            killed=bool(row["killed"]),
            rollout_percent=int(row["rollout_percent"]),
            allow=frozenset(row["allow_tenants"] or ()),
            deny=frozenset(row["deny_tenants"] or ()),
            description=row["description"] or "",
            version=int(row["version"]),
        )


def bucket(key: str, tenant_id: str) -> int:
    """The tenant's place in the flag's rollout, 0 to BUCKETS - 1, the same in every
    process and release (sha256, not Python's salted `hash`)."""
    digest = hashlib.sha256(f"{key}:{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def evaluate(flag: Flag, tenant_id: str | None) -> Decision:
    """Whether `flag` is on for `tenant_id` (None: no tenant, e.g. a server-level check),
    and why."""
    if flag.killed:
        return _KILLED
    if tenant_id is not None:
        if tenant_id in flag.deny:
            return _DENIED
        if tenant_id in flag.allow:
            return _ALLOWED
    if not flag.enabled:
        return _DISABLED
    percent = flag.rollout_percent
    if percent >= 100:
        return _EVERYONE
    if percent <= 0:
        return _OUT
    if tenant_id is None:
        # A partial rollout places tenants; a caller that is none cannot be placed.
        return _NO_TENANT
    return _IN if bucket(flag.key, tenant_id) < percent * (BUCKETS // 100) else _OUT


def absent(key: str, default: bool) -> Decision:
    """The answer for a flag the database does not hold: on if the code registers it,
    else the caller's default."""
    return _DEFAULT if key in KNOWN_FLAGS else _UNKNOWN[default]


def explain(flag: Flag | None, tenant_id: str | None, decision: Decision) -> str:
    """One sentence saying why, for people (`crosspost flags check`)."""
    rollout = decision.reason in (Reason.IN_ROLLOUT, Reason.OUT_OF_ROLLOUT)
    if rollout and flag is not None and tenant_id is not None:
        place = bucket(flag.key, tenant_id) / (BUCKETS // 100)
        side = "under" if decision.on else "not under"
        return (
            f"the tenant's bucket ({place:.2f} %) is {side} the rollout ({flag.rollout_percent} %)"
        )
    return _EXPLAINED[decision.reason]


_EXPLAINED = {
    Reason.KILLED: "the flag is killed: off for every tenant, allow-list included",
    Reason.DENIED: "the tenant is on the deny-list",
    Reason.ALLOWED: "the tenant is on the allow-list",
    Reason.DISABLED: "the flag is switched off",
    Reason.EVERYONE: "the flag is on for every tenant (100 %)",
    Reason.OUT_OF_ROLLOUT: "the rollout is 0 %",
    Reason.NO_TENANT: "a partial rollout needs a tenant to place",
    Reason.DEFAULT: "the flag is not stored; the code registers it, and code flags default on",
    Reason.UNKNOWN: "no such flag, stored or registered: the caller's default",
}
