"""The LinkedIn client against the LinkedIn fake over loopback, and its pure rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.clock import FrozenClock
from crosspost.domain.enums import ErrorKind, MediaKind, TargetStatus
from crosspost.fakes import FakeConfig, RunningServer, serve_in_thread
from crosspost.fakes.linkedin import LinkedInFake
from crosspost.fakes.linkedin_rules import LinkedInLimits
from crosspost.platforms import linkedin
from crosspost.platforms.base import AppCredentials, Credentials, MediaFile
from crosspost.platforms.errors import (
    AlreadyExists,
    OutcomeUnknown,
    PlatformError,
    PostGone,
    UnsupportedPostType,
)
from crosspost.platforms.http import new_http_client
from crosspost.platforms.linkedin import LinkedInClient
from crosspost.platforms.linkedin_rules import (
    LINKEDIN_VERSION,
    TEXT_LIMITS,
    VIDEO_LIMITS,
    author_urn,
    classify,
    escape_commentary,
    post_url,
)

from .conftest import MIB, Sandbox, drive, make_media, make_request

TOKEN_PATH = "/oauth/v2/accessToken"
START = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
TRICKY = "Launch (v2) of *crosspost* — ask @team_x [beta] #news {a|b} <3 ~ \\o/"


@dataclass
class _Shared:
    server: RunningServer
    fake: LinkedInFake
    clocks: dict[str, FrozenClock]  # the fake reads clocks["now"], swapped per test


@pytest.fixture(scope="module")
def _shared() -> Iterator[_Shared]:
    # One server for the module (stopping uvicorn is slow); each test gets a fresh clock.
    clocks = {"now": FrozenClock(START)}
    config = FakeConfig.of(clock=lambda: clocks["now"].now().timestamp(), processing_seconds=20.0)
    fake = LinkedInFake(config)
    server = serve_in_thread(Starlette(routes=[Mount("/linkedin", app=fake.asgi())]))
    yield _Shared(server, fake, clocks)
    server.stop()


@pytest.fixture
def fake(_shared: _Shared) -> LinkedInFake:
    """The module's fake (reset by `sandbox`)."""
    return _shared.fake


@pytest.fixture
def sandbox(_shared: _Shared) -> Iterator[Sandbox]:
    """A sandbox on the LinkedIn fake: reset state, default limits, a clock at START."""
    clock = FrozenClock(START)
    _shared.clocks["now"] = clock
    _shared.fake.limits = LinkedInLimits()
    http = new_http_client(timeout=10.0)
    http.post(f"{_shared.server.url}/linkedin/_fake/reset").raise_for_status()
    yield Sandbox(_shared.server.url, clock, http)
    http.close()


def app_for(sandbox: Sandbox) -> AppCredentials:
    """The sandbox OAuth app on LinkedIn's token path."""
    return AppCredentials("sandbox-client", "sandbox-secret", sandbox.base("linkedin") + TOKEN_PATH)


def client_for(sandbox: Sandbox) -> LinkedInClient:
    """A LinkedIn client on the fake."""
    return LinkedInClient(sandbox.http, sandbox.base("linkedin"), clock=sandbox.clock)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The posts the fake holds."""
    found: list[dict[str, Any]] = sandbox.state("linkedin")["posts"]
    return found


def setup(
    sandbox: Sandbox, tmp_path: Path, size: int = 9 * MIB + 3
) -> tuple[MediaFile, str, Credentials]:
    """A media file and a consented member (its external id and credentials)."""
    media = make_media(tmp_path, size)
    external_id, creds = sandbox.account("linkedin", "writer")
    return media, external_id, creds


# -- rules ---------------------------------------------------------------------------------


def test_commentary_escapes_every_little_reserved_character() -> None:
    """Each of \\|{}@[]()<>#*_~ gets a backslash; nothing else changes."""
    assert escape_commentary("a(b)c") == "a\\(b\\)c"
    assert escape_commentary("\\|{}@[]()<>#*_~") == "".join(f"\\{c}" for c in "\\|{}@[]()<>#*_~")
    assert escape_commentary("plain text, émoji 😀!") == "plain text, émoji 😀!"


