"""Releases distributed through DDEX to the sandbox's fake distributor over real SFTP: one
batch delivered, acknowledged, then live in every store; a rejection explained and retried
as a new batch; a store's refusal kept with its reason; a takedown; bad requests refused.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.ddex import ern_schema
from tests.e2e.conftest import _LOCAL, Stack, expect_problem, wait_until
from tests.e2e.music import masters, release_body

STORES = {"spotify", "apple_music", "youtube_music", "amazon_music", "deezer"}


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack that reads the distributor's reports every tenth of a second."""
    return make_stack(distribution_poll_seconds=0.1, distribution_scheduled_poll_seconds=0.1)


def _release(stack: Stack) -> dict[str, Any]:
    first, second, art = masters(stack)
    made = stack.http.post("/v1/releases", json=release_body([first, second], art))
    assert made.status_code == 201, made.text
    return dict(made.json())


def _distribute(stack: Stack, release: dict[str, Any], **body: Any) -> dict[str, Any]:
    answer = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["ddex"], **body}
    )
    assert answer.status_code == 202, answer.text
    [started] = answer.json()["data"]
    assert started["status"] == "pending" and started["channel"] == "ddex"
    return dict(started)


def _ended(stack: Stack, distribution_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        found = dict(stack.http.get(f"/v1/distributions/{distribution_id}").json())
        return found if found["status"] in ("live", "failed", "taken_down") else None

    return dict(wait_until(f"distribution {distribution_id} to end", settled, timeout=90))


def _batches(stack: Stack) -> list[dict[str, Any]]:
    answer = _LOCAL.get(f"{stack.fakes_url}/distributor/_fake/batches")
    answer.raise_for_status()
    return list(answer.json())


def _fault(stack: Stack, **fault: Any) -> None:
    _LOCAL.post(f"{stack.fakes_url}/distributor/_fake/faults", json=fault).raise_for_status()


def _statuses(stack: Stack, distribution_id: str) -> list[tuple[str, str]]:
    return [
        (e["data"]["previous_status"], e["data"]["status"])
        for e in stack.events("distribution.status_changed")
        if e["data"]["distribution_id"] == distribution_id
    ]


def test_a_release_is_delivered_once_and_goes_live_in_every_store(stack: Stack) -> None:
    """One batch reaches the distributor whole (its files' MD5s those of the masters), is
    accepted, and every store reports the release live with its URL; each step is a
    webhook, and the job ends succeeded."""
    release = _release(stack)
    started = _distribute(stack, release)
    done = _ended(stack, started["id"])
    assert done["status"] == "live", done
    assert done["batch_id"] == f"{started['id']}-1" and done["delivered_at"]
    assert {s["store"] for s in done["stores"]} == STORES
    assert all(s["status"] == "live" and s["url"].startswith("https://") for s in done["stores"])
    [batch] = _batches(stack)
    assert (batch["batch_id"], batch["status"], batch["kind"]) == (
        done["batch_id"],
        "Accepted",
        "release",
    )
    assert _statuses(stack, started["id"]) == [
        ("pending", "uploading"),
        ("uploading", "processing"),
        ("processing", "live"),
    ]
    [live] = stack.events("distribution.live")
    assert (live["data"]["distribution_id"], live["data"]["release_id"]) == (
        done["id"],
        release["id"],
    )
    job = stack.http.get(f"/v1/jobs/{done['job_id']}").json()
    assert (job["status"], job["kind"]) == ("succeeded", "distribution")
    steps = stack.http.get(f"/v1/distributions/{done['id']}/ledger").json()
    assert [s["event_type"] for s in steps] == [
        "distribution_created",
        "distribution_uploading",
        "distribution_processing",
        "distribution_live",
    ]
    assert steps[1]["data"]["batch_id"] == done["batch_id"]
    assert all(s["distribution_id"] == done["id"] for s in steps)
    listed = stack.http.get(f"/v1/releases/{release['id']}/distributions").json()["data"]
    assert [d["id"] for d in listed] == [done["id"]]
    # What crosspost wrote is valid ERN 4.3 (when DDEX's schema is on this machine).
    message = _LOCAL.get(f"{stack.fakes_url}/distributor/_fake/batches/{batch['batch_id']}/message")
    assert message.status_code == 200
    ern_schema().validate(message.content)


def test_a_live_release_changed_is_updated_in_the_stores(stack: Stack) -> None:
    """Changing a release live through DDEX sends the change as the next attempt: its
    metadata alone while the masters are the same (no files in the batch), the files again
    when they changed."""
    release = _release(stack)
    started = _distribute(stack, release)
    assert _ended(stack, started["id"])["status"] == "live"
    first, second = (t["media_id"] for t in release["tracks"])
    renamed = release_body([first, second], release["artwork_media_id"], title="First Light (2026)")
    put = stack.http.put(f"/v1/releases/{release['id']}", json=renamed)
    assert put.status_code == 200, put.text
    updated = _ended(stack, started["id"])
    assert (updated["status"], updated["action"], updated["attempt"]) == ("live", "update", 2)
    batch = _batches(stack)[-1]
    assert (batch["batch_id"], batch["kind"]) == (f"{started['id']}-2", "update")
    files = _LOCAL.get(f"{stack.fakes_url}/distributor/_fake/batches/{batch['batch_id']}/files")
    assert not any(name.startswith("resources/") for name in files.json())
    swapped = release_body([second, first], release["artwork_media_id"])
    swapped["tracks"][0]["isrc"], swapped["tracks"][1]["isrc"] = "USS1Z2600002", "USS1Z2600001"
    assert stack.http.put(f"/v1/releases/{release['id']}", json=swapped).status_code == 200
    again = _ended(stack, started["id"])
    assert (again["status"], again["attempt"]) == ("live", 3)
    assert _batches(stack)[-1]["kind"] == "release"  # the masters travel again


def test_a_rejected_batch_says_why_and_a_retry_sends_a_new_one(stack: Stack) -> None:
    """The distributor's refusal ends the distribution failed with its code and text (and
    a distribution.failed webhook); the retry is attempt 2, a batch of its own, and goes
    live."""
    release = _release(stack)
    _fault(stack, reject_next={"code": "ArtworkTooSmall", "text": "cover is 2999 px"})
    started = _distribute(stack, release)
    failed = _ended(stack, started["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "distributor_rejected"
    assert "ArtworkTooSmall" in failed["error"]["message"]
    [event] = stack.events("distribution.failed")
    assert event["data"]["error"]["code"] == "distributor_rejected"
    retried = stack.http.post(f"/v1/distributions/{started['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert (retried.json()["attempt"], retried.json()["status"]) == (2, "pending")
    done = _ended(stack, started["id"])
    assert (done["status"], done["attempt"], done["error"]) == ("live", 2, None)
    assert [(b["batch_id"], b["status"]) for b in _batches(stack)] == [
        (f"{started['id']}-1", "Rejected"),
        (f"{started['id']}-2", "Accepted"),
    ]
    again = stack.http.post(f"/v1/distributions/{started['id']}/retry")
    expect_problem(again, 409, "distribution_not_failed")


def test_a_store_refusal_is_kept_and_a_takedown_withdraws_it_everywhere(stack: Stack) -> None:
    """A store that refuses keeps its reason while the others go live; the release cannot
    be changed or deleted while out; a takedown ends taken_down in every store, after
    which it can."""
    release = _release(stack)
    _fault(stack, store_fails={"store": "deezer", "reason": "cover art has a URL"})
    started = _distribute(stack, release)
    done = _ended(stack, started["id"])
    assert done["status"] == "live"
    deezer = next(s for s in done["stores"] if s["store"] == "deezer")
    assert (deezer["status"], deezer["reason"]) == ("failed", "cover art has a URL")
    _fault(stack, clear=True)
    twice = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["ddex"]}
    )
    expect_problem(twice, 409, "already_distributed")
    busy = stack.http.delete(f"/v1/releases/{release['id']}")
    expect_problem(busy, 409, "release_distributed")
    down = stack.http.post(f"/v1/distributions/{started['id']}/takedown")
    assert down.status_code == 202, down.text
    ended = _ended(stack, started["id"])
    assert (ended["status"], ended["action"], ended["attempt"]) == ("taken_down", "takedown", 2)
    assert {s["status"] for s in ended["stores"]} == {"taken_down"}
    assert _batches(stack)[-1]["kind"] == "takedown"
    expect_problem(
        stack.http.post(f"/v1/distributions/{started['id']}/takedown"), 409, "already_taken_down"
    )
    assert stack.http.delete(f"/v1/releases/{release['id']}").status_code == 204


def test_a_release_becomes_one_soundcloud_set_in_track_order(stack: Stack) -> None:
    """Each track is published to the tenant's SoundCloud account, then gathered in one
    set, in release order; the distribution is live with the set's URL. A takedown deletes
    the set and the tracks."""
    release = _release(stack)
    unknown = stack.http.post(
        f"/v1/releases/{release['id']}/distributions",
        json={"channels": ["soundcloud"], "soundcloud_account_id": "acc_nope"},
    )
    problem = expect_problem(unknown, 422, "account_not_found")
    assert problem["errors"][0]["field"] == "soundcloud_account_id"
    started = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["soundcloud"]}
    )
    assert started.status_code == 202, started.text
    [distribution] = started.json()["data"]
    done = _ended(stack, distribution["id"])
    assert done["status"] == "live", done
    [store] = done["stores"]
    assert (store["store"], store["status"]) == ("soundcloud", "live") and store["url"]
    assert done["external_ids"]["set_url"] == store["url"]
    assert len(done["external_ids"]["post_ids"]) == 2
    state = stack.fake("soundcloud", "state")
    [made] = state["playlists"]
    titles = {t["id"]: t["title"] for t in state["posts"]}
    assert [titles[i] for i in made["track_ids"]] == ["Song 1", "Song 2"]
    assert _batches(stack) == []  # nothing went to the DDEX distributor
    again = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["soundcloud"]}
    )
    expect_problem(again, 409, "already_distributed")
    down = stack.http.post(f"/v1/distributions/{distribution['id']}/takedown")
    assert down.status_code == 202, down.text
    ended = _ended(stack, distribution["id"])
    assert (ended["status"], ended["action"]) == ("taken_down", "takedown")
    assert [s["status"] for s in ended["stores"]] == ["taken_down"]
    state = stack.fake("soundcloud", "state")
    assert state["playlists"] == [] and state["posts"] == []


