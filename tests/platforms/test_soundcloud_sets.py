"""SoundCloud sets: the client's playlist calls against the SoundCloud fake over loopback, and
the fake's own playlist rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.clock import FrozenClock
from crosspost.domain.enums import ErrorKind
from crosspost.fakes import FakeConfig, RunningServer, serve_in_thread
from crosspost.fakes.soundcloud import SoundCloudFake, SoundCloudLimits
from crosspost.platforms.base import Credentials
from crosspost.platforms.errors import OutcomeUnknown, PlatformError
from crosspost.platforms.http import new_http_client
from crosspost.platforms.soundcloud_sets import (
    SetInfo,
    create_set,
    ensure_set,
    find_set,
    get_set,
    playlist_body,
    set_marker,
    set_tracks,
)

from .conftest import Sandbox

P = "soundcloud"
START = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
ACCEPT = "application/json; charset=utf-8"
# An MPEG-1 Layer III frame header then filler: the fake judges audio by its first bytes.
AUDIO = b"\xff\xfb\x90\x64" + bytes(range(256)) * 8


def _serve(clock: FrozenClock, limits: SoundCloudLimits | None = None) -> RunningServer:
    config = FakeConfig.of(clock=lambda: clock.now().timestamp(), processing_seconds=0.0)
    fake = SoundCloudFake(config, limits=limits)
    return serve_in_thread(Starlette(routes=[Mount(f"/{P}", app=fake.asgi())]))


@pytest.fixture(scope="module")
def _shared() -> Iterator[tuple[RunningServer, FrozenClock]]:
    clock = FrozenClock(START)
    server = _serve(clock)
    yield server, clock
    server.stop()


@pytest.fixture
def sandbox(_shared: tuple[RunningServer, FrozenClock]) -> Iterator[Sandbox]:
    """The shared SoundCloud fake, reset."""
    server, clock = _shared
    http = new_http_client(timeout=10.0)
    http.post(f"{server.url}/{P}/_fake/reset").raise_for_status()
    yield Sandbox(server.url, clock, http)
    http.close()


@pytest.fixture
def small_pages() -> Iterator[Sandbox]:
    """A SoundCloud fake of its own whose pages hold two items at most."""
    clock = FrozenClock(START)
    server = _serve(clock, SoundCloudLimits(page_max=2))
    http = new_http_client(timeout=10.0)
    yield Sandbox(server.url, clock, http)
    http.close()
    server.stop()


def oauth(creds: Credentials) -> dict[str, str]:
    """SoundCloud's auth header and JSON accept header."""
    return {"Authorization": f"OAuth {creds.access_token}", "accept": ACCEPT}


def upload(sandbox: Sandbox, creds: Credentials, title: str, sharing: str = "public") -> str:
    """Upload one small track straight to the fake; its id."""
    response = sandbox.http.post(
        f"{sandbox.base(P)}/tracks",
        data={"track[title]": title, "track[sharing]": sharing},
        files={"track[asset_data]": ("a.mp3", AUDIO, "audio/mpeg")},
        headers=oauth(creds),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def album(sandbox: Sandbox, creds: Credentials, tracks: list[str], **kw: Any) -> dict[str, Any]:
    """The keyword arguments of a set call on the fake (an album tagged rel_1 by default)."""
    return {
        "title": "Night Drive",
        "track_ids": tracks,
        "kind": "album",
        "tag": "rel_1",
        "base_url": sandbox.base(P),
        "clock": sandbox.clock,
        **kw,
    }


def playlists(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every set the fake holds."""
    found: list[dict[str, Any]] = sandbox.state(P)["playlists"]
    return found


def calls(sandbox: Sandbox) -> dict[str, int]:
    """The fake's call counts."""
    counted: dict[str, int] = sandbox.state(P)["calls"]
    return counted


# -- pure rules ----------------------------------------------------------------------------


def test_body_names_tracks_by_urn_and_marks_the_set() -> None:
    """The body: tracks as URNs in order, an EP as an album set typed "ep single", the tag."""
    body = playlist_body(
        title=" Night Drive ",
        track_ids=["11", "soundcloud:tracks:22"],
        kind="ep",
        release_date=date(2026, 4, 1),
        label="Own Label",
        genre="Electronic",
        tag="rel_1",
    )
    assert body == {
        "playlist": {
            "title": "Night Drive",
            "sharing": "public",
            "set_type": "album",
            "playlist_type": "ep single",
            "tracks": [{"urn": "soundcloud:tracks:11"}, {"urn": "soundcloud:tracks:22"}],
            "tag_list": "crosspost:set=rel_1",
            "release_date": "2026-04-01",
            "label_name": "Own Label",
            "genre": "Electronic",
        }
    }


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"title": "  "}, "invalid_title"),
        ({"title": "x" * 101}, "invalid_title"),
        ({"track_ids": []}, "empty_set"),
        ({"track_ids": ["soundcloud:playlists:1"]}, "invalid_track_id"),
    ],
)
def test_bad_sets_are_refused_before_any_call(changes: dict[str, Any], code: str) -> None:
    """A blank or over-long title, no tracks or a bad track id: permanent, nothing sent."""
    wanted: dict[str, Any] = {"title": "T", "track_ids": ["1"], "kind": "single", "tag": "r"}
    with pytest.raises(PlatformError) as caught:
        playlist_body(**{**wanted, **changes})
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, code)
    with pytest.raises(ValueError, match="set tag"):
        set_marker("two words")


