"""The Twitch fake's own strictness and control routes, spoken to with plain httpx."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import pytest

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.twitch import (
    SANDBOX_BROADCASTER_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    TwitchFakeConfig,
    create_twitch_app,
)
from tests.fakes.conftest import START, ManualClock

CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[RunningServer, ManualClock]]:
    # One server for the module (stopping uvicorn costs ~0.2 s); each test resets it.
    clock = ManualClock()
    server = serve_in_thread(create_twitch_app(TwitchFakeConfig(clock=clock)))
    yield server, clock
    server.stop()


@pytest.fixture
def clock(_server: tuple[RunningServer, ManualClock]) -> ManualClock:
    """The shared fake's clock, back at START."""
    return _server[1]


@pytest.fixture
def http(_server: tuple[RunningServer, ManualClock]) -> Iterator[httpx.Client]:
    """A client on the shared fake, reset (state and clock) before the test."""
    server, clock = _server
    clock.now = START
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        client.post("/_fake/reset").raise_for_status()
        yield client


def app_headers(http: httpx.Client) -> dict[str, str]:
    """Helix headers for a fresh app access token (client credentials)."""
    token = http.post("/oauth2/token", data={**CLIENT, "grant_type": "client_credentials"})
    token.raise_for_status()
    return {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "Client-Id": SANDBOX_CLIENT_ID,
    }


def user_headers(http: httpx.Client, login: str, **extra: Any) -> dict[str, str]:
    """Helix headers for a user token minted on /_fake/accounts."""
    account = http.post("/_fake/accounts", json={"login": login, **extra})
    account.raise_for_status()
    return {
        "Authorization": f"Bearer {account.json()['access_token']}",
        "Client-Id": SANDBOX_CLIENT_ID,
    }


def helix_error(response: httpx.Response, status: int) -> str:
    """The message of a Helix error, after checking the envelope and status."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"error", "status", "message"} and body["status"] == status
    return str(body["message"])


def rfc3339(epoch: float) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_order(http: httpx.Client, start: float, end: float) -> list[str]:
    """Ids of the fake's clips created in [start, end), most viewed first (Get Clips' order)."""
    clips = http.get("/_fake/state").json()["clips"]
    inside = [
        c for c in clips if start <= datetime.fromisoformat(c["created_at"]).timestamp() < end
    ]
    return [c["id"] for c in sorted(inside, key=lambda c: (-c["view_count"], c["id"]))]


def test_app_token_flow(http: httpx.Client) -> None:
    """client_credentials gives a bearer app token that validates, then revokes; a wrong secret,
    a JSON body or an unknown grant is refused in id.twitch.tv's envelope."""
    response = http.post("/oauth2/token", data={**CLIENT, "grant_type": "client_credentials"})
    grant = response.json()
    assert response.status_code == 200 and grant["token_type"] == "bearer"
    assert len(grant["access_token"]) == 30 and grant["expires_in"] == 5_011_271
    valid = http.get(
        "/oauth2/validate", headers={"Authorization": f"OAuth {grant['access_token']}"}
    )
    assert valid.json() == {"client_id": SANDBOX_CLIENT_ID, "scopes": None, "expires_in": 5_011_271}
    wrong = http.post(
        "/oauth2/token",
        data={**CLIENT, "client_secret": "nope", "grant_type": "client_credentials"},
    )
    assert (wrong.status_code, wrong.json()) == (
        403,
        {"status": 403, "message": "invalid client secret"},
    )
    assert (
        http.post("/oauth2/token", json={**CLIENT, "grant_type": "client_credentials"}).status_code
        == 400
    )
    assert http.post("/oauth2/token", data={**CLIENT, "grant_type": "password"}).status_code == 400
    assert http.get("/_fake/state").json()["tokens_issued"] == {"app": 1, "user": 0}
    revoked = http.post(
        "/oauth2/revoke", data={"client_id": SANDBOX_CLIENT_ID, "token": grant["access_token"]}
    )
    assert revoked.status_code == 200
    again = http.get(
        "/oauth2/validate", headers={"Authorization": f"OAuth {grant['access_token']}"}
    )
    assert (again.status_code, again.json()["message"]) == (401, "invalid access token")