def test_a_track_soundcloud_fails_fails_the_set_and_a_retry_redoes_only_it(
    stack: Stack,
) -> None:
    """SoundCloud fails to process the tracks: the distribution fails naming why and makes
    no set; its retry publishes them again, then makes the one set."""
    release = _release(stack)
    stack.fake("soundcloud", "faults", json={"processing_fail_rate": 1.0})
    started = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["soundcloud"]}
    ).json()["data"][0]
    failed = _ended(stack, started["id"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "tracks_failed"), failed
    assert stack.fake("soundcloud", "state")["playlists"] == []
    stack.fake("soundcloud", "faults", json={"processing_fail_rate": 0.0})
    retried = stack.http.post(f"/v1/distributions/{started['id']}/retry")
    assert retried.status_code == 202, retried.text
    done = _ended(stack, started["id"])
    assert (done["status"], done["attempt"]) == ("live", 2), (done["error"], failed["error"])
    [made] = stack.fake("soundcloud", "state")["playlists"]
    assert len(made["track_ids"]) == 2


def test_a_release_dated_later_is_scheduled_until_its_date(stack: Stack) -> None:
    """The deals start on the release date: the stores hold the release (scheduled, no
    URL yet) until that day comes, then it is live."""
    release = _release(stack)
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    started = _distribute(stack, release, release_date=day)
    assert started["release_date"] == day

    def scheduled() -> dict[str, Any] | None:
        found = dict(stack.http.get(f"/v1/distributions/{started['id']}").json())
        assert found["status"] not in ("live", "failed"), found
        return found if found["status"] == "scheduled" else None

    held = wait_until("the distribution to be scheduled", scheduled, timeout=60)
    assert {(s["status"], s["url"]) for s in held["stores"]} == {("scheduled", None)}
    _fault(stack, today=day)
    done = _ended(stack, started["id"])
    assert done["status"] == "live" and {s["status"] for s in done["stores"]} == {"live"}
    assert ("processing", "scheduled") in _statuses(stack, started["id"])
    assert _statuses(stack, started["id"])[-1] == ("scheduled", "live")


def test_a_soundcloud_release_dated_later_waits_for_its_date(stack: Stack) -> None:
    """On SoundCloud the tracks are scheduled posts for the release date: the distribution
    is scheduled, nothing is uploaded yet and no set is made."""
    release = _release(stack)
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    started = stack.http.post(
        f"/v1/releases/{release['id']}/distributions",
        json={"channels": ["soundcloud"], "release_date": day},
    ).json()["data"][0]

    def scheduled() -> dict[str, Any] | None:
        found = dict(stack.http.get(f"/v1/distributions/{started['id']}").json())
        assert found["status"] not in ("live", "failed"), found
        return found if found["status"] == "scheduled" else None

    wait_until("the distribution to be scheduled", scheduled, timeout=60)
    state = stack.fake("soundcloud", "state")
    assert state["posts"] == [] and state["playlists"] == []
    job = stack.http.get(f"/v1/jobs/{started['job_id']}").json()
    assert job["status"] in ("queued", "running")


def test_the_cost_is_estimated_before_anything_is_sent(make_stack: Callable[..., Stack]) -> None:
    """The operator's price table, per release and per track, summed per currency; an
    unknown channel or none is 422; nothing reaches the distributor."""
    costs = {"ddex": {"per_release": 4.5, "per_track": 1.25, "currency": "EUR"}}
    stack = make_stack(distribution_costs=costs)
    release = _release(stack)
    path = f"/v1/releases/{release['id']}/distributions/estimate"
    answer = stack.http.get(path, params={"channels": ["ddex", "ddex"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "release_id": release["id"],
        "channels": [
            {
                "channel": "ddex",
                "per_release": 4.5,
                "per_track": 1.25,
                "tracks": 2,
                "amount": 7.0,
                "currency": "EUR",
            }
        ],
        "totals": {"EUR": 7.0},
    }
    assert stack.http.get(path, params={"channels": "myspace"}).status_code == 422
    assert stack.http.get(path).status_code == 422
    expect_problem(
        stack.http.get("/v1/releases/rel_nope/distributions/estimate", params={"channels": "ddex"}),
        404,
        "release_not_found",
    )
    assert _batches(stack) == []


def test_bad_distribution_requests_are_refused(stack: Stack) -> None:
    """A date in the past, an unknown channel, another tenant's release or distribution:
    each refused with its code, nothing sent."""
    release = _release(stack)
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    past = stack.http.post(
        f"/v1/releases/{release['id']}/distributions",
        json={"channels": ["ddex"], "release_date": yesterday},
    )
    assert "in the past" in expect_problem(past, 422, "release_date_past")["detail"]
    unknown = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["myspace"]}
    )
    assert unknown.status_code == 422
    missing = stack.http.post("/v1/releases/rel_nope/distributions", json={"channels": ["ddex"]})
    expect_problem(missing, 404, "release_not_found")
    expect_problem(stack.http.get("/v1/distributions/dst_nope"), 404, "distribution_not_found")
    assert _batches(stack) == []