# -- against the fake ------------------------------------------------------------------------


def test_a_set_of_three_tracks_in_order(sandbox: Sandbox) -> None:
    """Three uploaded tracks become one album in their order, with the release's fields."""
    _, creds = sandbox.account(P, "beatmaker")
    tracks = [upload(sandbox, creds, f"Track {n}") for n in (1, 2, 3)]
    made = create_set(
        sandbox.http,
        creds,
        **album(sandbox, creds, tracks, release_date=date(2026, 4, 1), label="L", genre="Ambient"),
    )
    [stored] = playlists(sandbox)
    assert made == SetInfo(stored["id"], stored["urn"], made.permalink_url, tracks)
    assert made.permalink_url == f"https://soundcloud.com/beatmaker/sets/{stored['permalink']}"
    assert stored["track_ids"] == tracks
    assert stored["fields"] == {
        "title": "Night Drive",
        "sharing": "public",
        "set_type": "album",
        "playlist_type": "album",
        "tag_list": "crosspost:set=rel_1",
        "release_date": "2026-04-01",
        "label_name": "L",
        "genre": "Ambient",
    }
    assert get_set(sandbox.http, creds, made.id, base_url=sandbox.base(P)) == made
    assert {r["scheme"] for r in sandbox.state(P)["requests"]} == {"OAuth"}


def test_find_set_by_tag(sandbox: Sandbox) -> None:
    """find_set returns the set carrying the tag, in full; an unknown tag finds nothing."""
    _, creds = sandbox.account(P)
    one, two = upload(sandbox, creds, "One"), upload(sandbox, creds, "Two")
    create_set(sandbox.http, creds, **album(sandbox, creds, [one], tag="rel_a"))
    wanted = create_set(sandbox.http, creds, **album(sandbox, creds, [two, one], tag="rel_b"))
    base = sandbox.base(P)
    assert find_set(sandbox.http, creds, tag="rel_b", base_url=base) == wanted
    assert find_set(sandbox.http, creds, tag="rel_c", base_url=base) is None
    assert find_set(sandbox.http, creds, tag="rel", base_url=base) is None  # whole tags only


def test_a_lost_answer_then_a_retry_leaves_one_set(sandbox: Sandbox) -> None:
    """The set is made but its 201 is lost: the retry finds it by tag instead of making another."""
    _, creds = sandbox.account(P)
    tracks = [upload(sandbox, creds, f"T{n}") for n in range(3)]
    sandbox.faults(P, drop_response_after_commit=1)
    with pytest.raises(OutcomeUnknown) as lost:
        ensure_set(sandbox.http, creds, **album(sandbox, creds, tracks))
    assert lost.value.kind is ErrorKind.UNCONFIRMED
    again = ensure_set(sandbox.http, creds, **album(sandbox, creds, tracks))
    [stored] = playlists(sandbox)
    assert (again.id, again.track_ids, stored["track_ids"]) == (stored["id"], tracks, tracks)
    assert calls(sandbox)["playlists.create"] == 1
    assert ensure_set(sandbox.http, creds, **album(sandbox, creds, tracks)) == again
    assert len(playlists(sandbox)) == 1


