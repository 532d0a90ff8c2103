"""tweepy against the X fake: its OAuth 2.0 PKCE handler, `Client` and error types.

tweepy 4.17 hard-codes ``https://api.twitter.com`` (and ``twitter.com`` for consent); a
transport adapter on its own requests session sends those requests to the fake, changing only
scheme, host and port. tweepy has no v2 media upload (its `API.media_upload` speaks the
retired v1.1 ``upload.twitter.com/1.1/media/upload.json`` with OAuth 1.0a), so media goes
through tweepy's `Client.request` (JSON calls, tweepy's error mapping) and, for the multipart
APPEND it cannot send, through the same client's session, as tweepy users do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import tweepy
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from crosspost.fakes import XFake
from crosspost.fakes.x_rules import DUPLICATE
from crosspost.media.samples import make_image, make_video
from tests.contract.hosted import HostedFake, hosted, redirect_hosts

API = "https://api.twitter.com"
SCOPES = ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"]
REDIRECT_URI = "https://app.example/x/callback"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real 4 s H.264 clip and a JPEG."""
    folder = tmp_path_factory.mktemp("x")
    return {
        "video": make_video(folder / "clip.mp4", seconds=4),
        "image": make_image(folder / "photo.jpg"),
    }


@pytest.fixture
def x() -> Iterator[HostedFake]:
    """The X fake at the root of its own server."""
    with hosted(XFake) as fake:
        yield fake


def oauth_handler(fake: HostedFake) -> tweepy.OAuth2UserHandler:
    """tweepy's confidential-client PKCE handler, its token requests sent to the fake."""
    handler = tweepy.OAuth2UserHandler(
        client_id="sandbox-client",
        redirect_uri=REDIRECT_URI,
        scope=SCOPES,
        client_secret="sandbox-secret",
    )
    redirect_hosts(handler, fake.url, "api.twitter.com", "twitter.com")
    return handler


def consent(fake: HostedFake, handler: tweepy.OAuth2UserHandler, handle: str) -> dict[str, Any]:
    """The user allows tweepy's authorization URL on the fake; tweepy exchanges the code."""
    url = handler.get_authorization_url()
    assert url.startswith("https://twitter.com/i/oauth2/authorize?")
    # The user's click on Allow: the fake's consent page takes it as a query parameter.
    allow = f"&consent=allow&handle={handle}"
    page = fake.http.get(url.removeprefix("https://twitter.com") + allow)
    assert page.status_code == 302
    token: dict[str, Any] = handler.fetch_token(page.headers["location"])
    return token


def client_for(fake: HostedFake, access_token: str) -> tweepy.Client:
    """tweepy's v2 Client with a user-context OAuth 2.0 token, pointed at the fake."""
    client = tweepy.Client(access_token)
    redirect_hosts(client.session, fake.url, "api.twitter.com")
    return client


def append(client: tweepy.Client, media_id: str, index: int, chunk: bytes) -> None:
    """One multipart APPEND on the client's own session; failures raise tweepy's error."""
    response = client.session.post(
        f"{API}/2/media/upload/{media_id}/append",
        headers={"Authorization": f"Bearer {client.bearer_token}"},
        data={"segment_index": str(index)},
        files={"media": ("blob", chunk, "application/octet-stream")},
    )
    if not response.ok:
        raise tweepy.HTTPException(response)


def upload_video(fake: HostedFake, client: tweepy.Client, data: bytes) -> dict[str, Any]:
    """initialize, APPEND in three segments, finalize, STATUS until processed."""
    init = client.request(
        "POST",
        "/2/media/upload/initialize",
        json={"media_type": "video/mp4", "total_bytes": len(data), "media_category": "tweet_video"},
    ).json()["data"]
    third = len(data) // 3 + 1
    for index in range(3):
        append(client, init["id"], index, data[index * third : (index + 1) * third])
    finalized = client.request("POST", f"/2/media/upload/{init['id']}/finalize")
    final: dict[str, Any] = finalized.json()["data"]
    info = final["processing_info"]
    while info["state"] in {"pending", "in_progress"}:
        fake.clock.advance(info["check_after_secs"])
        status = client.request(
            "GET", "/2/media/upload", params={"command": "STATUS", "media_id": init["id"]}
        ).json()["data"]
        info = status["processing_info"]
    assert info["state"] == "succeeded"
    return {**init, **final}


def test_pkce_consent_token_exchange_and_rotating_refresh(x: HostedFake) -> None:
    """tweepy's PKCE flow gets tokens from the fake; requests-oauthlib's refresh rotates them."""
    handler = oauth_handler(x)
    token = consent(x, handler, "alice")
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert sorted(token["scope"]) == sorted(SCOPES)

    me = client_for(x, token["access_token"]).get_me(user_auth=False)
    assert me.data.username == "alice"

    renewed = handler.refresh_token(f"{API}/2/oauth2/token", refresh_token=token["refresh_token"])
    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] != token["refresh_token"]
    with pytest.raises(OAuth2Error) as spent:  # X rotates refresh tokens
        handler.refresh_token(f"{API}/2/oauth2/token", refresh_token=token["refresh_token"])
    assert spent.value.error == "invalid_request"
    assert spent.value.description == "Value passed for the token was invalid."
    assert spent.value.status_code == 400
    assert client_for(x, renewed["access_token"]).get_me(user_auth=False).data.id == me.data.id


