"""The Instagram fake's strictness, spoken to in raw HTTP (no client of ours)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import FakeConfig, serve_in_thread
from crosspost.fakes.base import Faults
from crosspost.fakes.instagram import InstagramFake

from .conftest import ManualClock, bearer

V = "/instagram/v21.0"
DATA = bytes(range(256)) * 400  # 102400 bytes


class Fake:
    """A running Instagram fake, its clock and an httpx client on it."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        config = FakeConfig(clock=self.clock, faults=Faults(processing_seconds=5.0))
        app = Starlette(routes=[Mount("/instagram", app=InstagramFake(config).asgi())])
        self.server = serve_in_thread(app)
        self.http = httpx.Client(base_url=self.server.url, timeout=30.0)

    def account(self, handle: str = "alice") -> dict[str, Any]:
        """Consent an account."""
        response = self.http.post("/instagram/_fake/accounts", json={"handle": handle})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        body: dict[str, Any] = self.http.get("/instagram/_fake/state").json()
        return body

    def faults(self, **knobs: Any) -> None:
        """Change fault knobs."""
        self.http.post("/instagram/_fake/faults", json=knobs).raise_for_status()

    def resumable(self, account: dict[str, Any], caption: str = "hi") -> tuple[str, str]:
        """Create a resumable Reels container: (container id, rupload uri)."""
        response = self.http.post(
            f"{V}/{account['external_id']}/media",
            data={"media_type": "REELS", "upload_type": "resumable", "caption": caption},
            headers=bearer(account),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return body["id"], body["uri"]

    def upload(
        self, account: dict[str, Any], uri: str, data: bytes, offset: int = 0, total: int = 0
    ) -> httpx.Response:
        """POST bytes to the rupload uri."""
        return self.http.post(
            uri,
            content=data,
            headers={
                "Authorization": f"OAuth {account['access_token']}",
                "offset": str(offset),
                "file_size": str(total or len(DATA)),
            },
        )


@pytest.fixture(scope="module")
def _fake() -> Iterator[Fake]:
    fake = Fake()
    yield fake
    fake.http.close()
    fake.server.stop()


@pytest.fixture
def fake(_fake: Fake) -> Fake:
    """The shared fake, reset before each test."""
    _fake.http.post("/instagram/_fake/reset").raise_for_status()
    _fake.clock.now = 1_800_003_600.0
    return _fake


def error_of(response: httpx.Response) -> tuple[int, int | None]:
    """(code, error_subcode) of a Graph error."""
    error = response.json()["error"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    return error["code"], error.get("error_subcode")


def test_full_resumable_flow(fake: Fake) -> None:
    """Container → rupload → IN_PROGRESS → FINISHED → publish → PUBLISHED with a permalink."""
    acct = fake.account()
    cid, uri = fake.resumable(acct)
    assert uri.endswith(f"/instagram/rupload/ig-api-upload/v21.0/{cid}")
    assert fake.upload(acct, uri, DATA).json() == {"success": True, "message": "Upload successful."}
    status = fake.http.get(f"{V}/{cid}", params={"fields": "status_code"}, headers=bearer(acct))
    assert status.json() == {"id": cid, "status_code": "IN_PROGRESS"}
    early = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    )
    assert error_of(early) == (9007, 2207027)
    fake.clock.advance(5)
    published = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    )
    media_id = published.json()["id"]
    again = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    )
    assert error_of(again)[0] == 100
    link = fake.http.get(f"{V}/{media_id}", params={"fields": "permalink"}, headers=bearer(acct))
    assert link.json()["permalink"].startswith("https://www.instagram.com/reel/")
    [post] = fake.state()["posts"]
    assert post["sha256"] == hashlib.sha256(DATA).hexdigest() and post["id"] == media_id
    limit = fake.http.get(
        f"{V}/{acct['external_id']}/content_publishing_limit",
        params={"fields": "quota_usage,config"},
        headers=bearer(acct),
    )
    assert limit.json() == {
        "data": [{"quota_usage": 1, "config": {"quota_total": 50, "quota_duration": 86400}}]
    }


def test_rupload_needs_oauth_scheme(fake: Fake) -> None:
    """The upload host wants ``Authorization: OAuth <token>``; Bearer is refused."""
    acct = fake.account()
    _, uri = fake.resumable(acct)
    response = fake.http.post(
        uri,
        content=DATA,
        headers={**bearer(acct), "offset": "0", "file_size": str(len(DATA))},
    )
    assert response.status_code == 401
    assert response.json()["debug_info"]["type"] == "AuthError"