def test_ensure_set_puts_the_order_right(sandbox: Sandbox) -> None:
    """A set found with its tracks out of order is fixed with one PUT, not made again."""
    _, creds = sandbox.account(P)
    tracks = [upload(sandbox, creds, f"T{n}") for n in range(3)]
    made = create_set(sandbox.http, creds, **album(sandbox, creds, tracks[::-1]))
    fixed = ensure_set(sandbox.http, creds, **album(sandbox, creds, tracks))
    [stored] = playlists(sandbox)
    assert (fixed.id, fixed.track_ids, stored["track_ids"]) == (made.id, tracks, tracks)
    assert calls(sandbox)["playlists.update"] == 1 and calls(sandbox)["playlists.create"] == 1
    shorter = set_tracks(sandbox.http, creds, made.urn, tracks[:2], base_url=sandbox.base(P))
    assert shorter.track_ids == tracks[:2] == playlists(sandbox)[0]["track_ids"]


def test_another_users_track_is_refused(sandbox: Sandbox) -> None:
    """Another user's public track cannot go on an album (422); a private one is not found."""
    _, alice = sandbox.account(P, "alice")
    _, bob = sandbox.account(P, "bob")
    mine = upload(sandbox, alice, "Mine")
    public, private = upload(sandbox, bob, "Bob's"), upload(sandbox, bob, "Hidden", "private")
    with pytest.raises(PlatformError) as foreign:
        create_set(sandbox.http, alice, **album(sandbox, alice, [mine, public]))
    assert (foreign.value.kind, foreign.value.http_status) == (ErrorKind.PERMANENT, 422)
    assert f"soundcloud:tracks:{public}" in foreign.value.message
    with pytest.raises(PlatformError) as hidden:
        create_set(sandbox.http, alice, **album(sandbox, alice, [private]))
    assert (hidden.value.kind, hidden.value.http_status) == (ErrorKind.PERMANENT, 404)
    assert playlists(sandbox) == []


def test_auth_failure(sandbox: Sandbox) -> None:
    """A token SoundCloud does not know is an auth error, on create and on find alike."""
    _, creds = sandbox.account(P)
    track = upload(sandbox, creds, "T")
    bad = Credentials(access_token="2-fake-revoked")
    for call in (create_set, ensure_set):
        with pytest.raises(PlatformError) as refused:
            call(sandbox.http, bad, **album(sandbox, bad, [track]))
        assert (refused.value.kind, refused.value.http_status) == (ErrorKind.AUTH, 401)
    assert playlists(sandbox) == []


def test_rate_limits_and_server_errors(sandbox: Sandbox) -> None:
    """A 429 waits its Retry-After; a 500 is transient; neither makes a set."""
    _, creds = sandbox.account(P)
    track = upload(sandbox, creds, "T")
    sandbox.faults(P, rate_limit_rate=1.0, retry_after_seconds=7)
    with pytest.raises(PlatformError) as limited:
        ensure_set(sandbox.http, creds, **album(sandbox, creds, [track]))
    assert (limited.value.kind, limited.value.retry_after) == (ErrorKind.RATE_LIMITED, 7.0)
    sandbox.faults(P, rate_limit_rate=0.0, failure_rate=1.0)
    with pytest.raises(PlatformError) as failed:
        create_set(sandbox.http, creds, **album(sandbox, creds, [track]))
    assert failed.value.kind is ErrorKind.TRANSIENT
    assert playlists(sandbox) == []


def test_find_set_walks_every_page(small_pages: Sandbox) -> None:
    """With two sets a page, the oldest of five is on the third page: find_set gets there."""
    sandbox = small_pages
    _, creds = sandbox.account(P)
    track = upload(sandbox, creds, "T")
    made = []
    for n in range(5):
        made.append(create_set(sandbox.http, creds, **album(sandbox, creds, [track], tag=f"r{n}")))
        sandbox.clock.advance(60)  # /me/playlists lists the newest first
    assert find_set(sandbox.http, creds, tag="r0", base_url=sandbox.base(P)) == made[0]
    assert calls(sandbox)["me.playlists"] == 3
    assert find_set(sandbox.http, creds, tag="r9", base_url=sandbox.base(P)) is None
    assert calls(sandbox)["me.playlists"] == 6