def test_urns_urls_and_limits() -> None:
    """Bare ids are members; URNs pass through; the documented limits are declared."""
    assert author_urn("abc123") == "urn:li:person:abc123"
    assert author_urn("urn:li:organization:42") == "urn:li:organization:42"
    assert post_url("urn:li:share:7") == "https://www.linkedin.com/feed/update/urn:li:share:7/"
    assert VIDEO_LIMITS.kinds == frozenset({MediaKind.VIDEO})
    assert VIDEO_LIMITS.containers == frozenset({"mp4"})
    assert (VIDEO_LIMITS.min_duration_seconds, VIDEO_LIMITS.max_duration_seconds) == (3.0, 1800.0)
    assert VIDEO_LIMITS.max_bytes == 500 * MIB
    assert VIDEO_LIMITS.caption_max_chars == TEXT_LIMITS.caption_max_chars == 3000
    assert TEXT_LIMITS.text_only
    assert len(LINKEDIN_VERSION) == 6 and LINKEDIN_VERSION.isdigit()


def test_limits_depend_on_the_post_type(tmp_path: Path) -> None:
    """A post without media uses the text-only limits."""
    client = LinkedInClient(httpx.Client(), "http://unused")
    assert client.limits_for(None) is TEXT_LIMITS
    assert client.limits_for(MediaKind.VIDEO) is VIDEO_LIMITS


def test_retry_after_header_is_honoured() -> None:
    """A 429 with Retry-After waits that long; without one, a minute; DAY limits are quota."""
    now = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    body = {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Too many requests"}
    with_header = classify(httpx.Response(429, json=body, headers={"Retry-After": "120"}), now=now)
    assert (with_header.kind, with_header.retry_after) == (ErrorKind.RATE_LIMITED, 120.0)
    assert classify(httpx.Response(429, json=body), now=now).retry_after == 60.0
    daily = {**body, "message": "Resource level throttle APPLICATION DAY limit ... reached."}
    quota = classify(httpx.Response(429, json=daily), now=now)
    assert (quota.kind, quota.retry_after) == (ErrorKind.QUOTA, 4 * 3600.0)


# -- against the fake ----------------------------------------------------------------------


def test_happy_path_video_post(sandbox: Sandbox, tmp_path: Path) -> None:
    """init, three 4 MiB parts, finalize, polls, post: one post with the file's exact bytes."""
    media, external_id, creds = setup(sandbox, tmp_path)
    request = make_request(media, external_id=external_id, text=TRICKY, title="Launch")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)

    [post] = posts(sandbox)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert run.result.external_id == post["id"] and post["id"].startswith("urn:li:ugcPost:")
    assert run.result.external_url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    assert (post["sha256"], post["size"]) == (media.sha256, media.size)
    assert post["author"] == f"urn:li:person:{external_id}"
    assert (post["text"], post["truncated"], post["title"]) == (TRICKY, False, "Launch")
    assert run.phases[:6] == ["<new>", "upload", "upload", "upload", "finalize", "status"]
    assert run.commit_steps == 1 and run.phases[-1] == "post"
    assert run.waits and min(run.waits) >= 5.0
    assert run.event_names()[0] == "upload_started"
    assert sandbox.state("linkedin")["calls"]["upload.part"] == 3


def test_text_post(sandbox: Sandbox) -> None:
    """A post without media goes straight to the commit and keeps its text verbatim."""
    external_id, creds = sandbox.account("linkedin")
    request = make_request(None, external_id=external_id, text=TRICKY)
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.phases == ["<new>", "post"] and run.commit_steps == 1
    assert (post["text"], post["video"], post["truncated"]) == (TRICKY, None, False)
    assert post["id"].startswith("urn:li:share:")


def test_resends_a_part_cut_mid_transfer(sandbox: Sandbox, tmp_path: Path) -> None:
    """A reset mid-part is transient; the same part is PUT again and the post completes."""
    media, external_id, creds = setup(sandbox, tmp_path)
    sandbox.faults("linkedin", reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults("linkedin", reset_mid_chunk_rate=0.0)

    request = make_request(media, external_id=external_id)
    run = drive(client_for(sandbox), request, creds, sandbox.clock, on_error=heal)
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.TRANSIENT, "network_error")]
    [post] = posts(sandbox)
    assert post["sha256"] == media.sha256
    assert sandbox.state("linkedin")["calls"]["upload.part"] == 4


def test_a_new_worker_resumes_from_the_persisted_etags(sandbox: Sandbox, tmp_path: Path) -> None:
    """ETags are saved after each part, so a restarted worker sends only the missing parts."""
    media, external_id, creds = setup(sandbox, tmp_path)
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(
        client, request, creds, sandbox.clock, until=lambda s: len(s.get("etags", [])) == 2
    )
    assert first.result is not None and first.result.bytes_sent == 8 * MIB
    drive(client_for(sandbox), request, creds, sandbox.clock, session=first.session)
    assert sandbox.state("linkedin")["calls"]["upload.part"] == 3
    assert posts(sandbox)[0]["sha256"] == media.sha256