def test_chunked_video_upload_then_create_tweet(x: HostedFake, media: dict[str, Path]) -> None:
    """v2 initialize/append/finalize/STATUS, then `Client.create_tweet`: one post, whole."""
    token = consent(x, oauth_handler(x), "alice")
    client = client_for(x, token["access_token"])
    data = media["video"].read_bytes()

    uploaded = upload_video(x, client, data)
    created = client.create_tweet(
        text="A clip from tweepy", media_ids=[uploaded["id"]], user_auth=False
    )

    assert uploaded["media_key"] == f"13_{uploaded['id']}" and uploaded["size"] == len(data)
    tweet_id = created.data["id"]
    assert created.data["edit_history_tweet_ids"] == [tweet_id]
    assert created.data["text"].startswith("A clip from tweepy https://t.co/")
    (post,) = x.state()["posts"]
    assert post["id"] == tweet_id
    assert post["media_ids"] == [uploaded["id"]]
    assert post["sha256"] == hashlib.sha256(data).hexdigest()
    assert post["account_external_id"] == str(client.get_me(user_auth=False).data.id)
    calls = x.state()["calls"]
    assert (calls["media.initialize"], calls["media.append"], calls["media.finalize"]) == (1, 3, 1)
    assert calls["tweets.create"] == 1


def test_command_form_image_upload_then_create_tweet(x: HostedFake, media: dict[str, Path]) -> None:
    """The ``command=INIT|APPEND|FINALIZE`` form of /2/media/upload with tweepy's v1.1 fields."""
    token = consent(x, oauth_handler(x), "alice")
    client = client_for(x, token["access_token"])
    data = media["image"].read_bytes()
    auth = {"Authorization": f"Bearer {client.bearer_token}"}
    url = f"{API}/2/media/upload"

    def command(**kwargs: Any) -> requests.Response:
        response = client.session.post(url, headers=auth, **kwargs)
        if not response.ok:
            raise tweepy.HTTPException(response)
        return response

    init = command(
        data={"command": "INIT", "total_bytes": str(len(data)), "media_type": "image/jpeg"}
    ).json()["data"]
    appended = command(
        data={"command": "APPEND", "media_id": init["id"], "segment_index": "0"},
        files={"media": ("photo.jpg", data, "image/jpeg")},
    )
    final = command(data={"command": "FINALIZE", "media_id": init["id"]}).json()["data"]
    created = client.create_tweet(text="A photo", media_ids=[init["id"]], user_auth=False)

    assert appended.status_code == 204 and not appended.content
    assert final["media_key"] == f"3_{init['id']}" and "processing_info" not in final
    (post,) = x.state()["posts"]
    assert post["id"] == created.data["id"] and post["media_ids"] == [init["id"]]
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_errors_parse_into_tweepy_exceptions(x: HostedFake) -> None:
    """X's problem JSON from the fake parses into tweepy's own exception for each status."""
    token = consent(x, oauth_handler(x), "alice")
    client = client_for(x, token["access_token"])
    client.create_tweet(text="once", user_auth=False)

    with pytest.raises(tweepy.Forbidden) as duplicate:
        client.create_tweet(text="once", user_auth=False)
    with pytest.raises(tweepy.BadRequest) as bad_media:
        client.create_tweet(text="twice", media_ids=["1"], user_auth=False)
    x.faults(rate_limit_rate=1.0, retry_after_seconds=30)
    with pytest.raises(tweepy.TooManyRequests) as limited:
        client.create_tweet(text="thrice", user_auth=False)
    x.faults(rate_limit_rate=0.0, expire_tokens=True)
    with pytest.raises(tweepy.Unauthorized) as expired:
        client.create_tweet(text="four times", user_auth=False)

    assert duplicate.value.api_messages == [DUPLICATE]
    assert bad_media.value.api_messages == ["Your media IDs are invalid."]
    assert limited.value.reset_time == int(x.clock.now) + 30
    assert expired.value.response.status_code == 401
    assert expired.value.api_messages == ["Unauthorized"]
    assert [p["text"] for p in x.state()["posts"]] == ["once"]


def test_consent_without_pkce_is_refused(x: HostedFake) -> None:
    """X requires PKCE: tweepy's authorization URL stripped of its challenge gets an error."""
    url = httpx.URL(oauth_handler(x).get_authorization_url())
    bare = {k: v for k, v in url.params.items() if not k.startswith("code_challenge")}

    page = x.http.get("/i/oauth2/authorize", params={**bare, "consent": "allow"})

    assert page.status_code == 302
    back = httpx.URL(page.headers["location"])
    assert back.params["error"] == "invalid_request" and "code" not in back.params


def test_paginator_walks_a_busy_timeline(x: HostedFake) -> None:
    """tweepy's `Paginator` follows the fake's next_token through a 250-post timeline, a
    reversed one follows previous_token back, and a bad token is tweepy's BadRequest."""
    account = x.account("busy", access_ttl_seconds=10**8)  # outlives the days of posting
    client = client_for(x, account["access_token"])
    made = []
    for n in range(250):
        made.append(client.create_tweet(text=f"post {n}", user_auth=False).data["id"])
        x.clock.advance(900)  # under the 100-a-day posting cap
    user = account["external_id"]

    pages = list(tweepy.Paginator(client.get_users_tweets, user, max_results=100, user_auth=False))
    assert [len(page.data) for page in pages] == [100, 100, 50]
    assert [t.id for page in pages for t in page.data] == [int(i) for i in reversed(made)]
    assert "next_token" not in pages[-1].meta
    back = tweepy.Paginator(
        client.get_users_tweets,
        user,
        max_results=100,
        pagination_token=pages[-1].meta["previous_token"],
        user_auth=False,
    )
    assert [page.meta["newest_id"] for page in reversed(back)] == [made[149], made[249]]
    with pytest.raises(tweepy.BadRequest) as bad:
        client.get_users_tweets(user, pagination_token="nope", user_auth=False)
    assert bad.value.api_messages == [
        "The `pagination_token` query parameter value [nope] is not valid"
    ]
