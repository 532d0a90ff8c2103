"""A pipeline's Twitch channel owner, connected by OAuth: Twitch gives clip downloads only
to a user token of the channel's owner or one of its editors.

`start` hands out Twitch's consent page; `/v1/oauth/callback` takes the state and hands a
Twitch one to `finish`, which trades the code, asks Twitch whose token it is and seals the
tokens on the pipeline. A run downloads with `Owner.token()`, which refreshes the token
shortly before it expires and keeps what Twitch returns (Twitch may rotate the refresh
token, so two workers refreshing at once settle on whichever stored first). `disconnect`
revokes the token and forgets it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from crosspost.clock import Clock
from crosspost.domain.enums import ErrorKind, Mode
from crosspost.domain.pipeline import TwitchConnected
from crosspost.engine import connect
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput, NotFound
from crosspost.pipeline import pipelines
from crosspost.pipeline.twitch_api import DOWNLOAD_SCOPES, TwitchClient, UserGrant
from crosspost.providers.errors import ProviderError
from crosspost.store import pipelines as rows
from crosspost.store.rows import Row

KIND = "twitch"  # the consent's kind in oauth_states, which the callback dispatches on
_EARLY = timedelta(minutes=5)  # a user token is refreshed this long before it expires
log = logging.getLogger("crosspost.pipeline")


def twitch_client(svc: Services, *, test: bool) -> TwitchClient | None:
    """Twitch with this server's app for a mode (the sandbox fake's for test); None when
    no app is configured."""
    auth_base, api_base, client_id, client_secret = svc.settings.twitch(test_mode=test)
    if not client_id or not client_secret:
        return None
    return TwitchClient(
        svc.http,
        client_id=client_id,
        client_secret=client_secret,
        clock=svc.clock,
        auth_base=auth_base,
        api_base=api_base,
    )


def start(
    svc: Services, *, tenant_id: str, pipeline_id: str, return_to: str | None
) -> connect.ConnectStart:
    """Twitch's consent page for connecting the pipeline's channel, valid 15 minutes."""
    with svc.db.read() as conn:
        pipeline = pipelines.get(conn, tenant_id, pipeline_id)
    mode = Mode(pipeline["mode"])
    twitch = configured_client(svc, test=mode is Mode.TEST)
    state, _, expires = connect.new_state(
        svc,
        tenant_id=tenant_id,
        mode=mode,
        kind=KIND,
        return_to=return_to,
        subject_id=pipeline_id,
    )
    url = twitch.authorize_url(
        redirect_uri=svc.settings.oauth_callback_url, state=state, scopes=DOWNLOAD_SCOPES
    )
    return connect.ConnectStart(url, expires)


def finish(
    svc: Services, state: Row, *, code: str | None, error: str | None, description: str | None
) -> TwitchConnected:
    """Complete the consent `state` (taken by the callback) began: the user's tokens,
    validated, sealed on the pipeline. InvalidInput saying why not."""
    code = connect.check_granted("Twitch", code, error, description)
    tenant_id, pipeline_id = state["tenant_id"], str(state["subject_id"])
    with svc.db.read() as conn:
        pipeline = rows.get_pipeline(conn, tenant_id, pipeline_id)
    if pipeline is None:
        raise NotFound(
            f"pipeline {pipeline_id} was deleted while its owner was connecting",
            code="pipeline_not_found",
        )
    twitch = configured_client(svc, test=pipeline["mode"] == Mode.TEST.value)
    try:
        grant = twitch.exchange_code(code, redirect_uri=svc.settings.oauth_callback_url)
        who = twitch.validate(grant.access_token)
    except ProviderError as exc:
        raise InvalidInput(
            f"Twitch refused to complete the connection: {exc.code}: {exc.message}",
            code="oauth_exchange_failed",
        ) from None
    if not set(who.scopes) & set(DOWNLOAD_SCOPES):
        raise InvalidInput(
            f"the consent did not grant {' or '.join(DOWNLOAD_SCOPES)}, which clip downloads "
            "need; connect again and keep the scopes Twitch asks for",
            code="twitch_scope_missing",
        )
    now = svc.clock.now()
    owner = {
        "user_id": who.user_id,
        "login": who.login,
        "role": "owner" if who.login.lower() == pipeline["twitch_login"] else "editor",
        "scopes": list(who.scopes),
        "connected_at": now.isoformat(),
    }
    with svc.db.write() as conn:
        rows.update_pipeline(
            conn,
            pipeline_id,
            {
                "twitch_owner": owner,
                "twitch_credentials": _seal(svc, pipeline, grant),
                "updated_at": now,
            },
        )
    again = (pipeline["twitch_owner"] or {}).get("user_id") == who.user_id
    return TwitchConnected(
        pipeline_id=pipeline_id,
        twitch_login=who.login,
        twitch_user_id=who.user_id,
        status="reconnected" if again else "connected",
    )


def disconnect(svc: Services, *, tenant_id: str, pipeline_id: str) -> bool:
    """Forget the pipeline's Twitch connection; whether Twitch confirmed the revocation."""
    with svc.db.write() as conn:
        pipeline = pipelines.get(conn, tenant_id, pipeline_id)
        if pipeline["twitch_credentials"] is None:
            raise NotFound(
                f"pipeline {pipeline_id} has no Twitch connection", code="twitch_not_connected"
            )
        rows.update_pipeline(
            conn,
            pipeline_id,
            {"twitch_owner": None, "twitch_credentials": None, "updated_at": svc.clock.now()},
        )
    # Forgotten first: a Twitch that cannot be reached must not keep the connection alive
    # here. The revocation is then best effort (an unrevoked token lapses within hours).
    twitch = twitch_client(svc, test=pipeline["mode"] == Mode.TEST.value)
    if twitch is None:
        return False
    try:
        twitch.revoke(_unseal(svc, pipeline)["access_token"])
    except ProviderError as exc:
        log.warning("revoking pipeline %s's Twitch token failed: %s", pipeline_id, exc.code)
        return False
    return True