def test_rupload_offset_must_match(fake: Fake) -> None:
    """A body must start at what arrived and run to file_size; headers are required."""
    acct = fake.account()
    _, uri = fake.resumable(acct)
    assert fake.upload(acct, uri, DATA[10:], offset=10).status_code == 400
    short = fake.upload(acct, uri, DATA[:10])
    assert short.status_code == 400  # does not reach file_size
    missing = fake.http.post(
        uri, content=DATA, headers={"Authorization": f"OAuth {acct['access_token']}"}
    )
    assert "offset and file_size" in missing.json()["debug_info"]["message"]
    assert fake.state()["containers"][0]["size"] == 0


def test_reset_keeps_received_bytes_as_resume_point(fake: Fake) -> None:
    """After a reset mid-body, bytes_transferred tells where to resume; resuming completes."""
    acct = fake.account()
    cid, uri = fake.resumable(acct)
    fake.faults(reset_mid_chunk_rate=1.0)
    with pytest.raises(httpx.TransportError):
        fake.upload(acct, uri, DATA)
    fake.faults(reset_mid_chunk_rate=0.0)
    status = fake.http.get(f"{V}/{cid}", params={"fields": "video_status"}, headers=bearer(acct))
    got = status.json()["video_status"]["uploading_phase"]["bytes_transferred"]
    assert 0 < got < len(DATA)
    assert fake.upload(acct, uri, DATA[got:], offset=got).status_code == 200
    fake.clock.advance(5)
    state = fake.state()["containers"][0]
    assert state["sha256"] == hashlib.sha256(DATA).hexdigest() and state["status"] == "FINISHED"


def test_graph_auth_errors(fake: Fake) -> None:
    """No token → 2500; unknown token → 190; expired → 190/463."""
    acct = fake.account()
    path = f"{V}/{acct['external_id']}/content_publishing_limit"
    assert error_of(fake.http.get(path))[0] == 2500
    assert error_of(fake.http.get(path, headers={"Authorization": "Bearer nope"})) == (190, None)
    fake.faults(expire_tokens=True)
    assert error_of(fake.http.get(path, headers=bearer(acct))) == (190, 463)


def test_container_checks(fake: Fake) -> None:
    """REELS needs video_url (or resumable); images need image_url; captions are bounded."""
    acct = fake.account()
    path = f"{V}/{acct['external_id']}/media"
    reel = fake.http.post(path, data={"media_type": "REELS"}, headers=bearer(acct))
    assert error_of(reel)[0] == 100 and "video_url" in reel.json()["error"]["message"]
    image = fake.http.post(path, data={"caption": "x"}, headers=bearer(acct))
    assert "image_url" in image.json()["error"]["message"]
    tags = " ".join(f"#t{i}" for i in range(31))
    many = fake.http.post(
        path,
        data={"media_type": "REELS", "upload_type": "resumable", "caption": tags},
        headers=bearer(acct),
    )
    assert "hashtags" in many.json()["error"]["error_user_msg"]
    assert fake.state()["containers"] == []


def test_other_accounts_objects_are_invisible(fake: Fake) -> None:
    """Another user's container or user id answers 100/33."""
    alice, bob = fake.account("alice"), fake.account("bob")
    cid, _ = fake.resumable(alice)
    seen = fake.http.get(f"{V}/{cid}", params={"fields": "status_code"}, headers=bearer(bob))
    assert error_of(seen) == (100, 33)
    publish = fake.http.post(
        f"{V}/{alice['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(bob)
    )
    assert error_of(publish) == (100, 33)


def test_container_expires_after_24h(fake: Fake) -> None:
    """An unpublished container is EXPIRED after 24 h and cannot be published."""
    acct = fake.account()
    cid, uri = fake.resumable(acct)
    fake.upload(acct, uri, DATA)
    fake.clock.advance(86400)
    status = fake.http.get(f"{V}/{cid}", params={"fields": "status_code"}, headers=bearer(acct))
    assert status.json()["status_code"] == "EXPIRED"
    publish = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    )
    assert error_of(publish) == (-2, 2207020)


def test_quota_and_throttle_faults(fake: Fake) -> None:
    """quota_exhausted → 9/2207042 on publish; rate_limit_rate → code 4 with the BUC header."""
    acct = fake.account()
    cid, uri = fake.resumable(acct)
    fake.upload(acct, uri, DATA)
    fake.clock.advance(5)
    fake.faults(quota_exhausted=True)
    publish = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    )
    assert error_of(publish) == (9, 2207042)
    fake.faults(quota_exhausted=False, rate_limit_rate=1.0, retry_after_seconds=300)
    throttled = fake.http.get(f"{V}/{cid}", params={"fields": "status_code"}, headers=bearer(acct))
    assert error_of(throttled)[0] == 4
    assert '"estimated_time_to_regain_access": 5' in throttled.headers["x-business-use-case-usage"]


