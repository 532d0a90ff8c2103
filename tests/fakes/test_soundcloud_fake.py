"""The SoundCloud fake over real HTTP: OAuth scheme, multipart rules, tracks, tokens, faults."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import FakeConfig, RunningServer, serve_in_thread
from crosspost.fakes.soundcloud import SoundCloudFake, SoundCloudLimits

from .conftest import START, ManualClock

P = "/soundcloud"
ACCEPT = "application/json; charset=utf-8"
# An empty ID3v2.4 tag, an MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz), then filler:
# the fake judges an upload by its bytes, as SoundCloud does.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)  # the signature is what the fake judges
AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(range(256)) * 40


class SC:
    """A running SoundCloud fake with an httpx client and helpers."""

    def __init__(self, server: RunningServer, clock: ManualClock) -> None:
        self.server = server
        self.clock = clock
        self.http = httpx.Client(base_url=server.url, timeout=30.0)

    def account(self, handle: str = "alice") -> dict[str, Any]:
        """Consent an account; its tokens."""
        response = self.http.post(f"{P}/_fake/accounts", json={"handle": handle})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def faults(self, **faults: Any) -> None:
        """Merge faults."""
        self.http.post(f"{P}/_fake/faults", json=faults).raise_for_status()

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        body: dict[str, Any] = self.http.get(f"{P}/_fake/state").json()
        return body

    def upload(
        self,
        account: dict[str, Any],
        fields: dict[str, str] | None = None,
        *,
        data: bytes = AUDIO,
        ctype: str = "audio/mpeg",
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """POST /tracks as multipart with the given fields and audio part."""
        form = {"track[title]": "My song", **(fields or {})}
        parts = {"track[asset_data]": ("song.mp3", data, ctype)} if files is None else files
        return self.http.post(f"{P}/tracks", data=form, files=parts, headers=oauth(account))


def oauth(account: dict[str, Any]) -> dict[str, str]:
    """SoundCloud's auth header plus the JSON accept header."""
    return {"Authorization": f"OAuth {account['access_token']}", "accept": ACCEPT}


def _start(limits: SoundCloudLimits | None = None, **faults: Any) -> SC:
    clock = ManualClock()
    faults.setdefault("processing_seconds", 5.0)
    fake = SoundCloudFake(FakeConfig.of(clock=clock, **faults), limits=limits)
    server = serve_in_thread(Starlette(routes=[Mount(P, app=fake.asgi())]))
    return SC(server, clock)


@pytest.fixture(scope="module")
def _shared() -> Iterator[SC]:
    sc = _start()
    yield sc
    sc.http.close()
    sc.server.stop()


@pytest.fixture
def sc(_shared: SC) -> SC:
    """The shared fake, reset, clock at START."""
    _shared.clock.now = START
    _shared.http.post(f"{P}/_fake/reset").raise_for_status()
    return _shared


@pytest.fixture
def make_sc() -> Iterator[Callable[..., SC]]:
    """A fake of its own with limits or fault overrides."""
    started: list[SC] = []

    def make(limits: SoundCloudLimits | None = None, **faults: Any) -> SC:
        sc = _start(limits, **faults)
        started.append(sc)
        return sc

    yield make
    for sc in started:
        sc.http.close()
        sc.server.stop()


def _error_messages(response: httpx.Response) -> list[str]:
    return [e["error_message"] for e in response.json()["errors"]]


# -- auth ------------------------------------------------------------------------------------


