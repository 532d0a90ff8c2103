"""Our Twitch client against the Twitch fake over real HTTP: the app token, a broadcaster,
a date range of clips across pages, download URLs with a user token, the media itself,
and refusals classified."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import pytest

from crosspost.clock import SystemClock
from crosspost.domain.enums import ErrorKind
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.fakes.twitch import (
    SANDBOX_BROADCASTER_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_LOGIN,
    create_twitch_app,
)
from crosspost.pipeline.twitch_api import TwitchClient, UserGrant
from crosspost.providers.errors import ProviderError


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """A fresh Twitch fake of this test's own."""
    running = serve_in_thread(create_twitch_app())
    yield running
    running.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The HTTP client the Twitch client sends with."""
    with httpx.Client(timeout=30) as client:
        yield client


def _client(
    server: RunningServer, http: httpx.Client, secret: str = SANDBOX_CLIENT_SECRET
) -> TwitchClient:
    return TwitchClient(
        http,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=secret,
        clock=SystemClock(),
        auth_base=server.url,
        api_base=server.url,
    )


def test_clips_of_a_range_are_read_across_pages_once_each(
    server: RunningServer, http: httpx.Client
) -> None:
    """The sample channel's clips of the last four days, three at a time: each once, all
    inside the range; one app token serves every call."""
    client = _client(server, http)
    broadcaster = client.broadcaster(SANDBOX_LOGIN)
    assert broadcaster is not None and broadcaster.id == SANDBOX_BROADCASTER_ID
    assert client.broadcaster("nobody_here_at_all") is None
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = until - timedelta(days=4)
    clips = list(client.clips(broadcaster.id, since, until, page=3))
    assert len(clips) == 12 and len({c.id for c in clips}) == 12
    assert all(since <= c.created_at < until and 0 < c.duration <= 60 for c in clips)
    state = http.get(f"{server.url}/_fake/state").json()
    assert state["tokens_issued"]["app"] == 1


def test_a_clip_downloads_with_a_user_token(
    server: RunningServer, http: httpx.Client, tmp_path: Path
) -> None:
    """Get Clips Download with the channel owner's token gives a URL whose bytes decode as
    a video of the clip's length; an app token is refused there."""
    client = _client(server, http)
    owner = http.post(f"{server.url}/_fake/accounts", json={"login": SANDBOX_LOGIN}).json()
    until = datetime.now(UTC) + timedelta(minutes=1)
    clip = next(client.clips(SANDBOX_BROADCASTER_ID, until - timedelta(days=4), until))
    urls = client.download_urls(
        owner["access_token"],
        editor_id=owner["user_id"],
        broadcaster_id=SANDBOX_BROADCASTER_ID,
        clip_ids=[clip.id],
    )
    url = urls[clip.id]
    assert url is not None
    target = tmp_path / "clip.mp4"
    size = client.fetch(url, target, max_bytes=50 * 1024 * 1024)
    assert size == target.stat().st_size > 0
    with av.open(str(target)) as container:
        assert container.streams.video and container.streams.audio
        assert abs(float(container.duration or 0) / 1_000_000 - clip.duration) < 1.0
    with pytest.raises(ProviderError) as small:
        client.fetch(url, tmp_path / "again.mp4", max_bytes=10)
    assert small.value.code == "clip_too_large"


def test_refusals_are_classified(server: RunningServer, http: httpx.Client) -> None:
    """A wrong client secret is `auth`; a spent rate limit `rate_limited` with a wait; a
    Twitch 503 `transient`."""
    with pytest.raises(ProviderError) as wrong:
        _client(server, http, secret="not-it").broadcaster(SANDBOX_LOGIN)
    assert wrong.value.kind is ErrorKind.AUTH
    assert "not-it" not in str(wrong.value)
    client = _client(server, http)
    http.post(f"{server.url}/_fake/faults", json={"status": 429, "count": 1})
    with pytest.raises(ProviderError) as limited:
        client.broadcaster(SANDBOX_LOGIN)
    assert limited.value.kind is ErrorKind.RATE_LIMITED and limited.value.retry_after
    http.post(f"{server.url}/_fake/faults", json={"status": 503, "count": 1})
    with pytest.raises(ProviderError) as down:
        client.broadcaster(SANDBOX_LOGIN)
    assert down.value.kind is ErrorKind.TRANSIENT
    assert client.broadcaster(SANDBOX_LOGIN) is not None


def test_a_user_consent_is_exchanged_validated_refreshed_and_revoked(
    server: RunningServer, http: httpx.Client
) -> None:
    """The authorization code flow end to end: the consent page's code for tokens, whose
    they are, a refresh that rotates them, a revocation; each refusal is classified."""
    client = _client(server, http)
    back = "https://crosspost.example/v1/oauth/callback"
    url = client.authorize_url(redirect_uri=back, state="s1", scopes=["channel:manage:clips"])
    consent = http.get(f"{url}&consent=allow&login={SANDBOX_LOGIN}")
    assert consent.status_code == 302, consent.text
    code = httpx.URL(consent.headers["location"]).params["code"]
    with pytest.raises(ProviderError) as wrong_uri:
        client.exchange_code(code, redirect_uri="https://elsewhere.example/cb")
    assert (wrong_uri.value.kind, wrong_uri.value.code) == (ErrorKind.AUTH, "twitch_code_refused")
    grant = _exchanged(client, http, url, back)
    assert grant.access_token not in repr(grant)
    owner = client.validate(grant.access_token)
    assert (owner.user_id, owner.login) == (SANDBOX_BROADCASTER_ID, SANDBOX_LOGIN)
    assert owner.scopes == ("channel:manage:clips",)
    fresh = client.refresh(grant.refresh_token)
    assert fresh.refresh_token != grant.refresh_token
    with pytest.raises(ProviderError) as spent:
        client.refresh(grant.refresh_token)  # rotated: the old one is gone
    assert (spent.value.kind, spent.value.code) == (ErrorKind.AUTH, "twitch_refresh_refused")
    client.revoke(fresh.access_token)
    client.revoke(fresh.access_token)  # a token already gone counts as revoked
    with pytest.raises(ProviderError) as invalid:
        client.validate(fresh.access_token)
    assert (invalid.value.kind, invalid.value.code) == (ErrorKind.AUTH, "twitch_token_invalid")


def _exchanged(client: TwitchClient, http: httpx.Client, url: str, back: str) -> UserGrant:
    """A second consent's code, traded (the first was spent by a refused exchange)."""
    consent = http.get(f"{url}&consent=allow&login={SANDBOX_LOGIN}")
    return client.exchange_code(
        httpx.URL(consent.headers["location"]).params["code"], redirect_uri=back
    )