def test_refresh_access_token_rules(fake: Fake) -> None:
    """Refresh needs ig_refresh_token, a token at least 24 h old and not expired."""
    acct = fake.account()
    params = {"grant_type": "ig_refresh_token", "access_token": acct["access_token"]}
    assert error_of(fake.http.get("/instagram/refresh_access_token", params=params))[0] == 10
    wrong = {**params, "grant_type": "refresh_token"}
    assert error_of(fake.http.get("/instagram/refresh_access_token", params=wrong))[0] == 100
    fake.clock.advance(86400)
    fresh = fake.http.get("/instagram/refresh_access_token", params=params).json()
    assert fresh["token_type"] == "bearer" and fresh["expires_in"] == 60 * 86400
    assert fresh["access_token"] != acct["access_token"]
    fake.faults(expire_tokens=True)
    dead = {**params, "access_token": fresh["access_token"]}
    assert error_of(fake.http.get("/instagram/refresh_access_token", params=dead)) == (190, 463)


def test_unknown_graph_version(fake: Fake) -> None:
    """A path without a vNN.0 version is refused."""
    acct = fake.account()
    response = fake.http.get(f"/instagram/latest/{acct['external_id']}", headers=bearer(acct))
    assert response.status_code == 400


def test_graph_paths_take_a_trailing_slash(fake: Fake) -> None:
    """Graph serves every path with or without a trailing slash (Meta's SDK adds one)."""
    acct = fake.account()
    cid, _ = fake.resumable(acct)
    user = acct["external_id"]
    token = {"access_token": acct["access_token"]}
    node = fake.http.get(f"{V}/{cid}/", params={**token, "fields": "status_code"})
    assert node.json() == {"id": cid, "status_code": "IN_PROGRESS"}
    me = fake.http.get(f"{V}/{user}/", params={**token, "fields": "username"})
    assert me.json() == {"id": user, "username": "alice"}
    edge = fake.http.get(f"{V}/{user}/content_publishing_limit/", params=token)
    assert edge.json() == {"data": [{"quota_usage": 0}]}


def test_appsecret_proof_is_checked_when_sent(fake: Fake) -> None:
    """A right appsecret_proof (HMAC-SHA256 of the token by the app secret) passes; a wrong
    one is Graph's code 100 GraphMethodException."""
    acct = fake.account()
    token = acct["access_token"]
    proof = hmac.new(b"sandbox-secret", token.encode(), hashlib.sha256).hexdigest()
    params = {"access_token": token, "fields": "username"}
    right = fake.http.get(f"{V}/me", params={**params, "appsecret_proof": proof})
    assert right.json()["username"] == "alice"
    wrong = fake.http.get(f"{V}/me", params={**params, "appsecret_proof": "00" * 32})
    error = wrong.json()["error"]
    assert (wrong.status_code, error["code"], error["type"]) == (400, 100, "GraphMethodException")


def test_media_insights_are_the_owners_and_grow(fake: Fake) -> None:
    """GET /{media-id}/insights: lifetime values that grow with time, for the media's owner
    only (100/33 for another or an unknown id); a retired or unknown metric is (#100)."""
    acct, other = fake.account(), fake.account("bob")
    cid, uri = fake.resumable(acct)
    fake.upload(acct, uri, DATA)
    fake.clock.advance(5)
    media_id = fake.http.post(
        f"{V}/{acct['external_id']}/media_publish", data={"creation_id": cid}, headers=bearer(acct)
    ).json()["id"]
    path = f"{V}/{media_id}/insights"
    metrics = {"metric": "views,likes,comments,shares,saved,reach,total_interactions"}

    def values() -> dict[str, int]:
        answer = fake.http.get(path, params=metrics, headers=bearer(acct))
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert all(d["period"] == "lifetime" and d["id"].startswith(media_id) for d in data)
        return {d["name"]: d["values"][0]["value"] for d in data}

    fake.clock.advance(3600)
    early = values()
    fake.clock.advance(5 * 3600)
    late = values()
    assert 0 < early["views"] < late["views"] and early["likes"] <= late["likes"]
    assert (
        late["total_interactions"]
        == late["likes"] + late["comments"] + late["shares"] + (late["saved"])
    )
    fields = fake.http.get(f"{V}/{media_id}", params={"fields": "like_count,comments_count"},
                           headers=bearer(acct)).json()  # fmt: skip
    assert (fields["like_count"], fields["comments_count"]) == (late["likes"], late["comments"])
    assert error_of(fake.http.get(path, params=metrics, headers=bearer(other))) == (100, 33)
    unknown = fake.http.get(f"{V}/17999999999999999/insights", params=metrics,
                            headers=bearer(acct))  # fmt: skip
    assert error_of(unknown) == (100, 33)
    for bad in ("impressions", "views,followers", ""):
        refused = fake.http.get(path, params={"metric": bad}, headers=bearer(acct))
        assert refused.status_code == 400 and error_of(refused) == (100, None), refused.text
    assert fake.http.get(path, params=metrics).status_code in (400, 401)