def test_expired_token_mid_upload_refreshes_and_continues(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 401 EXPIRED_ACCESS_TOKEN at finalize is auth; LinkedIn keeps the same refresh token."""
    media, external_id, creds = setup(sandbox, tmp_path)
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(
        client, request, creds, sandbox.clock, until=lambda s: len(s.get("etags", [])) == 1
    )
    sandbox.faults("linkedin", expire_tokens=True)
    run = drive(client, request, creds, sandbox.clock, session=first.session, app=app_for(sandbox))
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.AUTH, "EXPIRED_ACCESS_TOKEN")]
    assert run.refreshes == 1 and run.creds is not None
    assert run.creds.access_token != creds.access_token
    assert run.creds.refresh_token == creds.refresh_token  # not rotated
    assert "w_member_social" in run.creds.scopes
    assert sandbox.state("linkedin")["calls"]["upload.part"] == 3
    assert posts(sandbox)[0]["sha256"] == media.sha256


def test_dead_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    """A refresh token LinkedIn does not know means the member must consent again."""
    _, creds = sandbox.account("linkedin")
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).refresh(replace(creds, refresh_token="AQXnope"), app_for(sandbox))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")


@pytest.mark.parametrize(
    ("knobs", "kind", "code", "status"),
    [
        ({"failure_rate": 1.0}, ErrorKind.TRANSIENT, "INTERNAL_SERVER_ERROR", 500),
        ({"rate_limit_rate": 1.0}, ErrorKind.RATE_LIMITED, "TOO_MANY_REQUESTS", 429),
        ({"quota_exhausted": True}, ErrorKind.QUOTA, "TOO_MANY_REQUESTS", 429),
    ],
)
def test_fault_knobs_map_to_error_kinds(
    sandbox: Sandbox,
    tmp_path: Path,
    knobs: dict[str, object],
    kind: ErrorKind,
    code: str,
    status: int,
) -> None:
    """5xx is transient, a 429 rate-limited (a minute by default), a spent DAY quota is quota."""
    media, external_id, creds = setup(sandbox, tmp_path, 100_000)
    sandbox.faults("linkedin", **knobs)
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).step(make_request(media, external_id=external_id), {}, creds)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.raw["code"] == code and error.raw["status"] == status
    if kind is ErrorKind.RATE_LIMITED:
        assert error.retry_after == 60.0
    if kind is ErrorKind.QUOTA:
        assert error.retry_after == pytest.approx(4 * 3600)  # until 00:00 UTC


def test_posting_as_a_foreign_organization_is_permanent(sandbox: Sandbox) -> None:
    """403 ACCESS_DENIED (no admin role on the organization) is permanent, raw body kept."""
    _, creds = sandbox.account("linkedin")
    request = make_request(None, external_id="urn:li:organization:999")
    with pytest.raises(PlatformError) as caught:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.PERMANENT,
        "ACCESS_DENIED",
        403,
    )
    assert error.raw["serviceErrorCode"] == 100
    assert posts(sandbox) == []


def test_organization_author(sandbox: Sandbox, fake: LinkedInFake) -> None:
    """An administered organization can author posts."""
    fake.limits = LinkedInLimits(organizations=("42",))
    _, creds = sandbox.account("linkedin")
    request = make_request(None, external_id="urn:li:organization:42", text="Org news")
    drive(client_for(sandbox), request, creds, sandbox.clock)
    assert posts(sandbox)[0]["author"] == "urn:li:organization:42"


def test_validation_error_is_permanent_with_raw(sandbox: Sandbox) -> None:
    """A 422 from the Posts API is permanent and keeps LinkedIn's message."""
    external_id, creds = sandbox.account("linkedin")
    request = make_request(None, external_id=external_id, text="x" * 3001)
    with pytest.raises(PlatformError) as caught:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.PERMANENT,
        "UNPROCESSABLE_ENTITY",
        422,
    )
    assert "/commentary" in error.raw["message"]


