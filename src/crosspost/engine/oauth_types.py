"""What the OAuth server hands authlib and gets back: parsed calls and replies, the
person authorising, and authlib's views of our clients, codes and tokens (the mixins its
grants call)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request

from crosspost.domain.enums import KeyRole
from crosspost.engine.oauth_clients import AccessClaims
from crosspost.errors import CrosspostError
from crosspost.store.rows import Row
from crosspost.vault.apikeys import hash_key

CLIENT_CREDENTIALS = "client_credentials"
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
APP_METHODS = [*SECRET_METHODS, "none"]
GRANT_TYPES = ("authorization_code", "refresh_token", CLIENT_CREDENTIALS)
_TITLES = {
    "invalid_request": "Invalid token request",
    "invalid_client": "Client authentication failed",
    "invalid_grant": "Invalid grant",
    "unauthorized_client": "Grant type not allowed for this client",
    "unsupported_grant_type": "Unsupported grant type",
    "unsupported_token_type": "Unsupported token type",
    "invalid_scope": "Invalid scope",
    "access_denied": "Access denied",
}


class TokenError(CrosspostError):
    """An RFC 6749 §5.2 error that is also problem+json: the body carries `error` and
    `error_description`, and `code` equals `error` unless a finer one is given."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        title: str | None = None,
        code: str | None = None,
    ) -> None:
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="crosspost"'
        super().__init__(
            description, code=code or error, error=error, error_description=description,
            headers=headers,
        )  # fmt: skip
        self.status = status
        self.title = title or _TITLES.get(error, "Token request refused")


@dataclass(frozen=True)
class OAuthCall:
    """An HTTP request to an OAuth endpoint, already parsed: `params` are the query's (on
    the authorization endpoint) or the form body's, each given once."""

    method: str
    uri: str
    # Secrets, codes and tokens travel in these: never in a repr.
    headers: Mapping[str, str] = field(repr=False)
    params: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Reply:
    """What authlib answers: a status, a JSON body (or none) and headers."""

    status: int
    body: dict[str, Any] = field(repr=False)  # tokens, when it succeeds
    headers: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def location(self) -> str | None:
        """Where a redirect goes."""
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    def error(self) -> TokenError | None:
        """The refusal this reply carries, as problem+json, unless it redirects."""
        if self.status < 400 or "error" not in self.body:
            return None
        error = str(self.body["error"])
        description = str(self.body.get("error_description") or _TITLES.get(error, error))
        status = 401 if error == "invalid_client" else self.status
        return TokenError(error, description, status=status)


@dataclass(frozen=True)
class Person:
    """The signed-in person authorising an app, as authlib's `user`."""

    user_id: str
    role: KeyRole
    grant_id: str | None = None

    def get_user_id(self) -> str:
        """authlib's user id."""
        return self.user_id


@dataclass(frozen=True)
class ConsentRequest:
    """A valid authorization request, for the consent page: the app, what it asks, what the
    person's role lets them grant, and the parameters to send back with the decision."""

    client_id: str
    app_name: str
    workspace: str
    redirect_uri: str
    requested: tuple[str, ...]
    grantable: tuple[str, ...]
    params: Mapping[str, str]


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Mapping[str, str]) -> None:
        self._data = dict(params)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self._data.items()}


class CallRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, call: OAuthCall) -> None:
        # The framework's headers as they are: authlib reads `Authorization` by that name.
        super().__init__(call.method, call.uri, headers=call.headers)
        self.payload = Payload(call.params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class Client(ClientMixin):  # type: ignore[misc]
    """A stored client as authlib sees it."""

    def __init__(self, row: Row, secret_key: bytes) -> None:
        self.row = row
        self._secret_key = secret_key
        self.is_app = row["kind"] == "app"
        self.scopes: tuple[str, ...] = tuple(row["scopes"])

    def get_client_id(self) -> str:
        return str(self.row["id"])

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row["redirect_uris"] or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.scopes)
        wanted = scope.split()
        if not set(wanted) <= set(self.scopes):
            return None
        return " ".join(s for s in self.scopes if s in wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.is_app and redirect_uri in (self.row["redirect_uris"] or [])

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row["secret_hash"]
        presented = hash_key(client_secret, self._secret_key)
        return stored is not None and hmac.compare_digest(presented, stored)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row["client_type"] == "public":
            return method == "none"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return self.is_app and response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if self.is_app:
            return grant_type in GRANT_TYPES[:2]
        return grant_type == CLIENT_CREDENTIALS


@dataclass
class Code:
    """An authorization code's row, as authlib's code grant reads it."""

    row: Row

    def get_redirect_uri(self) -> str:
        return str(self.row["redirect_uri"])

    def get_scope(self) -> str:
        return " ".join(self.row["scopes"])

    @property
    def code_challenge(self) -> str:
        return str(self.row["code_challenge"])

    @property
    def code_challenge_method(self) -> str:
        return "S256"


@dataclass
class Refresh:
    """A live refresh token's row (with its grant's client and person)."""

    row: Row

    def check_client(self, client: Client) -> bool:
        return bool(self.row["client_id"] == client.get_client_id())

    def get_scope(self) -> str:
        return " ".join(self.row["scopes"])

    def is_expired(self) -> bool:
        return False  # only unexpired ones are found

    def is_revoked(self) -> bool:
        return False  # only live ones are found


@dataclass
class Access:
    """A verified access token, for revocation and introspection."""

    claims: AccessClaims

    def check_client(self, client: Client) -> bool:
        return self.claims.client_id == client.get_client_id()

    def is_expired(self) -> bool:
        return False  # verification refused expired ones

    def is_revoked(self) -> bool:
        return False  # verification refused revoked ones
