"""Connecting an account by OAuth 2.0: authorization code with PKCE (S256) and `state`.

`start_connect` hands out the platform's consent page; the platform sends the user back to
`/v1/oauth/callback`, which takes the state (single use, 15 minutes) and, for an account,
calls `finish_connect`: it trades the code and its verifier for tokens, asks the platform
who the user is, and stores the account (a known user is reconnected). `new_state` and
`take_state` serve other consents too (a pipeline's Twitch owner).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from crosspost.domain.enums import Mode, Platform
from crosspost.engine.accounts import connect_account
from crosspost.engine.clients import build_client
from crosspost.engine.services import Services
from crosspost.engine.tokens import app_credentials
from crosspost.errors import InvalidInput
from crosspost.platforms.base import PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.oauth import authorize_url, pkce_pair
from crosspost.platforms.registry import client_for, supported_platforms
from crosspost.store import oauth_states
from crosspost.store.rows import Row

STATE_TTL = timedelta(minutes=15)
_TABLE = "oauth_states"


@dataclass(frozen=True)
class ConnectStart:
    """Where to send the user, and until when the link works."""

    authorize_url: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    """The account a completed consent stored."""

    account_id: str
    platform: Platform
    handle: str
    created: bool


def _state_hash(svc: Services, state: str) -> str:
    return hmac.new(svc.hash_key, state.encode(), hashlib.sha256).hexdigest()


def start_connect(
    svc: Services, *, tenant_id: str, mode: Mode, platform: Platform, return_to: str | None
) -> ConnectStart:
    """Begin connecting an account: the consent page URL for this tenant and mode."""
    if platform not in supported_platforms():
        raise InvalidInput(
            f"crosspost cannot publish to {platform.value} yet", code="unsupported_platform"
        )
    client = client_for(platform)
    if client.whoami is PlatformClient.whoami:
        raise InvalidInput(
            f"connecting {platform.value} by OAuth is not available yet; import tokens with "
            "POST /v1/accounts",
            code="oauth_not_supported",
        )
    app = app_credentials(svc, platform, mode)
    if not app.client_id:
        name = "CLIENT_KEY" if platform is Platform.TIKTOK else "CLIENT_ID"
        raise InvalidInput(
            f"no {platform.value} app is configured: set CROSSPOST_{platform.value.upper()}_"
            f"{name} and _CLIENT_SECRET",
            code="app_not_configured",
        )
    state, challenge, expires = new_state(
        svc, tenant_id=tenant_id, mode=mode, kind=platform.value, return_to=return_to
    )
    settings = svc.settings
    url = authorize_url(
        client,
        settings.authorize_url(platform, test_mode=mode is Mode.TEST),
        app,
        redirect_uri=settings.oauth_callback_url,
        state=state,
        challenge=challenge,
    )
    return ConnectStart(url, expires)


def new_state(
    svc: Services,
    *,
    tenant_id: str,
    mode: Mode,
    kind: str,
    return_to: str | None,
    subject_id: str | None = None,
) -> tuple[str, str, datetime]:
    """Record a consent in progress: its `state`, PKCE challenge and expiry. `kind` is the
    platform, or another consent the callback hands on (a pipeline's Twitch owner)."""
    now = svc.clock.now()
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    state_hash = _state_hash(svc, state)
    expires = now + STATE_TTL
    with svc.db.write() as conn:
        oauth_states.insert_state(
            conn,
            state_hash=state_hash,
            tenant_id=tenant_id,
            mode=mode.value,
            platform=kind,
            subject_id=subject_id,
            verifier=svc.keyring.encrypt(
                verifier, tenant_id=tenant_id, table=_TABLE, row_id=state_hash
            ),
            return_to=return_to,
            created_at=now,
            expires_at=expires,
        )
    return state, challenge, expires


def take_state(svc: Services, state: str) -> Row:
    """The consent in progress this callback's `state` names, used up by the taking;
    InvalidInput when unknown, already used or expired."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        row = oauth_states.take_state(conn, _state_hash(svc, state), now)
    if row is None:
        raise InvalidInput(
            "this connection link is unknown or was already used; start again",
            code="oauth_state_invalid",
        )
    if row["expires_at"] <= now:
        raise InvalidInput("this connection link expired; start again", code="oauth_state_expired")
    return row


def check_granted(name: str, code: str | None, error: str | None, description: str | None) -> str:
    """The authorization code the callback carries; InvalidInput saying the user or `name`
    refused otherwise."""
    if error or not code:
        raise InvalidInput(
            f"{name} did not grant access: {error or 'no code'}"
            + (f" ({description})" if description else ""),
            code="oauth_denied",
        )
    return code


def finish_connect(
    svc: Services, row: Row, *, code: str | None, error: str | None, description: str | None
) -> Connected:
    """Complete a platform account's consent from its taken state row; raises InvalidInput
    saying why not."""
    platform, mode = Platform(row["platform"]), Mode(row["mode"])
    code = check_granted(platform.value, code, error, description)
    verifier = svc.keyring.decrypt(
        row["verifier"], tenant_id=row["tenant_id"], table=_TABLE, row_id=row["state_hash"]
    )
    client = build_client(svc, platform, mode)
    try:
        creds = client.exchange_code(
            app_credentials(svc, platform, mode),
            code=code,
            verifier=verifier,
            redirect_uri=svc.settings.oauth_callback_url,
        )
        external_id, handle = client.whoami(creds)
    except PlatformError as err:
        raise InvalidInput(
            f"{platform.value} refused to complete the connection: {err.code}: {err.message}",
            code="oauth_exchange_failed",
        ) from None
    account_id, created = connect_account(
        svc,
        tenant_id=row["tenant_id"],
        mode=mode,
        platform=platform,
        external_id=external_id,
        handle=handle,
        creds=creds,
        via="oauth",
    )
    return Connected(account_id, platform, handle, created)