def test_helix_needs_a_live_bearer_and_its_own_client_id(http: httpx.Client) -> None:
    """No token, a dead token, no Client-Id or another client's id: each its own 401."""
    headers = app_headers(http)
    query = {"login": "sandbox_streamer"}
    assert helix_error(http.get("/helix/users", params=query), 401) == "OAuth token is missing"
    no_client = {"Authorization": headers["Authorization"]}
    assert (
        helix_error(http.get("/helix/users", params=query, headers=no_client), 401)
        == "Client ID is missing"
    )
    other = {**headers, "Client-Id": "someoneelsesclientid0000000000"}
    assert helix_error(http.get("/helix/users", params=query, headers=other), 401) == (
        "Client ID and OAuth token do not match"
    )
    dead = {**headers, "Authorization": "Bearer notatokenwehaveissued000000000"}
    assert (
        helix_error(http.get("/helix/users", params=query, headers=dead), 401)
        == "Invalid OAuth token"
    )
    assert http.get("/helix/users", params=query, headers=headers).status_code == 200


def test_users_by_login_and_by_id(http: httpx.Client) -> None:
    """Logins match case-insensitively, ids exactly, unknown ones are left out; an app token
    must name someone, a user token alone means its own user."""
    headers = app_headers(http)
    found = http.get(
        "/helix/users", params={"login": ["Sandbox_Streamer", "nobody_here"]}, headers=headers
    )
    [streamer] = found.json()["data"]
    assert streamer["id"] == SANDBOX_BROADCASTER_ID and streamer["login"] == "sandbox_streamer"
    assert streamer["broadcaster_type"] == "affiliate" and "email" not in streamer
    creator_id = http.get("/_fake/state").json()["clips"][0]["creator_id"]
    by_id = http.get(
        "/helix/users", params={"id": [creator_id, SANDBOX_BROADCASTER_ID]}, headers=headers
    )
    assert {u["id"] for u in by_id.json()["data"]} == {creator_id, SANDBOX_BROADCASTER_ID}
    assert helix_error(http.get("/helix/users", headers=headers), 400).startswith("Must provide")
    too_many = {"id": [str(n) for n in range(101)]}
    helix_error(http.get("/helix/users", params=too_many, headers=headers), 400)
    me = http.get(
        "/helix/users", headers=user_headers(http, "viewer_vic", scopes=["user:read:email"])
    )
    assert [(u["login"], "email" in u) for u in me.json()["data"]] == [("viewer_vic", True)]


def test_clips_page_forward_and_back_within_a_date_range(http: httpx.Client) -> None:
    """Pages of 3 over the last three days come most-viewed first, each clip once, the last with
    no cursor; ``before`` walks back from page 3 to page 2 and then page 1 exactly."""
    headers, start, end = app_headers(http), START - 3 * 86400, START
    expected = expected_order(http, start, end)
    assert len(expected) == 12  # the sample channel: twelve clips over three days
    params = {
        "broadcaster_id": SANDBOX_BROADCASTER_ID,
        "first": "3",
        "started_at": rfc3339(start),
        "ended_at": rfc3339(end),
    }
    pages: list[list[str]] = []
    cursors: list[str] = []
    cursor: str | None = None
    while True:
        response = http.get(
            "/helix/clips",
            params={**params, **({"after": cursor} if cursor else {})},
            headers=headers,
        )
        body = response.json()
        pages.append([c["id"] for c in body["data"]])
        cursor = body["pagination"].get("cursor")
        if cursor is None:
            break
        cursors.append(cursor)
    assert [i for page in pages for i in page] == expected and len(pages) == 4
    assert body["pagination"] == {}
    # Back from page 3: page 2 (with a cursor, as page 1 lies beyond it), then page 1 (none).
    back = http.get("/helix/clips", params={**params, "before": cursors[2]}, headers=headers).json()
    assert [c["id"] for c in back["data"]] == pages[1]
    before = {**params, "before": back["pagination"]["cursor"]}
    start_page = http.get("/helix/clips", params=before, headers=headers).json()
    assert [c["id"] for c in start_page["data"]] == pages[0] and start_page["pagination"] == {}
    clip = back["data"][0]
    assert set(clip) >= {
        "url",
        "embed_url",
        "broadcaster_name",
        "creator_id",
        "creator_name",
        "video_id",
        "game_id",
        "language",
        "view_count",
        "created_at",
        "thumbnail_url",
        "duration",
        "vod_offset",
        "is_featured",
    }
    assert 5 <= clip["duration"] <= 60 and clip["broadcaster_name"] == "Sandbox_Streamer"