def test_sunset_version_is_permanent(sandbox: Sandbox, fake: LinkedInFake) -> None:
    """Once LinkedIn retires our LinkedIn-Version, every call is 426 NONEXISTENT_VERSION."""
    fake.limits = LinkedInLimits(oldest_version="209901", newest_version="209912")
    external_id, creds = sandbox.account("linkedin")
    with pytest.raises(PlatformError) as caught:
        drive(
            client_for(sandbox), make_request(None, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code, caught.value.http_status) == (
        ErrorKind.PERMANENT,
        "NONEXISTENT_VERSION",
        426,
    )
    assert LINKEDIN_VERSION in caught.value.message


@pytest.mark.parametrize("with_video", [True, False])
def test_lost_post_answer_is_reconciled(sandbox: Sandbox, tmp_path: Path, with_video: bool) -> None:
    """The post exists but its 201 was lost: the author finder finds it; one post only."""
    media, external_id, creds = setup(sandbox, tmp_path, 100_000)
    sandbox.faults("linkedin", drop_response_after_commit=1)
    request = make_request(media if with_video else None, external_id=external_id, text=TRICKY)
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.reconciles == 1 and run.commit_steps == 1
    assert run.result is not None and run.result.external_id == post["id"]
    assert run.result.external_url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    assert sandbox.state("linkedin")["calls"]["posts.findByAuthor"] == 1


def test_reconcile_reposts_only_when_absent(sandbox: Sandbox, tmp_path: Path) -> None:
    """A commit that never reached LinkedIn is found absent; the next step posts once."""
    media, external_id, creds = setup(sandbox, tmp_path, 100_000)
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    before = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    reconciled = client.reconcile(request, {**before.session, "commit_attempted": True}, creds)
    assert reconciled.status is TargetStatus.PUBLISHING
    assert reconciled.session["phase"] == "post" and "commit_attempted" not in reconciled.session
    assert reconciled.event == "reconcile_not_found"
    drive(client, request, creds, sandbox.clock, session=reconciled.session)
    assert len(posts(sandbox)) == 1


def test_reconcile_ignores_an_older_identical_text_post(sandbox: Sandbox) -> None:
    """An identical text post from before this commit is not mistaken for ours."""
    external_id, creds = sandbox.account("linkedin")
    client = client_for(sandbox)
    request = make_request(None, external_id=external_id, text="Same words")
    drive(client, request, creds, sandbox.clock)
    sandbox.clock.advance(600)  # beyond the 5 minutes allowed for clock skew
    session = {"phase": "post", "prepared_at_ms": int(sandbox.clock.now().timestamp() * 1000)}
    result = client.reconcile(request, {**session, "commit_attempted": True}, creds)
    assert result.status is TargetStatus.PUBLISHING and result.session["phase"] == "post"


def test_expired_upload_urls_restart_from_initialize(sandbox: Sandbox, tmp_path: Path) -> None:
    """Past uploadUrlsExpireAt the upload starts over with a new video, never reusing URLs."""
    media, external_id, creds = setup(sandbox, tmp_path)
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(
        client, request, creds, sandbox.clock, until=lambda s: len(s.get("etags", [])) == 1
    )
    old = first.session["video"]
    sandbox.clock.advance(86400)
    run = drive(client, request, creds, sandbox.clock, session=first.session)
    assert run.events[0] == (
        "upload_restarted",
        {"reason": "the upload URLs expired", "abandoned_video": old},
    )
    state = sandbox.state("linkedin")
    assert len(state["videos"]) == 2
    [post] = state["posts"]
    assert post["video"] != old and post["sha256"] == media.sha256


def test_failed_processing_is_permanent(sandbox: Sandbox, tmp_path: Path) -> None:
    """PROCESSING_FAILED ends the target; nothing is posted."""
    media, external_id, creds = setup(sandbox, tmp_path, 100_000)
    sandbox.faults("linkedin", processing_fail_rate=1.0)
    with pytest.raises(PlatformError) as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "processing_failed")
    assert posts(sandbox) == []


def test_too_small_and_wrong_kind(sandbox: Sandbox, tmp_path: Path) -> None:
    """Under 75 KB is refused before any call; audio is not a LinkedIn post here."""
    _, creds = sandbox.account("linkedin")
    small = make_media(tmp_path, 1000)
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).step(make_request(small), {}, creds)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "video_too_small")
    audio = replace(make_media(tmp_path, 100_000, name="a.mp3"), kind=MediaKind.AUDIO)
    with pytest.raises(UnsupportedPostType):
        client_for(sandbox).step(make_request(audio), {}, creds)
    assert sandbox.state("linkedin")["calls"] == {}


