"""linkedin-api-client (LinkedIn's own `RestliClient` and `AuthClient`) against the fake.

The library builds every URL from ``https://api.linkedin.com/rest`` (and
``https://www.linkedin.com/oauth/v2``); a transport adapter on its own session sends those
requests to the fake, changing only scheme, host and port. The part uploads go to the
``uploadUrl``s the fake hands out, on the same session, as the library has no upload call.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from linkedin_api.clients.auth.client import AuthClient
from linkedin_api.clients.restli.client import RestliClient
from linkedin_api.common.errors import ResponseFormattingError

from crosspost.fakes import LinkedInFake
from crosspost.media.samples import make_video
from tests.contract.hosted import HostedFake, hosted, redirect_hosts

VERSION = "202601"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 20 s H.264 clip (LinkedIn refuses videos under 75 KB)."""
    return make_video(tmp_path_factory.mktemp("li") / "clip.mp4", seconds=20)


@pytest.fixture
def linkedin() -> Iterator[HostedFake]:
    """The LinkedIn fake at the root of its own server."""
    with hosted(LinkedInFake) as fake:
        yield fake


class Member:
    """A consented member and a RestliClient that records the raw responses it got."""

    def __init__(self, fake: HostedFake, handle: str = "alice") -> None:
        account = fake.account(handle)
        self.token: str = account["access_token"]
        self.refresh_token: str = account["refresh_token"]
        self.urn = f"urn:li:person:{account['external_id']}"
        self.client = RestliClient()
        self.transport = redirect_hosts(self.client.session, fake.url, "api.linkedin.com")

    def initialize(self, size: int) -> dict[str, Any]:
        """`videos?action=initializeUpload` through the library's ACTION call."""
        answer = self.client.action(
            resource_path="/videos",
            action_name="initializeUpload",
            action_params={
                "initializeUploadRequest": {
                    "owner": self.urn,
                    "fileSizeBytes": size,
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
            access_token=self.token,
            version_string=VERSION,
        )
        assert answer.status_code == 200
        value: dict[str, Any] = answer.value
        return value

    def put_parts(self, instructions: list[dict[str, Any]], data: bytes) -> list[str]:
        """PUT each instructed byte range; the ETags in instruction order."""
        etags = []
        for step in instructions:
            part = data[step["firstByte"] : step["lastByte"] + 1]
            response = self.client.session.put(
                step["uploadUrl"], data=part, headers={"Content-Type": "application/octet-stream"}
            )
            assert response.status_code == 200, response.text
            etags.append(response.headers["ETag"])
        return etags

    def finalize(self, video: str, upload_token: str, etags: list[str]) -> requests.Response:
        """`videos?action=finalizeUpload`: a void Rest.li action, answered 200 with no body.

        The library's ACTION formatter reads every answer as JSON, so it raises on that empty
        body; the request it sent is still the library's own, and its answer is returned.
        """
        before = len(self.transport.responses)
        with pytest.raises(ResponseFormattingError):
            self.client.action(
                resource_path="/videos",
                action_name="finalizeUpload",
                action_params={
                    "finalizeUploadRequest": {
                        "video": video,
                        "uploadToken": upload_token,
                        "uploadedPartIds": etags,
                    }
                },
                access_token=self.token,
                version_string=VERSION,
            )
        (answer,) = self.transport.responses[before:]
        return answer

    def video_status(self, video: str) -> dict[str, Any]:
        """`GET /rest/videos/{urn}` (the library URL-encodes the URN key)."""
        answer = self.client.get(
            resource_path="/videos/{id}",
            path_keys={"id": video},
            access_token=self.token,
            version_string=VERSION,
        )
        assert answer.status_code == 200, answer.entity
        entity: dict[str, Any] = answer.entity
        return entity

    def create_post(self, commentary: str, video: str | None = None) -> Any:
        """`POST /rest/posts` through the library's CREATE call."""
        entity: dict[str, Any] = {
            "author": self.urn,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if video is not None:
            entity["content"] = {"media": {"title": "Contract clip", "id": video}}
        return self.client.create(
            resource_path="/posts", entity=entity, access_token=self.token, version_string=VERSION
        )


def publish_video(fake: HostedFake, member: Member, data: bytes, commentary: str) -> Any:
    """Initialize, PUT parts, finalize, poll until AVAILABLE, create the post."""
    upload = member.initialize(len(data))
    etags = member.put_parts(upload["uploadInstructions"], data)
    finalized = member.finalize(upload["video"], upload["uploadToken"], etags)
    assert (finalized.status_code, finalized.content) == (200, b"")
    statuses = [member.video_status(upload["video"])["status"]]
    while statuses[-1] == "PROCESSING":
        fake.clock.advance(1.0)
        statuses.append(member.video_status(upload["video"])["status"])
    assert statuses[0] == "PROCESSING" and statuses[-1] == "AVAILABLE"
    return upload, member.create_post(commentary, upload["video"])


def test_single_part_video_post(linkedin: HostedFake, clip: Path) -> None:
    """A real clip in one part: initialize, PUT, finalize, poll, post; one post, whole."""
    member = Member(linkedin)
    data = clip.read_bytes()

    upload, created = publish_video(linkedin, member, data, r"A clip \(via the SDK\)")

    assert upload["video"].startswith("urn:li:video:") and upload["uploadToken"] == ""
    assert len(upload["uploadInstructions"]) == 1
    assert created.status_code == 201
    assert created.entity_id.startswith("urn:li:ugcPost:")
    (post,) = linkedin.state()["posts"]
    assert post["id"] == created.entity_id
    assert (post["author"], post["video"], post["title"]) == (
        member.urn,
        upload["video"],
        "Contract clip",
    )
    assert post["text"] == "A clip (via the SDK)" and not post["truncated"]
    assert post["sha256"] == hashlib.sha256(data).hexdigest()
    found = member.client.finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": member.urn},
        access_token=member.token,
        version_string=VERSION,
    )
    assert [e["id"] for e in found.elements] == [created.entity_id]


def test_multi_part_upload_keeps_etag_order(linkedin: HostedFake) -> None:
    """A 9 MB file comes back as three 4 MiB-instructed parts; their ETags finalize it."""
    member = Member(linkedin)
    data = random.Random(9).randbytes(9 * 1024 * 1024)

    upload, created = publish_video(linkedin, member, data, "Three parts")

    assert [(s["firstByte"], s["lastByte"]) for s in upload["uploadInstructions"]] == [
        (0, 4 * 1024 * 1024 - 1),
        (4 * 1024 * 1024, 8 * 1024 * 1024 - 1),
        (8 * 1024 * 1024, len(data) - 1),
    ]
    assert upload["uploadToken"]  # multi-part uploads carry a token to echo back
    (post,) = linkedin.state()["posts"]
    assert post["id"] == created.entity_id
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_refresh_through_auth_client(linkedin: HostedFake) -> None:
    """`AuthClient.exchange_refresh_token_for_access_token` gets a working token."""
    member = Member(linkedin)
    auth = AuthClient(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        redirect_url="https://app.example/linkedin/callback",
    )
    redirect_hosts(auth.session, linkedin.url, "www.linkedin.com")
    linkedin.faults(expire_tokens=True)

    renewed = auth.exchange_refresh_token_for_access_token(member.refresh_token)

    assert renewed.status_code == 200
    assert renewed.access_token != member.token
    assert renewed.refresh_token == member.refresh_token  # LinkedIn does not rotate it
    assert renewed.expires_in == 60 * 86400
    member.token = renewed.access_token
    assert member.create_post("After a refresh").status_code == 201
    dead = auth.exchange_refresh_token_for_access_token("AQXrevoked")
    assert dead.status_code == 400 and dead.access_token is None
    assert dead.response.json()["error"] == "invalid_grant"


def test_errors_parse_into_the_library_responses(linkedin: HostedFake, clip: Path) -> None:
    """LinkedIn's error JSON from the fake is the entity of the library's response objects."""
    member = Member(linkedin)
    assert member.create_post("Only once").status_code == 201

    duplicate = member.create_post("Only once")
    linkedin.faults(expire_tokens=True)
    expired = member.client.get(
        resource_path="/videos/{id}",
        path_keys={"id": "urn:li:video:C5NONE"},
        access_token=member.token,
        version_string=VERSION,
    )
    expired_create = member.create_post("Too late")

    assert duplicate.status_code == 422 and duplicate.entity_id is None
    assert duplicate.entity["code"] == "DUPLICATE_POST"
    assert expired.status_code == 401
    assert (expired.entity["serviceErrorCode"], expired.entity["code"]) == (
        65602,
        "EXPIRED_ACCESS_TOKEN",
    )
    assert expired_create.status_code == 401 and expired_create.entity["status"] == 401
    assert [p["text"] for p in linkedin.state()["posts"]] == ["Only once"]


def auth_client(fake: HostedFake) -> AuthClient:
    """LinkedIn's AuthClient for the sandbox app, its www.linkedin.com calls sent to the fake."""
    auth = AuthClient(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        redirect_url="https://app.example/linkedin/callback",
    )
    redirect_hosts(auth.session, fake.url, "www.linkedin.com")
    return auth


def consent_code(fake: HostedFake, url: str, handle: str) -> str:
    """The member clicks Allow on the consent page; the code LinkedIn redirects back with."""
    assert url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    page = fake.http.get(
        url.removeprefix("https://www.linkedin.com") + f"&consent=allow&handle={handle}"
    )
    assert page.status_code == 302, page.text
    location = httpx.URL(page.headers["location"])
    assert "error" not in location.params, location.params
    return location.params["code"]


def test_authorization_code_flow_without_pkce(linkedin: HostedFake) -> None:
    """LinkedIn's web flow has no PKCE: AuthClient's consent URL and code exchange work."""
    auth = auth_client(linkedin)
    url = auth.generate_member_auth_url(scopes=["openid", "profile", "w_member_social"], state="s1")

    token = auth.exchange_auth_code_for_access_token(consent_code(linkedin, url, "carol"))

    assert token.status_code == 200 and token.access_token
    assert token.expires_in == 60 * 86400 and token.refresh_token
    (account,) = linkedin.http.get("/_fake/accounts").json()
    client = RestliClient()
    redirect_hosts(client.session, linkedin.url, "api.linkedin.com")
    created = client.create(
        resource_path="/posts",
        entity={
            "author": f"urn:li:person:{account['external_id']}",
            "commentary": "Consented without PKCE",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        },
        access_token=token.access_token,
        version_string=VERSION,
    )
    assert created.status_code == 201
    assert [p["id"] for p in linkedin.state()["posts"]] == [created.entity_id]


def test_a_code_bound_to_a_pkce_challenge_still_needs_its_verifier(linkedin: HostedFake) -> None:
    """PKCE stays optional, not ignored: a challenged code exchanged without a verifier fails."""
    auth = auth_client(linkedin)
    url = auth.generate_member_auth_url(scopes=["w_member_social"], state="s2")
    challenge = "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    refused = auth.exchange_auth_code_for_access_token(
        consent_code(linkedin, url + challenge + "&code_challenge_method=S256", "dave")
    )

    assert refused.status_code == 400 and refused.access_token is None
    assert refused.response.json()["error"] == "invalid_grant"