def test_date_window_rules(http: httpx.Client) -> None:
    """started_at alone spans a week; ended_at alone is ignored, as documented; seconds in a
    timestamp are dropped; a window ending before it starts is a 400."""
    headers = app_headers(http)
    base = {"broadcaster_id": SANDBOX_BROADCASTER_ID, "first": "100"}

    def ids(**extra: str) -> list[str]:
        response = http.get("/helix/clips", params={**base, **extra}, headers=headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    everything = ids()
    assert len(everything) == 12
    assert ids(ended_at=rfc3339(START - 10 * 86400)) == everything
    assert ids(started_at=rfc3339(START - 8 * 86400)) == expected_order(
        http, START - 8 * 86400, START - 86400
    )
    newest = max(http.get("/_fake/state").json()["clips"], key=lambda c: c["created_at"])
    created = datetime.fromisoformat(newest["created_at"]).timestamp()
    # A start a few seconds after the clip, in the same minute, still includes it.
    late = created - created % 60 + 59
    assert newest["id"] in ids(started_at=rfc3339(late), ended_at=rfc3339(START + 60))
    backwards = {"started_at": rfc3339(START), "ended_at": rfc3339(START - 3600)}
    helix_error(http.get("/helix/clips", params={**base, **backwards}, headers=headers), 400)


def test_paging_is_stable_when_clips_are_added(http: httpx.Client) -> None:
    """A clip added between pages (even the most viewed) neither repeats nor shifts page 2."""
    headers = app_headers(http)
    expected = expected_order(http, 0, START + 1)
    params = {"broadcaster_id": SANDBOX_BROADCASTER_ID, "first": "4"}
    first = http.get("/helix/clips", params=params, headers=headers).json()
    assert [c["id"] for c in first["data"]] == expected[:4]
    added = http.post("/_fake/clips", json={"title": "chat saw the bug first", "view_count": 10**6})
    assert added.status_code == 201 and added.json()["view_count"] == 10**6
    after = {**params, "after": first["pagination"]["cursor"]}
    second = http.get("/helix/clips", params=after, headers=headers).json()
    assert [c["id"] for c in second["data"]] == expected[4:8]
    fresh = http.get("/helix/clips", params=params, headers=headers).json()
    assert fresh["data"][0]["id"] == added.json()["id"]


B = SANDBOX_BROADCASTER_ID


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"broadcaster_id": B, "first": "0"}, '"first"'),
        ({"broadcaster_id": B, "first": "101"}, '"first"'),
        ({"broadcaster_id": B, "first": "ten"}, '"first"'),
        ({"first": "5"}, "broadcaster_id, game_id or id"),
        ({"broadcaster_id": B, "game_id": "1469308723"}, "game_id or id"),
        ({"broadcaster_id": [B, "1"]}, "only be specified once"),
        ({"id": "SomeClip", "started_at": "2027-01-01T00:00:00Z"}, "apply only to"),
        ({"broadcaster_id": B, "started_at": "2027-01-01"}, "RFC3339"),
        ({"broadcaster_id": B, "started_at": "2027-01-01T00:00:00 00:00"}, "RFC3339"),
        ({"broadcaster_id": B, "is_featured": "maybe"}, "is_featured"),
        ({"broadcaster_id": B, "after": "a", "before": "b"}, "after or before"),
        ({"broadcaster_id": B, "after": "eyJiIjpudWxsfQ.forged"}, "invalid cursor"),
    ],
)
def test_clip_queries_are_validated(http: httpx.Client, params: dict[str, Any], said: str) -> None:
    """Each malformed Get Clips query is a 400 in Helix's envelope naming what is wrong."""
    response = http.get("/helix/clips", params=params, headers=app_headers(http))
    assert said in helix_error(response, 400)


