"""Consent, access and refresh tokens, OAuth refresh requests and per-token rate windows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from starlette.requests import Request


@dataclass
class Account:
    """A platform user who has consented to our app."""

    handle: str
    external_id: str
    access_ttl: float
    created_at: float


@dataclass
class Grant:
    """Tokens issued by a consent or a refresh."""

    account: Account
    access_token: str
    refresh_token: str
    expires_in: int
    fresh: bool = False  # from a consent or a code, not a refresh


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged (RFC 6749 §4.1, PKCE RFC 7636)."""

    account: Account
    client_id: str
    redirect_uri: str
    challenge: str
    expires_at: float


CODE_TTL_SECONDS = 600.0  # RFC 6749 recommends at most ten minutes


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: base64url(sha256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class AuthFailure(Enum):
    """Why a request's credentials were refused."""

    MISSING = "missing"
    SCHEME = "scheme"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


class TokenStore:
    """Accounts with their access and refresh tokens, kept in memory."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        access_prefix: str,
        refresh_prefix: str,
        refresh_ttl: float | None,
    ) -> None:
        self._clock = clock
        self._access_prefix = access_prefix
        self._refresh_prefix = refresh_prefix
        self._refresh_ttl = refresh_ttl
        self.accounts: dict[str, Account] = {}
        self._access: dict[str, tuple[Account, float]] = {}
        self._refresh: dict[str, tuple[Account, float | None]] = {}
        self._codes: dict[str, AuthCode] = {}

    def consent(self, handle: str, external_id: str, access_ttl: float) -> Grant:
        """Stand in for a user's consent: (re)create the account and issue both tokens."""
        now = self._clock()
        account = self.accounts.get(external_id)
        if account is None:
            account = Account(handle, external_id, access_ttl, now)
            self.accounts[external_id] = account
        else:
            account.handle, account.access_ttl = handle, access_ttl
        refresh = self._new_refresh(account)
        return self._issue(account, refresh)

    def issue_code(
        self, handle: str, external_id: str, access_ttl: float, *, client_id: str,
        redirect_uri: str, challenge: str,
    ) -> str:  # fmt: skip
        """The user said yes: a single-use code bound to the client, redirect and challenge."""
        account = self.accounts.get(external_id)
        if account is None:
            account = Account(handle, external_id, access_ttl, self._clock())
            self.accounts[external_id] = account
        code = secrets.token_urlsafe(32)
        expires = self._clock() + CODE_TTL_SECONDS
        self._codes[code] = AuthCode(account, client_id, redirect_uri, challenge, expires)
        return code

    def redeem_code(
        self, code: str, *, client_id: str, redirect_uri: str, verifier: str
    ) -> Grant | None:
        """Both tokens for a live code presented with its own redirect URI and, if it was issued
        for a PKCE challenge, that challenge's verifier; a code works once."""
        entry = self._codes.pop(code, None)
        if entry is None or self._clock() >= entry.expires_at:
            return None
        if (entry.client_id, entry.redirect_uri) != (client_id, redirect_uri):
            return None
        # A code issued without a challenge (a platform whose web flow has no PKCE) is bound by
        # the client secret alone.
        if entry.challenge and not hmac.compare_digest(s256(verifier), entry.challenge):
            return None
        grant = self._issue(entry.account, self._new_refresh(entry.account))
        grant.fresh = True
        return grant

    def find_by_handle(self, handle: str) -> Account | None:
        """The account with this handle, if one consented already."""
        return next((a for a in self.accounts.values() if a.handle == handle), None)

    def authenticate(self, authorization: str | None) -> Account | AuthFailure:
        """The account a ``Authorization`` header belongs to, or why it is refused."""
        if not authorization:
            return AuthFailure.MISSING
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthFailure.SCHEME
        entry = self._access.get(token.strip())
        if entry is None:
            return AuthFailure.UNKNOWN
        account, expires_at = entry
        if self._clock() >= expires_at:
            return AuthFailure.EXPIRED
        return account

    def refresh(self, refresh_token: str, *, rotate: bool) -> Grant | None:
        """New access token for a live refresh token (a new refresh token too if ``rotate``)."""
        entry = self._refresh.get(refresh_token)
        if entry is None:
            return None
        account, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            return None
        if rotate:
            del self._refresh[refresh_token]
            refresh_token = self._new_refresh(account)
        return self._issue(account, refresh_token)

    def revoke(self, token: str) -> bool:
        """Revoke a token and with it every token of the same grant (the user's consent to
        this app), as Google, X, LinkedIn and TikTok do; False when the token is unknown."""
        entry = self._access.get(token) or self._refresh.get(token)
        if entry is None:
            return False
        account = entry[0]
        self._access = {t: e for t, e in self._access.items() if e[0] is not account}
        self._refresh = {t: e for t, e in self._refresh.items() if e[0] is not account}
        return True

    def expire_all(self) -> None:
        """Every access token issued so far is now expired; later ones are not."""
        now = self._clock()
        self._access = {t: (a, min(exp, now)) for t, (a, exp) in self._access.items()}

    def limit_access(self, access_token: str, ttl: float) -> None:
        """Shorten one access token's life to `ttl` seconds from now (short-lived tokens)."""
        account, expires_at = self._access[access_token]
        self._access[access_token] = (account, min(expires_at, self._clock() + ttl))

    def clear(self) -> None:
        """Forget every account and token."""
        self.accounts.clear()
        self._access.clear()
        self._refresh.clear()
        self._codes.clear()

    def _new_refresh(self, account: Account) -> str:
        token = self._refresh_prefix + secrets.token_urlsafe(32)
        expires = None if self._refresh_ttl is None else self._clock() + self._refresh_ttl
        self._refresh[token] = (account, expires)
        return token

    def _issue(self, account: Account, refresh_token: str) -> Grant:
        token = self._access_prefix + secrets.token_urlsafe(32)
        self._access[token] = (account, self._clock() + account.access_ttl)
        return Grant(account, token, refresh_token, int(account.access_ttl))


class RateWindow:
    """Sliding one-minute windows of request times, per key (e.g. token and endpoint)."""

    def __init__(self, clock: Callable[[], float], window_seconds: float = 60.0) -> None:
        self._clock = clock
        self._window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int) -> bool:
        """Record a request under ``key`` unless ``limit`` were already made in the window."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def clear(self) -> None:
        """Forget all windows."""
        self._hits.clear()


@dataclass
class OAuthRefusal:
    """Why a token request was refused, in OAuth's terms (RFC 6749 §5.2)."""

    status: int
    error: str
    description: str