def test_oauth_scheme_required(sc: SC) -> None:
    """`OAuth <token>` works; Bearer, a missing header and an unknown token get the 401 body."""
    account = sc.account()
    ok = sc.http.get(f"{P}/me", headers=oauth(account))
    assert ok.status_code == 200
    assert ok.json()["username"] == "alice"
    assert ok.json()["urn"] == f"soundcloud:users:{account['external_id']}"
    for headers in (
        {"Authorization": f"Bearer {account['access_token']}"},
        {},
        {"Authorization": "OAuth 2-fake-nope"},
    ):
        refused = sc.http.get(f"{P}/me", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == 401 and refused.json()["status"] == "401 - Unauthorized"


def test_expired_token_is_401(sc: SC) -> None:
    """Access tokens live an hour; expire_tokens kills them at once."""
    account = sc.account()
    sc.clock.advance(3599)
    assert sc.http.get(f"{P}/me", headers=oauth(account)).status_code == 200
    sc.clock.advance(1)
    assert sc.http.get(f"{P}/me", headers=oauth(account)).status_code == 401
    fresh = sc.account("bob")
    sc.faults(expire_tokens=True)
    assert sc.http.get(f"{P}/me", headers=oauth(fresh)).status_code == 401


def test_non_json_accept_is_406(sc: SC) -> None:
    """An Accept that excludes JSON is refused."""
    account = sc.account()
    headers = {**oauth(account), "accept": "text/html"}
    assert sc.http.get(f"{P}/me", headers=headers).status_code == 406


def test_refresh_rotates_and_is_single_use(sc: SC) -> None:
    """A refresh token works once; reusing it is invalid_grant; a wrong secret invalid_client."""
    account = sc.account()
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": account["refresh_token"],
    }
    first = sc.http.post(f"{P}/oauth/token", data=form)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope"}
    assert body["refresh_token"] != account["refresh_token"] and body["expires_in"] == 3600
    assert sc.http.get(f"{P}/me", headers=oauth(body)).status_code == 200
    again = sc.http.post(f"{P}/oauth/token", data=form)
    assert again.status_code == 400
    assert (again.json()["error"], again.json()["message"]) == ("invalid_grant", "invalid_grant")
    wrong = sc.http.post(
        f"{P}/oauth/token",
        data={**form, "refresh_token": body["refresh_token"], "client_secret": "x"},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


# -- POST /tracks ------------------------------------------------------------------------------


def test_upload_creates_a_processing_track(sc: SC) -> None:
    """201 with the Track object; processing until processing_seconds pass, then finished."""
    account = sc.account()
    fields = {"track[sharing]": "public", "track[tag_list]": 'rock "late night"'}
    response = sc.upload(account, fields)
    assert response.status_code == 201, response.text
    track = response.json()
    assert track["urn"] == f"soundcloud:tracks:{track['id']}"
    assert (track["state"], track["title"], track["kind"]) == ("processing", "My song", "track")
    assert track["permalink_url"] == "https://soundcloud.com/alice/my-song"
    assert track["original_content_size"] == len(AUDIO)
    [post] = sc.state()["posts"]
    assert (post["sha256"], post["size"]) == (hashlib.sha256(AUDIO).hexdigest(), len(AUDIO))
    assert post["tag_list"] == 'rock "late night"'
    for ref in (track["urn"], str(track["id"])):
        assert sc.http.get(f"{P}/tracks/{ref}", headers=oauth(account)).json()["state"] == (
            "processing"
        )
    sc.clock.advance(5)
    assert sc.http.get(f"{P}/tracks/{track['urn']}", headers=oauth(account)).json()["state"] == (
        "finished"
    )
    second = sc.upload(account).json()
    assert second["permalink"] == "my-song-1"  # permalinks are unique per user


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"track[title]": ""}, "Title can't be blank"),
        ({"track[title]": "x" * 101}, "Title is too long (maximum is 100 characters)"),
        ({"track[sharing]": "friends"}, "Sharing is not included in the list (public, private)"),
        ({"track[license]": "cc-0"}, "License is not included in the list"),
        ({"track[release_date]": "01/02/2026"}, "Release date must be formatted yyyy-mm-dd"),
        ({"track[downloadable]": "maybe"}, "Downloadable must be true or false"),
    ],
)
def test_invalid_fields_are_422(sc: SC, fields: dict[str, str], message: str) -> None:
    """Each validation failure is a 422 in SoundCloud's error shape; nothing is created."""
    response = sc.upload(sc.account(), fields)
    assert response.status_code == 422
    assert response.json()["code"] == 422 and message in _error_messages(response)
    assert sc.state()["posts"] == []