def test_cursors_are_bound_to_their_query_and_unknown_broadcasters_are_empty(
    http: httpx.Client,
) -> None:
    """A cursor replayed on another query is refused; an unknown broadcaster has no clips."""
    headers = app_headers(http)
    params = {"broadcaster_id": SANDBOX_BROADCASTER_ID, "first": "2"}
    cursor = http.get("/helix/clips", params=params, headers=headers).json()["pagination"]["cursor"]
    replay = {**params, "is_featured": "false", "after": cursor}
    assert "invalid cursor" in helix_error(
        http.get("/helix/clips", params=replay, headers=headers), 400
    )
    nobody = http.get("/helix/clips", params={"broadcaster_id": "123"}, headers=headers)
    assert nobody.json() == {"data": [], "pagination": {}}


def test_download_flow_end_to_end(http: httpx.Client, clock: ManualClock) -> None:
    """The streamer's token lists clips, gets signed absolute URLs for two, and the bytes decode
    as a video with sound of the clip's duration; a forged or expired URL is a 403."""
    headers = user_headers(http, "sandbox_streamer", scopes=["channel:manage:clips"])
    clips = http.get(
        "/helix/clips",
        params={"broadcaster_id": SANDBOX_BROADCASTER_ID, "first": "2"},
        headers=headers,
    ).json()["data"]
    query = {
        "editor_id": SANDBOX_BROADCASTER_ID,
        "broadcaster_id": SANDBOX_BROADCASTER_ID,
        "clip_id": [c["id"] for c in clips],
    }
    response = http.get("/helix/clips/downloads", params=query, headers=headers)
    assert response.status_code == 200 and int(response.headers["Ratelimit-Remaining"]) < 800
    data = response.json()["data"]
    assert [d["clip_id"] for d in data] == query["clip_id"]
    assert all(d["portrait_download_url"] is None for d in data)
    url = data[0]["landscape_download_url"]
    assert url.startswith(str(http.base_url).rstrip("/") + "/cdn/clips/")
    media = httpx.get(url, timeout=30.0)
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(media.content), mode="r") as container:
        kinds = sorted(s.type for s in container.streams)
        frames = sum(1 for _ in container.decode(video=0))
        assert container.duration is not None
        seconds = container.duration / 1_000_000
    assert kinds == ["audio", "video"] and frames > 0
    assert abs(seconds - clips[0]["duration"]) < 0.5
    thumb = httpx.get(clips[0]["thumbnail_url"], timeout=30.0)
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    parts = urlsplit(url)
    signed = parse_qs(parts.query)
    later = int(signed["expires"][0]) + 600
    forged = parts._replace(query=f"expires={later}&sig={signed['sig'][0]}").geturl()
    assert httpx.get(forged, timeout=30.0).status_code == 403
    clock.advance(901)
    assert httpx.get(url, timeout=30.0).status_code == 403