async def token_request(
    request: Request,
    tokens: TokenStore,
    *,
    client: tuple[str, str],
    client_field: str,
    rotate: bool,
    invalid_grant: str,
    pkce_required: bool = True,
) -> Grant | OAuthRefusal:
    """Handle a form-encoded token request against ``tokens``: ``grant_type=refresh_token``,
    or ``authorization_code`` with ``code``, ``redirect_uri`` and the PKCE ``code_verifier``.

    ``client_field`` names the client id field (``client_id`` for Google, ``client_key`` for
    TikTok); ``invalid_grant`` is the platform's description of a dead refresh token. Without
    ``pkce_required`` a code exchange may omit ``code_verifier`` (the code then says whether it
    needs one).
    """
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        await request.body()
        return OAuthRefusal(400, "invalid_request", "Content-Type must be form-encoded.")
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    grant_type = values.get("grant_type")
    if grant_type is None:
        return OAuthRefusal(400, "invalid_request", "Missing required parameter: grant_type")
    if grant_type not in ("refresh_token", "authorization_code"):
        return OAuthRefusal(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    if (values.get(client_field), values.get("client_secret")) != client:
        return OAuthRefusal(401, "invalid_client", "Unauthorized")
    if grant_type == "authorization_code":
        return _redeem(tokens, values, client[0], pkce_required=pkce_required)
    refresh_token = values.get("refresh_token")
    if not refresh_token:
        return OAuthRefusal(400, "invalid_request", "Missing required parameter: refresh_token")
    grant = tokens.refresh(refresh_token, rotate=rotate)
    if grant is None:
        return OAuthRefusal(400, "invalid_grant", invalid_grant)
    return grant


def _redeem(
    tokens: TokenStore, values: dict[str, str], client_id: str, *, pkce_required: bool
) -> Grant | OAuthRefusal:
    required = (
        ("code", "redirect_uri", "code_verifier") if pkce_required else ("code", "redirect_uri")
    )
    missing = [k for k in required if not values.get(k)]
    if missing:
        return OAuthRefusal(400, "invalid_request", f"Missing required parameter: {missing[0]}")
    grant = tokens.redeem_code(
        values["code"],
        client_id=client_id,
        redirect_uri=values["redirect_uri"],
        verifier=values.get("code_verifier", ""),
    )
    if grant is None:
        return OAuthRefusal(
            400,
            "invalid_grant",
            "The code is invalid, expired, used, or its PKCE verifier or "
            "redirect_uri does not match.",
        )
    return grant


async def revoke_request(
    request: Request,
    tokens: TokenStore,
    *,
    client: tuple[str, str] | None,
    client_field: str = "client_id",
) -> bool | OAuthRefusal:
    """Handle a form-encoded revocation: `token`, with the client's id and secret as form
    fields when `client` is given (LinkedIn, TikTok; Google asks for none). True when a live
    token was revoked, False when it was unknown (most platforms answer 200 either way)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        await request.body()
        return OAuthRefusal(400, "invalid_request", "Content-Type must be form-encoded.")
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if client is not None and (values.get(client_field), values.get("client_secret")) != client:
        return OAuthRefusal(401, "invalid_client", "Client authentication failed.")
    token = values.get("token")
    if not token:
        return OAuthRefusal(400, "invalid_request", "Missing required parameter: token")
    return tokens.revoke(token)
