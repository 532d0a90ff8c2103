"""google-api-python-client, with the discovery document it ships, against the YouTube fake.

The library runs its own resumable upload (`videos().insert` + `next_chunk()`), `videos().list`
polling, `thumbnails().set` and its OAuth refresh; a divergence between fake and platform
fails here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import google_auth_httplib2
import httplib2
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload, MediaInMemoryUpload

from crosspost.fakes import YouTubeFake
from crosspost.media.samples import make_image, make_video
from tests.contract.hosted import HostedFake, hosted

CHUNK = 256 * 1024  # the library's chunks must be multiples of 256 KiB, as YouTube's are


class PlainHttpToFake(httplib2.Http):
    """httplib2 as `googleapiclient.http.build_http` configures it, speaking plain HTTP to
    the fake.

    With `api_endpoint` set, the library moves media uploads to that endpoint's host but keeps
    the discovery document's `https` scheme; only that scheme is changed here.
    """

    def __init__(self, fake_url: str) -> None:
        super().__init__(timeout=30)
        self._netloc = urlsplit(fake_url).netloc
        # As build_http does: YouTube's 308 means "resume incomplete", not a redirect.
        self.redirect_codes = self.redirect_codes - {308}

    def request(  # type: ignore[override]
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any
    ) -> Any:
        """Send `uri` over plain HTTP when it names the fake."""
        parts = urlsplit(uri)
        if parts.netloc == self._netloc and parts.scheme == "https":
            uri = urlunsplit(("http", *parts[1:]))
        return super().request(uri, method, body, headers, **kw)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 20 s H.264 clip of about 500 KB: two 256 KiB chunks."""
    path = make_video(tmp_path_factory.mktemp("yt") / "clip.mp4", seconds=20)
    assert path.stat().st_size > CHUNK
    return path


@pytest.fixture
def youtube() -> Iterator[HostedFake]:
    """The YouTube fake at the root of its own server."""
    with hosted(YouTubeFake) as fake:
        yield fake