def test_download_needs_an_editor_user_token_with_the_scope(http: httpx.Client) -> None:
    """An app token, a user token without a clips scope, another user's editor_id and a non-editor
    are refused; an editor of the channel is served; a clip without media 404s at the CDN."""
    broken = http.post(
        "/_fake/clips", json={"title": "the VOD that got lost", "missing_media": True}
    ).json()
    query = {
        "editor_id": SANDBOX_BROADCASTER_ID,
        "broadcaster_id": SANDBOX_BROADCASTER_ID,
        "clip_id": broken["id"],
    }
    assert helix_error(
        http.get("/helix/clips/downloads", params=query, headers=app_headers(http)), 401
    )
    unscoped = user_headers(http, "sandbox_streamer", scopes=[])
    assert "Missing scope" in helix_error(
        http.get("/helix/clips/downloads", params=query, headers=unscoped), 401
    )
    viewer = user_headers(http, "pair_prog_pat", scopes=["editor:manage:clips"])
    assert "editor_id" in helix_error(
        http.get("/helix/clips/downloads", params=query, headers=viewer), 401
    )
    as_viewer = {**query, "editor_id": "731550482"}
    assert "editors" in helix_error(
        http.get("/helix/clips/downloads", params=as_viewer, headers=viewer), 403
    )
    editor = user_headers(
        http, "pair_prog_pat", scopes=["editor:manage:clips"], editor_of=[SANDBOX_BROADCASTER_ID]
    )
    served = http.get("/helix/clips/downloads", params=as_viewer, headers=editor)
    [entry] = served.json()["data"]
    assert httpx.get(entry["landscape_download_url"], timeout=30.0).status_code == 404
    eleven = {**as_viewer, "clip_id": [f"Clip{n}" for n in range(11)]}
    helix_error(http.get("/helix/clips/downloads", params=eleven, headers=editor), 400)


def test_rate_limit_headers_count_down_to_a_429() -> None:
    """With a bucket of 3 points the headers count 2, 1, 0, the fourth call is a 429 in the
    envelope, a user token has its own bucket, and a minute later the bucket is full again."""
    clock = ManualClock()
    with (
        serve_in_thread(
            create_twitch_app(TwitchFakeConfig(clock=clock, points_per_minute=3))
        ) as server,
        httpx.Client(base_url=server.url, timeout=30.0) as http,
    ):
        headers, params = app_headers(http), {"login": "sandbox_streamer"}
        seen = []
        for _ in range(3):
            response = http.get("/helix/users", params=params, headers=headers)
            assert response.status_code == 200 and response.headers["Ratelimit-Limit"] == "3"
            assert int(response.headers["Ratelimit-Reset"]) > clock.now
            seen.append(response.headers["Ratelimit-Remaining"])
        assert seen == ["2", "1", "0"]
        limited = http.get("/helix/users", params=params, headers=headers)
        helix_error(limited, 429)
        assert limited.headers["Ratelimit-Remaining"] == "0"
        mine = user_headers(http, "viewer_vic")
        assert http.get("/helix/users", headers=mine).status_code == 200
        clock.advance(60)
        assert (
            http.get("/helix/users", params=params, headers=headers).headers["Ratelimit-Remaining"]
            == "2"
        )