class Owner:
    """The user a run downloads clips as: their id (Get Clips Download's `editor_id`) and
    a token, renewed near its expiry when `renew` is given."""

    def __init__(
        self,
        user_id: str,
        token: str,
        *,
        expires_at: datetime | None = None,
        renew: Callable[[], UserGrant] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.user_id = user_id
        self._token, self._expires_at = token, expires_at
        self._renew, self._clock = renew, clock
        self._lock = threading.Lock()  # a run's items share it

    def __repr__(self) -> str:
        return f"Owner(user_id={self.user_id!r})"  # never the token

    def token(self) -> str:
        """A current access token."""
        with self._lock:
            if self._renew is None or self._expires_at is None or self._clock is None:
                return self._token
            if self._expires_at - _EARLY <= self._clock.now():
                grant = self._renew()
                self._token, self._expires_at = grant.access_token, grant.expires_at
            return self._token


def connected_owner(svc: Services, pipeline: Row, twitch: TwitchClient) -> Owner | None:
    """The pipeline's connected owner for a run; None when nobody connected the channel."""
    if pipeline["twitch_credentials"] is None or pipeline["twitch_owner"] is None:
        return None
    creds = _unseal(svc, pipeline)
    return Owner(
        str(pipeline["twitch_owner"]["user_id"]),
        creds["access_token"],
        expires_at=datetime.fromisoformat(creds["expires_at"]),
        renew=lambda: _refreshed(svc, pipeline, twitch),
        clock=svc.clock,
    )


def _refreshed(svc: Services, pipeline: Row, twitch: TwitchClient) -> UserGrant:
    """New tokens for the connection, stored; tokens another worker stored meanwhile are
    taken instead when Twitch refuses the refresh token they replaced."""
    with svc.db.read() as conn:
        current = rows.find_pipeline(conn, pipeline["id"])
    if current is None or current["twitch_credentials"] is None:
        raise _not_connected(pipeline, "the connection was removed during the run")
    held = _unseal(svc, current)
    if datetime.fromisoformat(held["expires_at"]) - _EARLY > svc.clock.now():
        return _grant(held)  # another worker refreshed already
    try:
        grant = twitch.refresh(held["refresh_token"])
    except ProviderError as exc:
        if exc.kind is not ErrorKind.AUTH:
            raise
        with svc.db.read() as conn:
            now_held = rows.find_pipeline(conn, pipeline["id"])
        if now_held is not None and now_held["twitch_credentials"] not in (
            None,
            current["twitch_credentials"],
        ):
            return _grant(_unseal(svc, now_held))
        raise _not_connected(pipeline, f"Twitch no longer accepts it ({exc.message})") from None
    with svc.db.write() as conn:
        # Only over the tokens this refresh replaced: a reconnection meanwhile wins.
        rows.replace_twitch_credentials(
            conn, pipeline["id"], old=current["twitch_credentials"], new=_seal(svc, pipeline, grant)
        )
    return grant


def configured_client(svc: Services, *, test: bool) -> TwitchClient:
    """Twitch with this server's app for a mode; InvalidInput saying what to set when no
    app is configured."""
    twitch = twitch_client(svc, test=test)
    if twitch is None:
        raise InvalidInput(
            "Twitch is not configured on this server: set CROSSPOST_TWITCH_CLIENT_ID and "
            "CROSSPOST_TWITCH_CLIENT_SECRET (an app of dev.twitch.tv/console whose OAuth "
            "redirect URL is this server's /v1/oauth/callback)",
            code="twitch_unavailable",
        )
    return twitch


def _not_connected(pipeline: Mapping[str, Any], why: str) -> ProviderError:
    return ProviderError(
        ErrorKind.AUTH,
        "twitch_not_connected",
        f"the channel's Twitch connection no longer works: {why}; connect it again with "
        f"POST /v1/pipelines/{pipeline['id']}/twitch/connect",
    )


def _seal(svc: Services, pipeline: Mapping[str, Any], grant: UserGrant) -> str:
    plain = json.dumps(
        {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_at": grant.expires_at.isoformat(),
        }
    )
    return svc.keyring.encrypt(
        plain, tenant_id=pipeline["tenant_id"], table=pipelines.TABLE, row_id=pipeline["id"]
    )


def _unseal(svc: Services, pipeline: Mapping[str, Any]) -> dict[str, str]:
    plain = svc.keyring.decrypt(
        pipeline["twitch_credentials"],
        tenant_id=pipeline["tenant_id"],
        table=pipelines.TABLE,
        row_id=pipeline["id"],
    )
    return dict(json.loads(plain))


def _grant(creds: Mapping[str, str]) -> UserGrant:
    return UserGrant(
        creds["access_token"], creds["refresh_token"], datetime.fromisoformat(creds["expires_at"])
    )