# -- the fake's own rules, over raw HTTP ---------------------------------------------------


def _post(sandbox: Sandbox, creds: Credentials, **kwargs: Any) -> httpx.Response:
    return sandbox.http.post(f"{sandbox.base(P)}/playlists", headers=oauth(creds), **kwargs)


@pytest.mark.parametrize(
    ("playlist", "status", "message"),
    [
        ({"tracks": []}, 422, "Title can't be blank"),
        ({"title": "x" * 101}, 422, "Title is too long"),
        ({"title": "T", "sharing": "friends"}, 422, "Sharing is not included"),
        ({"title": "T", "set_type": "ep"}, 422, "Set type is not included"),
        ({"title": "T", "tracks": [{"id": 1}]}, 422, "Tracks must be a list"),
        ({"title": "T", "release_date": "01/04/2026"}, 422, "Release date"),
        ({"title": "T", "tracks": [{"urn": "soundcloud:tracks:9"}]}, 404, "was not found"),
    ],
)
def test_the_fake_refuses_bad_playlists(
    sandbox: Sandbox, playlist: dict[str, Any], status: int, message: str
) -> None:
    """The fake answers a bad playlist body as SoundCloud does, message first."""
    _, creds = sandbox.account(P)
    response = _post(sandbox, creds, json={"playlist": playlist})
    assert response.status_code == status
    assert message in response.json()["message"]


def test_the_fake_takes_the_form_encoding_and_plain_playlists(sandbox: Sandbox) -> None:
    """`-F playlist[...]` works too; a plain playlist may hold another user's public track,
    and a private set is hidden from others."""
    _, alice = sandbox.account(P, "alice")
    _, bob = sandbox.account(P, "bob")
    mine, theirs = upload(sandbox, alice, "Mine"), upload(sandbox, bob, "Theirs")
    form = {
        "playlist[title]": "Mix",
        "playlist[sharing]": "private",
        "playlist[tracks][][urn]": f"soundcloud:tracks:{theirs},soundcloud:tracks:{mine}",
    }
    made = _post(sandbox, alice, files={k: (None, v) for k, v in form.items()})  # multipart
    assert made.status_code == 201, made.text
    assert [t["id"] for t in made.json()["tracks"]] == [int(theirs), int(mine)]
    url = f"{sandbox.base(P)}/playlists/{made.json()['urn']}"
    assert sandbox.http.get(url, headers=oauth(bob)).status_code == 404
    listed = sandbox.http.get(
        f"{sandbox.base(P)}/me/playlists",
        params={"linked_partitioning": "true", "show_tracks": "false"},
        headers=oauth(alice),
    ).json()
    assert [(p["track_count"], p["tracks"]) for p in listed["collection"]] == [(2, [])]
    assert sandbox.http.delete(url, headers=oauth(bob)).status_code == 404
    assert sandbox.http.delete(url, headers=oauth(alice)).status_code == 200
    assert playlists(sandbox) == []


def test_the_fake_lets_only_the_owner_change_a_set(sandbox: Sandbox) -> None:
    """PUT by another user is 403; a deleted track drops out of its sets."""
    _, alice = sandbox.account(P, "alice")
    _, bob = sandbox.account(P, "bob")
    one, two = upload(sandbox, alice, "One"), upload(sandbox, alice, "Two")
    made = create_set(sandbox.http, alice, **album(sandbox, alice, [one, two]))
    url = f"{sandbox.base(P)}/playlists/{made.urn}"
    body = {"playlist": {"tracks": [{"urn": f"soundcloud:tracks:{two}"}]}}
    assert sandbox.http.put(url, json=body, headers=oauth(bob)).status_code == 403
    sandbox.http.delete(f"{sandbox.base(P)}/tracks/{one}", headers=oauth(alice))
    assert get_set(sandbox.http, alice, made.id, base_url=sandbox.base(P)).track_ids == [two]