def test_reconcile_pages_past_a_busy_authors_newer_posts(sandbox: Sandbox) -> None:
    """Seventy posts land after ours before the reconcile runs: it pages back to ours and
    does not post again (one page of the finder would not reach it)."""
    external_id, creds = sandbox.account("linkedin")
    client = client_for(sandbox)
    ours = make_request(None, external_id=external_id, text="ours")
    ready = drive(client, ours, creds, sandbox.clock, until=client.is_commit).session
    sandbox.faults("linkedin", drop_response_after_commit=1)
    attempt = {**ready, "commit_attempted": True}
    with pytest.raises(PlatformError):
        client.step(ours, attempt, creds)  # LinkedIn posts it; the answer is lost
    for i in range(70):
        sandbox.clock.advance(1)
        drive(client, make_request(None, external_id=external_id, text=f"later {i}"), creds,
              sandbox.clock)  # fmt: skip
    result = client.reconcile(ours, attempt, creds)
    assert result.status is TargetStatus.PUBLISHED
    assert len(posts(sandbox)) == 71
    assert sandbox.state("linkedin")["calls"]["posts.findByAuthor"] == 2


def test_a_search_that_runs_out_of_pages_proves_nothing(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More posts landed after ours than the finder pages reach: reconcile answers "unknown"
    (look again later), never "absent", which would post a second time."""
    monkeypatch.setattr(linkedin, "FINDER_COUNT", 2)
    monkeypatch.setattr(linkedin, "FINDER_MAX_PAGES", 2)
    external_id, creds = sandbox.account("linkedin")
    client = client_for(sandbox)
    ours = make_request(None, external_id=external_id, text="ours")
    ready = drive(client, ours, creds, sandbox.clock, until=client.is_commit).session
    sandbox.faults("linkedin", drop_response_after_commit=1)
    attempt = {**ready, "commit_attempted": True}
    with pytest.raises(PlatformError):
        client.step(ours, attempt, creds)  # LinkedIn posts it; the answer is lost
    for i in range(5):
        sandbox.clock.advance(1)
        drive(client, make_request(None, external_id=external_id, text=f"later {i}"), creds,
              sandbox.clock)  # fmt: skip
    with pytest.raises(OutcomeUnknown):
        client.reconcile(ours, attempt, creds)
    assert len(posts(sandbox)) == 6


def test_duplicate_text_refusal_names_the_existing_post(sandbox: Sandbox) -> None:
    """422 DUPLICATE_POST is an AlreadyExists carrying the URN it names; find_existing adopts
    that post without another call."""
    external_id, creds = sandbox.account("linkedin")
    client = client_for(sandbox)
    request = make_request(None, external_id=external_id, text="Said once")
    first = drive(client, request, creds, sandbox.clock)
    assert first.result is not None
    again = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    with pytest.raises(AlreadyExists) as caught:
        client.step(request, again.session, creds)
    assert caught.value.existing_id == first.result.external_id
    calls = sum(sandbox.state("linkedin")["calls"].values())
    found = client.find_existing(
        request, again.session, creds, refusal=caught.value, since=sandbox.clock.now()
    )
    assert found is not None and found.external_id == first.result.external_id
    assert sum(sandbox.state("linkedin")["calls"].values()) == calls


def test_metrics_of_a_member_post_and_of_an_organization_post(
    sandbox: Sandbox, fake: LinkedInFake
) -> None:
    """A member's post: memberCreatorPostAnalytics, one call per metric; an administered
    organization's: organizationalEntityShareStatistics; a post never made is gone."""
    fake.limits = LinkedInLimits(organizations=("42",))
    external_id, creds = sandbox.account("linkedin")
    client = client_for(sandbox)
    org = "urn:li:organization:42"
    made = [
        drive(client, make_request(None, external_id=author, text=text), creds, sandbox.clock)
        for author, text in ((external_id, "Mine"), (org, "Ours"))
    ]
    mine, theirs = (str(run.result.external_id) if run.result else "" for run in made)
    assert mine.startswith("urn:li:") and theirs.startswith("urn:li:")
    sandbox.clock.advance(3600)
    member = client.fetch_metrics(mine, creds, author=external_id)
    assert set(member) == {"views", "reach", "likes", "comments", "shares"}
    assert member["views"] > member["reach"] > 0
    assert fake.calls["memberCreatorPostAnalytics.entity"] == 5
    page = client.fetch_metrics(theirs, creds, author=org)
    assert set(page) == {"views", "reach", "likes", "comments", "shares", "clicks"}
    assert page["views"] > 0 and fake.calls["organizationalEntityShareStatistics"] == 1
    with pytest.raises(PostGone):
        client.fetch_metrics("urn:li:share:7000000000000000001", creds, author=external_id)
    with pytest.raises(PostGone):
        client.fetch_metrics("urn:li:share:7000000000000000001", creds, author=org)
