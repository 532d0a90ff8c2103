"""The tables of who acts: the operator's keys, the audit log, people and their sessions,
OAuth clients and apps with their codes, grants and refresh tokens, and the keys that sign
access tokens."""

from __future__ import annotations

import sqlalchemy as sa

from crosspost.store.schema import JSONType, UTCDateTime, created, metadata, pk_id, tenant_ref

# Server-level credentials of the operator (`/v1/admin/*`), never a tenant's: issued from
# the CLI on the server's own state, stored only as a keyed hash.
operator_keys = sa.Table(
    "operator_keys",
    metadata,
    pk_id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("display_prefix", sa.String(24), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    created(),
    sa.Column("last_used_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
)

# Who did what: sign-ins, keys, roles, tenants, flags. `tenant_id` None = server-level (an
# operator's act on no one tenant). Kept out of foreign keys so a purge can keep its record.
audit_events = sa.Table(
    "audit_events",
    metadata,
    pk_id(),
    sa.Column("tenant_id", sa.String(40)),
    sa.Column("actor_type", sa.String(16), nullable=False),  # key|operator|user|app|cli|system
    sa.Column("actor_id", sa.String(64)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(32)),
    sa.Column("target_id", sa.String(64)),
    sa.Column("data", JSONType),
    sa.Column("ip", sa.String(64)),
    created(),
    sa.Index("ix_audit_events_tenant_id_id", "tenant_id", "id"),
    sa.Index("ix_audit_events_tenant_id_action_id", "tenant_id", "action", "id"),
)

# People. A user signs in with an email and an Argon2id password (optionally a TOTP code,
# its secret sealed in the vault) and belongs to tenants through memberships with a role.
users = sa.Table(
    "users",
    metadata,
    pk_id(),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # lowercased
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("totp_secret", sa.Text()),  # sealed
    sa.Column("totp_enabled_at", UTCDateTime()),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime()),
    created(),
    sa.Column("last_login_at", UTCDateTime()),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # owner | admin | developer | viewer
    created(),
    sa.Index("ix_memberships_user_id", "user_id"),
)

# Server-side sessions: the cookie carries a random token, the row only its SHA-256.
user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
    tenant_ref(),  # the tenant the session acts in
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    created(),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Index("ix_user_sessions_user_id", "user_id"),
)

# Single-use links: invitations into a tenant and password resets; only the SHA-256 of the
# token is kept, and `used_at` makes the second use fail.
user_tokens = sa.Table(
    "user_tokens",
    metadata,
    pk_id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(12), nullable=False),  # invitation | reset
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id")),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(16)),
    sa.Column("invited_by", sa.String(64)),
    created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Index("ix_user_tokens_tenant_id_kind", "tenant_id", "kind"),
)

# OAuth 2.0 clients: partner backends ('service': client credentials) and third-party apps
# ('app': authorization code + PKCE for a tenant's people). Secrets only as keyed hashes; a
# public app has none.
oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("secret_hash", sa.String(64)),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("tier", sa.String(16)),
    created(),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("kind", sa.String(8), nullable=False, server_default="service"),
    sa.Column("client_type", sa.String(16), nullable=False, server_default="confidential"),
    sa.Column("redirect_uris", JSONType),
)

# Authorization codes (RFC 6749 §4.1), single use, by hash; `grant_id` is the grant the
# exchange started, revoked if the code is ever presented again (§4.1.2).
oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    tenant_ref(),
    sa.Column("client_id", sa.String(40), sa.ForeignKey("oauth_clients.id"), nullable=False),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
    sa.Column("grant_id", sa.String(40)),
)

# What a person authorised an app to do: one per code exchange, the family of every token
# refreshed from it. Revoking it ends all of them.
oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("client_id", sa.String(40), sa.ForeignKey("oauth_clients.id"), nullable=False),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    created(),
    sa.Column("last_used_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("revoked_reason", sa.String(32)),
    sa.Index("ix_oauth_grants_tenant_id_user_id", "tenant_id", "user_id"),
    sa.Index("ix_oauth_grants_client_id", "client_id"),
)

# Refresh tokens by hash; each use rotates it (`rotated_at`), and a rotated one presented
# again revokes its grant (reuse detection, RFC 9700 §4.14.2).
oauth_refresh_tokens = sa.Table(
    "oauth_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    tenant_ref(),
    sa.Column("grant_id", sa.String(40), sa.ForeignKey("oauth_grants.id"), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("rotated_at", UTCDateTime()),
    sa.Index("ix_oauth_refresh_tokens_grant_id", "grant_id"),
)

# Keys that sign our JWT access tokens (server-wide); private halves sealed in the vault.
# A retired key stays published in the JWKS until the tokens it signed have expired.
jwt_keys = sa.Table(
    "jwt_keys",
    metadata,
    pk_id(),
    sa.Column("private_key", sa.Text(), nullable=False),
    sa.Column("public_jwk", JSONType, nullable=False),
    created(),
    sa.Column("retired_at", UTCDateTime()),
)
