"""Cover art generated for a release as a job, accepted as its cover; and the release
figures /metrics gives (distributions by channel and status, success rate, time to live,
art generation time). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from crosspost.domain.enums import Mode
from crosspost.engine.keys import issue_key
from tests.e2e.conftest import Stack, expect_problem, wait_until
from tests.e2e.music import jpeg, release_body, upload, wav


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack that reads the distributor's reports every tenth of a second."""
    return make_stack(distribution_poll_seconds=0.1)


def _generate(stack: Stack, release_id: str, **body: Any) -> dict[str, Any]:
    answer = stack.http.post(f"/v1/releases/{release_id}/artwork:generate", json=body)
    assert answer.status_code == 202, answer.text
    job = stack.wait_job(answer.json()["id"])
    assert (job["status"], job["kind"]) == ("succeeded", "artwork_generation"), job
    return dict(job["result"])


def test_generated_art_is_a_3000_pixel_cover_the_release_can_take(stack: Stack) -> None:
    """The job stores a 3000x3000 JPEG as a media item; the same seed draws the same
    picture; accepted, it is the release's cover and the release distributes with it;
    /metrics then counts the live distribution and the drawing time."""
    master = upload(stack, wav(), "audio/wav", "one.wav")
    release = stack.http.post("/v1/releases", json=release_body([master], None)).json()
    assert release["artwork_media_id"] is None
    made = _generate(stack, release["id"], style="waves", seed=7, prompt="neon night")
    assert (made["width"], made["height"], made["style"], made["seed"]) == (3000, 3000, "waves", 7)
    assert made["generator"] == "procedural" and made["seconds"] > 0
    image = stack.http.get(f"/v1/media/{made['media_id']}").json()
    assert (image["kind"], image["width"], image["height"]) == ("image", 3000, 3000)
    again = _generate(stack, release["id"], style="waves", seed=7, prompt="neon night")
    assert again["media_id"] != made["media_id"]
    second = stack.http.get(f"/v1/media/{again['media_id']}").json()
    assert second["sha256"] == image["sha256"]  # the same seed, the same picture
    taken = stack.http.put(
        f"/v1/releases/{release['id']}/artwork", json={"media_id": made["media_id"]}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["artwork_media_id"] == made["media_id"]
    started = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["ddex"]}
    ).json()["data"][0]

    def live() -> bool:
        found = stack.http.get(f"/v1/distributions/{started['id']}").json()
        assert found["status"] != "failed", found
        return bool(found["status"] == "live")

    wait_until("the distribution to go live", live, timeout=90)
    scraped = httpx.get(f"{stack.api_url}/metrics").text
    assert 'crosspost_distributions{channel="ddex",status="live"} 1.0' in scraped
    assert 'crosspost_distribution_success_ratio{channel="ddex"} 1.0' in scraped
    assert 'crosspost_distribution_seconds_to_live_count{channel="ddex"} 1.0' in scraped
    assert "crosspost_artwork_generation_seconds_count 2.0" in scraped


def test_bad_art_requests_and_covers_are_refused(stack: Stack) -> None:
    """An unknown style, a seed out of range, an unknown release, a cover too small, not
    an image, or another tenant's: each refused with its code."""
    master = upload(stack, wav(), "audio/wav", "one.wav")
    release = stack.http.post("/v1/releases", json=release_body([master], None)).json()
    path = f"/v1/releases/{release['id']}/artwork:generate"
    assert stack.http.post(path, json={"style": "cubism"}).status_code == 422
    assert stack.http.post(path, json={"seed": -1}).status_code == 422
    assert stack.http.post(path, json={"seed": 2**32}).status_code == 422
    missing = stack.http.post("/v1/releases/rel_nope/artwork:generate", json={})
    expect_problem(missing, 404, "release_not_found")
    small = upload(stack, jpeg(2999), "image/jpeg", "small.jpg")
    cover = f"/v1/releases/{release['id']}/artwork"
    expect_problem(stack.http.put(cover, json={"media_id": small}), 422, "artwork_too_small")
    expect_problem(stack.http.put(cover, json={"media_id": master}), 422, "media_not_found")
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.other_tenant_key()}"}
    ) as other:
        assert other.post(path, json={}).status_code == 404


@pytest.mark.parametrize("generator", ["stability", "replicate"])
def test_a_hosted_model_draws_the_cover_in_the_sandbox(stack: Stack, generator: str) -> None:
    """Stability AI or Replicate (the sandbox's fakes, over HTTP) draw the picture; it comes
    back a 3000x3000 cover the stores take, and the release accepts it."""
    master = upload(stack, wav(), "audio/wav", "one.wav")
    release = stack.http.post("/v1/releases", json=release_body([master], None)).json()
    made = _generate(stack, release["id"], generator=generator, seed=11, prompt="ocean")
    assert (made["generator"], made["width"], made["height"]) == (generator, 3000, 3000)
    taken = stack.http.put(
        f"/v1/releases/{release['id']}/artwork", json={"media_id": made["media_id"]}
    )
    assert taken.status_code == 200, taken.text


def test_a_hosted_model_without_a_key_is_refused_with_the_setting_to_set(stack: Stack) -> None:
    """With a live key, a hosted model needs this server's own key: 422 naming the setting,
    and the built-in generator still works."""
    _, key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="live", mode=Mode.LIVE)
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}) as live:
        master = live.post(
            "/v1/media",
            content=wav(),
            headers={"Content-Type": "audio/wav", "X-Filename": "one.wav"},
        ).json()["id"]
        release = live.post("/v1/releases", json=release_body([master], None)).json()
        path = f"/v1/releases/{release['id']}/artwork:generate"
        refused = expect_problem(
            live.post(path, json={"generator": "replicate"}), 422, "generator_unavailable"
        )
        assert "CROSSPOST_REPLICATE_API_TOKEN" in refused["detail"]
        assert live.post(path, json={}).status_code == 202