def test_asset_rules(sc: SC) -> None:
    """The audio part is required, must be a non-empty file of audio bytes (whatever its
    declared type), and artwork must be image bytes."""
    account = sc.account()
    missing = sc.upload(account, files={"track[artwork_data]": ("a.png", b"png", "image/png")})
    assert "Asset data can't be blank" in _error_messages(missing)
    as_text = sc.http.post(
        f"{P}/tracks",
        data={"track[title]": "t", "track[asset_data]": "not a file"},
        files={"other": ("x", b"x", "text/plain")},
        headers=oauth(account),
    )
    assert as_text.status_code == 422
    video = sc.upload(account, data=b"\x00\x00\x00\x18ftypisom" + bytes(64), ctype="audio/mp4")
    assert video.status_code == 422 and "not audio" in _error_messages(video)[0]
    empty = sc.upload(account, data=b"")
    assert empty.status_code == 422 and _error_messages(empty) == ["Asset data is empty"]
    art = sc.upload(
        account,
        files={
            "track[asset_data]": ("s.wav", AUDIO, "audio/wav"),
            "track[artwork_data]": ("a.txt", b"text", "text/plain"),
        },
    )
    assert art.status_code == 422
    ok = sc.upload(
        account,
        files={
            "track[asset_data]": ("s.wav", AUDIO, "audio/wav"),
            "track[artwork_data]": ("a.png", PNG, "application/octet-stream"),
        },
    )
    assert ok.status_code == 201 and ok.json()["artwork_url"]
    assert [p["artwork_size"] for p in sc.state()["posts"]] == [len(PNG)]


def test_body_must_be_multipart(sc: SC) -> None:
    """A JSON body is a 400."""
    response = sc.http.post(
        f"{P}/tracks", json={"track": {"title": "x"}}, headers=oauth(sc.account())
    )
    assert response.status_code == 400 and response.json()["code"] == 400


def test_size_limit_is_413(make_sc: Callable[..., SC]) -> None:
    """A file over the size limit is refused with 413."""
    sc = make_sc(SoundCloudLimits(max_upload_bytes=100))
    response = sc.upload(sc.account())
    assert response.status_code == 413 and sc.state()["posts"] == []


# -- reading tracks --------------------------------------------------------------------------


def test_me_tracks_pages_newest_first(sc: SC) -> None:
    """`/me/tracks` lists only the caller's tracks, newest first, with linked partitioning."""
    alice, bob = sc.account(), sc.account("bob")
    ids = []
    for n in range(3):
        ids.append(sc.upload(alice, {"track[title]": f"t{n}"}).json()["id"])
        sc.clock.advance(1)
    sc.upload(bob)
    plain = sc.http.get(f"{P}/me/tracks", headers=oauth(alice)).json()
    assert [t["id"] for t in plain] == ids[::-1]
    page = sc.http.get(
        f"{P}/me/tracks",
        params={"limit": 2, "linked_partitioning": "true"},
        headers=oauth(alice),
    ).json()
    assert [t["id"] for t in page["collection"]] == [ids[2], ids[1]]
    rest = sc.http.get(page["next_href"], headers=oauth(alice)).json()
    assert [t["id"] for t in rest["collection"]] == [ids[0]] and rest["next_href"] is None


def test_private_tracks_are_hidden_from_others(sc: SC) -> None:
    """Another account gets 404 for a private track; an unknown id is 404 too."""
    alice, bob = sc.account(), sc.account("bob")
    track = sc.upload(alice, {"track[sharing]": "private"}).json()
    assert "/s-" in track["permalink_url"]
    assert sc.http.get(f"{P}/tracks/{track['urn']}", headers=oauth(bob)).status_code == 404
    assert sc.http.get(f"{P}/tracks/{track['urn']}", headers=oauth(alice)).status_code == 200
    assert sc.http.get(f"{P}/tracks/999", headers=oauth(alice)).status_code == 404


# -- faults ----------------------------------------------------------------------------------


def test_failure_and_rate_limit_faults(sc: SC) -> None:
    """500 in SoundCloud's shape; 429 with Retry-After and the rate-limit meta."""
    account = sc.account()
    sc.faults(failure_rate=1.0)
    failed = sc.upload(account)
    assert failed.status_code == 500 and failed.json()["code"] == 500
    sc.faults(failure_rate=0.0, rate_limit_rate=1.0, retry_after_seconds=12)
    limited = sc.http.get(f"{P}/me", headers=oauth(account))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "12"
    meta = limited.json()["errors"][0]["meta"]
    assert meta["rate_limit"]["time_window"] == "PT1M"
    assert meta["remaining_requests"] == 0 and meta["reset_time"].endswith("+0000")