def test_faults_and_expired_tokens(http: httpx.Client) -> None:
    """Queued 503s hit the next Helix calls only, a CDN fault the next download only; expiring
    tokens makes Helix and /validate refuse them while the refresh token still works."""
    headers, params = app_headers(http), {"login": "sandbox_streamer"}
    assert http.post("/_fake/faults", json={"status": 404}).status_code == 400
    assert http.post("/_fake/faults", json={"status": 503, "count": 0}).status_code == 400
    http.post("/_fake/faults", json={"status": 503, "count": 2}).raise_for_status()
    for _ in range(2):
        assert helix_error(http.get("/helix/users", params=params, headers=headers), 503) == ""
    assert http.get("/helix/users", params=params, headers=headers).status_code == 200
    account = http.post("/_fake/accounts", json={"login": "sandbox_streamer"}).json()
    user = {"Authorization": f"Bearer {account['access_token']}", "Client-Id": SANDBOX_CLIENT_ID}
    [clip] = http.get(
        "/helix/clips",
        params={"broadcaster_id": SANDBOX_BROADCASTER_ID, "first": "1"},
        headers=user,
    ).json()["data"]
    query = {
        "editor_id": SANDBOX_BROADCASTER_ID,
        "broadcaster_id": SANDBOX_BROADCASTER_ID,
        "clip_id": clip["id"],
    }
    url = http.get("/helix/clips/downloads", params=query, headers=user).json()["data"][0][
        "landscape_download_url"
    ]
    http.post("/_fake/faults", json={"status": 500, "where": "cdn"}).raise_for_status()
    assert httpx.get(url, timeout=30.0).status_code == 500
    assert httpx.get(url, timeout=30.0).status_code == 200
    http.post("/_fake/faults", json={"expire_tokens": True}).raise_for_status()
    assert (
        helix_error(http.get("/helix/users", params=params, headers=headers), 401)
        == "Invalid OAuth token"
    )
    assert helix_error(http.get("/helix/users", headers=user), 401) == "Invalid OAuth token"
    assert (
        http.get("/oauth2/validate", headers={"Authorization": user["Authorization"]}).status_code
        == 401
    )
    refreshed = http.post(
        "/oauth2/token",
        data={**CLIENT, "grant_type": "refresh_token", "refresh_token": account["refresh_token"]},
    )
    fresh = {**user, "Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert http.get("/helix/users", headers=fresh).status_code == 200


def test_code_flow_and_refresh_rotation(http: httpx.Client) -> None:
    """Consent redirects back with a code and the scopes; the code works once; /validate names
    the user and scopes; a refresh token is single-use."""
    redirect = "http://localhost:8000/callback"
    consent = http.get(
        "/oauth2/authorize",
        params={
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "channel:manage:clips",
            "state": "s1",
            "consent": "allow",
            "login": "sandbox_streamer",
        },
    )
    assert consent.status_code == 302
    back = parse_qs(urlsplit(consent.headers["location"]).query)
    assert back["state"] == ["s1"] and back["scope"] == ["channel:manage:clips"]
    exchange = {
        **CLIENT,
        "grant_type": "authorization_code",
        "code": back["code"][0],
        "redirect_uri": redirect,
    }
    grant = http.post("/oauth2/token", data=exchange).json()
    assert grant["scope"] == ["channel:manage:clips"] and grant["token_type"] == "bearer"
    assert http.post("/oauth2/token", data=exchange).json() == {
        "status": 400,
        "message": "Invalid authorization code",
    }
    valid = http.get(
        "/oauth2/validate", headers={"Authorization": f"OAuth {grant['access_token']}"}
    ).json()
    assert (valid["login"], valid["user_id"], valid["scopes"]) == (
        "sandbox_streamer",
        SANDBOX_BROADCASTER_ID,
        ["channel:manage:clips"],
    )
    refresh = {**CLIENT, "grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    assert http.post("/oauth2/token", data=refresh).status_code == 200
    stale = http.post("/oauth2/token", data=refresh)
    assert (stale.status_code, stale.json()) == (
        400,
        {"status": 400, "message": "Invalid refresh token"},
    )
    denied = http.get(
        "/oauth2/authorize",
        params={
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": redirect,
            "response_type": "code",
            "consent": "deny",
        },
    )
    assert "error=access_denied" in denied.headers["location"]


def test_reset_restores_the_sample_channel(http: httpx.Client) -> None:
    """Reset drops added clips, tokens, faults and the log, and rebuilds the same sample clips."""
    headers = app_headers(http)
    before = [c["id"] for c in http.get("/_fake/state").json()["clips"]]
    http.post("/_fake/clips", json={"title": "temporary"}).raise_for_status()
    http.post("/_fake/faults", json={"status": 500}).raise_for_status()
    http.post("/_fake/reset").raise_for_status()
    state = http.get("/_fake/state").json()
    assert [c["id"] for c in state["clips"]] == before
    assert state["faults"] == [] and state["requests"] == []
    assert state["tokens_issued"] == {"app": 0, "user": 0}
    assert (
        helix_error(http.get("/helix/users", params={"login": "x"}, headers=headers), 401)
        == "Invalid OAuth token"
    )
    assert "Bearer" not in str(http.get("/_fake/requests").json())


def test_unknown_paths_and_methods_answer_in_the_right_envelope(http: httpx.Client) -> None:
    """Helix paths answer 404/405 in Helix's envelope, id.twitch.tv paths in its own."""
    helix_error(http.get("/helix/streams/nope"), 404)
    helix_error(http.post("/helix/users"), 405)
    wrong = http.get("/oauth2/token")
    assert wrong.status_code == 405 and set(wrong.json()) == {"status", "message"}