def credentials(fake: HostedFake, account: dict[str, Any], **override: Any) -> Credentials:
    """Static user credentials from the fake's consent, refreshable at the fake's /token."""
    fields: dict[str, Any] = {
        "token": account["access_token"],
        "refresh_token": account["refresh_token"],
        "token_uri": f"{fake.url}/token",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    fields.update(override)
    token = fields.pop("token")
    return Credentials(token, **fields)


def youtube_api(fake: HostedFake, creds: Credentials) -> Any:
    """The library's YouTube service from its bundled discovery document, pointed at the fake."""
    http = google_auth_httplib2.AuthorizedHttp(creds, http=PlainHttpToFake(fake.url))
    return build(
        "youtube",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": f"{fake.url}/"},
    )


def upload(api: Any, path: Path, body: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """The library's resumable insert, driven chunk by chunk: (video resource, progress)."""
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=CHUNK, resumable=True)
    request = api.videos().insert(part="snippet,status", body=body, media_body=media)
    progress: list[float] = []
    response = None
    while response is None:
        status, response = request.next_chunk()
        if status is not None:
            progress.append(status.progress())
    return response, progress


def test_resumable_insert_processing_poll_and_thumbnail(youtube: HostedFake, clip: Path) -> None:
    """Insert in 256 KiB chunks, poll until processed, set a thumbnail: one video, whole."""
    account = youtube.account("alice")
    api = youtube_api(youtube, credentials(youtube, account))
    body = {
        "snippet": {"title": "Contract clip", "description": "From the official client"},
        "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
    }

    video, progress = upload(api, clip, body)

    assert progress == [CHUNK / clip.stat().st_size]  # one 308, then the final 201
    assert video["kind"] == "youtube#video"
    assert video["snippet"]["title"] == "Contract clip"
    assert video["snippet"]["channelId"] == account["external_id"]
    assert video["status"]["uploadStatus"] == "uploaded"
    polls: list[str] = []
    for _ in range(20):
        listed = api.videos().list(part="status,processingDetails", id=video["id"]).execute()
        (item,) = listed["items"]
        polls.append(item["processingDetails"]["processingStatus"])
        if polls[-1] != "processing":
            break
        youtube.clock.advance(1.0)
    assert polls[0] == "processing" and polls[-1] == "succeeded"
    assert item["status"]["uploadStatus"] == "processed"
    thumbnail = make_image(clip.parent / "thumb.jpg")
    media = MediaFileUpload(str(thumbnail), mimetype="image/jpeg")
    answer = api.thumbnails().set(videoId=video["id"], media_body=media).execute()
    assert answer["kind"] == "youtube#thumbnailSetResponse"

    (post,) = youtube.state()["posts"]
    assert post["id"] == video["id"]
    assert post["account_external_id"] == account["external_id"]
    assert (post["title"], post["privacy"], post["status"]) == (
        "Contract clip",
        "unlisted",
        "processed",
    )
    assert post["size"] == clip.stat().st_size
    assert post["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert post["thumbnail_sha256"] == hashlib.sha256(thumbnail.read_bytes()).hexdigest()
    calls = youtube.state()["calls"]
    assert (calls["videos.insert"], calls["videos.insert.upload"]) == (1, 2)


def test_expired_token_is_refreshed_at_the_token_endpoint(youtube: HostedFake, clip: Path) -> None:
    """A 401 from the fake makes google-auth refresh at /token and retry, once."""
    account = youtube.account("alice")
    creds = credentials(youtube, account)
    api = youtube_api(youtube, creds)
    youtube.faults(expire_tokens=True)

    video, _ = upload(api, clip, {"snippet": {"title": "After refresh"}})

    assert creds.token != account["access_token"]
    assert creds.token.startswith("ya29.")
    assert youtube.state()["calls"]["oauth.token"] == 1
    assert [p["id"] for p in youtube.state()["posts"]] == [video["id"]]


def test_quota_fault_is_http_error_quota_exceeded(youtube: HostedFake) -> None:
    """The fake's 403 quota body parses into the library's HttpError with its reason."""
    api = youtube_api(youtube, credentials(youtube, youtube.account("alice")))
    youtube.faults(quota_exhausted=True)

    with pytest.raises(HttpError) as caught:
        api.videos().list(part="status", id="dQw4w9WgXcQ").execute()

    assert caught.value.status_code == 403
    assert [d["reason"] for d in caught.value.error_details] == ["quotaExceeded"]
    assert caught.value.error_details[0]["domain"] == "youtube.quota"
    assert "quota" in caught.value.reason


def test_dead_refresh_token_is_refresh_error_invalid_grant(youtube: HostedFake) -> None:
    """An expired token with a revoked refresh token ends in google-auth's RefreshError."""
    account = youtube.account("alice")
    creds = credentials(youtube, account, refresh_token="1//fake-revoked")
    api = youtube_api(youtube, creds)
    youtube.faults(expire_tokens=True)

    with pytest.raises(RefreshError, match="invalid_grant") as caught:
        api.videos().list(part="status", id="dQw4w9WgXcQ").execute()

    assert caught.value.args[1]["error_description"] == "Token has been expired or revoked."
    assert youtube.state()["calls"]["oauth.token"] == 1


def test_multipart_insert_in_one_request(youtube: HostedFake, clip: Path) -> None:
    """A non-resumable MediaFileUpload (the library's default) is one uploadType=multipart
    request holding the metadata and the bytes; YouTube accepts it, so the fake does."""
    account = youtube.account("alice")
    api = youtube_api(youtube, credentials(youtube, account))
    body = {
        "snippet": {"title": "In one go", "tags": ["contract"]},
        "status": {"privacyStatus": "private"},
    }

    media = MediaFileUpload(str(clip), mimetype="video/mp4")
    video = api.videos().insert(part="snippet,status", body=body, media_body=media).execute()

    assert video["snippet"]["title"] == "In one go" and video["snippet"]["tags"] == ["contract"]
    assert video["status"] == {
        "uploadStatus": "uploaded",
        "privacyStatus": "private",
        "license": "youtube",
        "embeddable": True,
        "publicStatsViewable": True,
    }
    (post,) = youtube.state()["posts"]
    assert post["id"] == video["id"] and post["account_external_id"] == account["external_id"]
    assert post["size"] == clip.stat().st_size
    assert post["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert youtube.state()["quota"]["insert_calls"] == 1 and youtube.state()["sessions"] == []


def test_multipart_insert_refusals_name_the_problem(youtube: HostedFake) -> None:
    """A multipart insert with bad metadata or a non-video part is refused in Google's shape."""
    api = youtube_api(youtube, credentials(youtube, youtube.account("alice")))
    bad_title = MediaInMemoryUpload(b"\x00" * 1024, mimetype="video/mp4")
    not_video = MediaInMemoryUpload(b"hello", mimetype="text/plain")

    with pytest.raises(HttpError) as title:
        api.videos().insert(
            part="snippet", body={"snippet": {"title": "<b>"}}, media_body=bad_title
        ).execute()
    with pytest.raises(HttpError) as kind:
        api.videos().insert(
            part="snippet", body={"snippet": {"title": "ok"}}, media_body=not_video
        ).execute()

    assert title.value.status_code == 400
    assert [d["reason"] for d in title.value.error_details] == ["invalidTitle"]
    assert kind.value.status_code == 400
    assert [d["reason"] for d in kind.value.error_details] == ["badContent"]
    assert youtube.state()["posts"] == []


def test_comment_threads_insert_and_list(youtube: HostedFake, clip: Path) -> None:
    """`commentThreads().insert` starts a thread the library reads back with
    `commentThreads().list`; an unknown video is the library's HttpError videoNotFound."""
    account = youtube.account("alice")
    api = youtube_api(youtube, credentials(youtube, account))
    video, _ = upload(api, clip, {"snippet": {"title": "Commented"}, "status": {}})
    body = {
        "snippet": {
            "channelId": account["external_id"],
            "videoId": video["id"],
            "topLevelComment": {"snippet": {"textOriginal": "First!"}},
        }
    }
    thread = api.commentThreads().insert(part="snippet", body=body).execute()
    assert thread["kind"] == "youtube#commentThread"
    top = thread["snippet"]["topLevelComment"]["snippet"]
    assert (top["textOriginal"], top["authorChannelId"]["value"]) == (
        "First!",
        account["external_id"],
    )
    listed = api.commentThreads().list(part="snippet", videoId=video["id"]).execute()
    assert [t["id"] for t in listed["items"]] == [thread["id"]]
    body["snippet"]["videoId"] = "AAAAAAAAAAA"
    with pytest.raises(HttpError) as missing:
        api.commentThreads().insert(part="snippet", body=body).execute()
    assert missing.value.resp.status == 404
    assert missing.value.error_details[0]["reason"] == "videoNotFound"