def test_quota_fault(sc: SC) -> None:
    """An exhausted 24 h upload bucket: 429 without Retry-After, reset at the next UTC day."""
    account = sc.account()
    sc.faults(quota_exhausted=True)
    response = sc.upload(account)
    assert response.status_code == 429 and "Retry-After" not in response.headers
    meta = response.json()["errors"][0]["meta"]
    assert meta["rate_limit"]["time_window"] == "PT24H"
    assert meta["reset_time"] == "2027/01/16 00:00:00 +0000"
    assert sc.state()["posts"] == []


def test_reset_mid_upload_creates_nothing(sc: SC) -> None:
    """The connection drops mid-body: a transport error and no track."""
    account = sc.account()
    sc.faults(reset_mid_chunk_rate=1.0)
    with pytest.raises(httpx.TransportError):
        sc.upload(account, data=AUDIO * 50)
    assert sc.state()["posts"] == []


def test_drop_after_commit_keeps_the_track(sc: SC) -> None:
    """The track is created but the answer never arrives; it shows in /me/tracks."""
    account = sc.account()
    sc.faults(drop_response_after_commit=1)
    with pytest.raises(httpx.TransportError):
        sc.upload(account)
    [post] = sc.state()["posts"]
    listed = sc.http.get(f"{P}/me/tracks", headers=oauth(account)).json()
    assert [str(t["id"]) for t in listed] == [post["id"]]
    assert sc.upload(account).status_code == 201  # only one answer was dropped


def test_processing_failure(make_sc: Callable[..., SC]) -> None:
    """With processing_fail_rate 1 the track ends `failed`."""
    sc = make_sc(processing_fail_rate=1.0)
    account = sc.account()
    track = sc.upload(account).json()
    sc.clock.advance(5)
    got = sc.http.get(f"{P}/tracks/{track['id']}", headers=oauth(account)).json()
    assert got["state"] == "failed"


def test_delete_track_is_for_its_owner_and_the_track_is_gone_after(sc: SC) -> None:
    """DELETE /tracks/{urn}: OAuth required, 403 for another user's public track, 200 for
    the owner, then 404 on every read and on a second delete."""
    owner, other = sc.account("alice"), sc.account("bob")
    track = sc.upload(owner).json()
    path = f"{P}/tracks/{track['urn']}"
    assert sc.http.delete(path).status_code == 401
    bearer = {"Authorization": f"Bearer {owner['access_token']}"}
    assert sc.http.delete(path, headers=bearer).status_code == 401
    denied = sc.http.delete(path, headers=oauth(other))
    assert (denied.status_code, denied.json()["code"]) == (403, 403)
    assert sc.http.delete(path, headers=oauth(owner)).status_code == 200
    assert sc.state()["posts"] == []
    for ref in (track["urn"], str(track["id"])):
        gone = sc.http.get(f"{P}/tracks/{ref}", headers=oauth(owner))
        assert (gone.status_code, gone.json()["code"]) == (404, 404)
    assert sc.http.delete(path, headers=oauth(owner)).status_code == 404
    mine = sc.http.get(f"{P}/me/tracks", headers=oauth(owner)).json()
    assert mine == []


def test_track_counts_grow_once_it_can_be_played(sc: SC) -> None:
    """Plays, likes (and their older name), comments, reposts and downloads start after
    processing and grow."""
    long_lived = {"handle": "alice", "access_ttl_seconds": 86400}
    account = sc.http.post(f"{P}/_fake/accounts", json=long_lived).json()
    track = sc.upload(account).json()

    def counts() -> dict[str, Any]:
        found: dict[str, Any] = sc.http.get(f"{P}/tracks/{track['urn']}",
                                            headers=oauth(account)).json()  # fmt: skip
        return found

    assert counts()["playback_count"] == 0
    sc.clock.advance(5 + 3600)
    early = counts()
    sc.clock.advance(5 * 3600)
    late = counts()
    assert 0 < early["playback_count"] < late["playback_count"]
    assert late["likes_count"] == late["favoritings_count"]
    assert {"comment_count", "reposts_count", "download_count"} <= set(late)
