"""The hosted cover-art clients (Stability AI, Replicate) against their strict fakes over real
HTTP: store-ready covers, seeds passed through, each failure's code, a slow prediction polled
to its end, and keys kept out of reprs and errors. Also the fakes' own strictness.

There is no maintained official REST client for Stability's v2beta API to drive its fake with,
so these REST tests are its contract; Replicate's own client drives its fake in
tests/contract/test_replicate_contract.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from crosspost.domain.enums import ErrorKind
from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.replicate import (
    SANDBOX_REPLICATE_KEY,
    ReplicateFakeConfig,
    create_replicate_app,
)
from crosspost.fakes.stability import SANDBOX_STABILITY_KEY, create_stability_app
from crosspost.media.masters import check_artwork, inspect_artwork
from crosspost.providers.artwork import (
    ArtworkGenerator,
    ArtworkRequest,
    GeneratedArtwork,
    default_seed,
)
from crosspost.providers.artwork_hosted import ReplicateArtwork, StabilityArtwork
from crosspost.providers.errors import ProviderError

SMALL = 500  # the smallest cover: the tests of failures and seeds need no store-sized one
REQUEST = ArtworkRequest(title="Midnight Drive", artist="The Parallels", seed=42, size=SMALL)


class SharedClock:
    """Epoch seconds that move only when a sleep is asked for, shared by the Replicate fake
    (its lifecycle and its Prefer: wait) and our client (its polling and its deadline)."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0  # 2026-01-01

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """The client's sleep: time passes at once."""
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        """The fake's sleep: the same, yielding to its event loop."""
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture(scope="module")
def clock() -> SharedClock:
    """The module's one clock."""
    return SharedClock()


@pytest.fixture(scope="module")
def stability_server() -> Iterator[RunningServer]:
    """One Stability fake for the module."""
    with serve_in_thread(create_stability_app()) as running:
        yield running


@pytest.fixture(scope="module")
def replicate_server(clock: SharedClock) -> Iterator[RunningServer]:
    """One Replicate fake for the module, on the shared clock."""
    config = ReplicateFakeConfig(clock=clock, sleep=clock.asleep)
    with serve_in_thread(create_replicate_app(config)) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The HTTP client the generators borrow."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def stability(stability_server: RunningServer) -> str:
    """The Stability fake reset; its base URL."""
    httpx.post(f"{stability_server.url}/_fake/reset").raise_for_status()
    return stability_server.url


@pytest.fixture
def replicate(replicate_server: RunningServer) -> str:
    """The Replicate fake reset (timing too); its base URL."""
    httpx.post(f"{replicate_server.url}/_fake/reset").raise_for_status()
    return replicate_server.url


def on_stability(http: httpx.Client, url: str, **options: Any) -> StabilityArtwork:
    """A Stability generator on the fake, with the sandbox key unless told otherwise."""
    options.setdefault("api_key", SANDBOX_STABILITY_KEY)
    return StabilityArtwork(http, base_url=url, **options)


def on_replicate(
    http: httpx.Client, url: str, clock: SharedClock, **options: Any
) -> ReplicateArtwork:
    """A Replicate generator on the fake and the shared clock."""
    options.setdefault("api_token", SANDBOX_REPLICATE_KEY)
    return ReplicateArtwork(http, base_url=url, clock=clock, sleep=clock.sleep, **options)


def control(url: str, what: str, body: dict[str, Any] | None = None) -> Any:
    """POST a control (or GET one without a body) and return its JSON."""
    if body is None:
        return httpx.get(f"{url}/_fake/{what}").raise_for_status().json()
    return httpx.post(f"{url}/_fake/{what}", json=body).raise_for_status().json()


def failure(
    generator: ArtworkGenerator, key: str, request: ArtworkRequest = REQUEST
) -> ProviderError:
    """The ProviderError generating raises, checked to hold the key nowhere."""
    with pytest.raises(ProviderError) as caught:
        generator.generate(request)
    error = caught.value
    for shown in (str(error), error.message, repr(error.raw), repr(generator)):
        assert key not in shown
    return error


def assert_store_ready(artwork: GeneratedArtwork, tmp_path: Path) -> None:
    """A 3000x3000 RGB JPEG that passes the distributors' artwork rules."""
    path = tmp_path / "cover.jpg"
    path.write_bytes(artwork.data)
    art = inspect_artwork(path)
    assert (art.format, art.mode, art.width, art.height) == ("JPEG", "RGB", 3000, 3000)
    check_artwork(art)
    assert (artwork.width, artwork.height, artwork.content_type) == (3000, 3000, "image/jpeg")


# -- covers ------------------------------------------------------------------------------------


def test_stability_makes_a_store_ready_cover(
    http: httpx.Client, stability: str, tmp_path: Path
) -> None:
    """A 1024 px PNG from Stability becomes a 3000 px RGB JPEG; the request the fake got is a
    multipart form asking for image bytes, with the release, the style and no lettering."""
    request = ArtworkRequest(title="Midnight Drive", artist="The Parallels", style="waves", seed=9)
    artwork = on_stability(http, stability).generate(request)
    assert_store_ready(artwork, tmp_path)
    assert (artwork.generator, artwork.seed, artwork.style) == ("stability", 9, "waves")
    (sent,) = control(stability, "requests")
    assert sent["path"] == "/v2beta/stable-image/generate/core" and sent["accept"] == "image/*"
    fields = sent["fields"]
    assert fields["prompt"].startswith("album cover for Midnight Drive by The Parallels, ")
    assert "waves" in fields["prompt"] and "no text" in fields["prompt"]
    assert (fields["aspect_ratio"], fields["output_format"], fields["seed"]) == ("1:1", "png", "9")
    assert "text" in fields["negative_prompt"]


def test_replicate_makes_a_store_ready_cover(
    http: httpx.Client, replicate: str, clock: SharedClock, tmp_path: Path
) -> None:
    """FLUX's 1024 px PNG becomes a 3000 px RGB JPEG; the sync request is answered when the file
    exists, so there is one create and one download, no polling."""
    artwork = on_replicate(http, replicate, clock).generate(
        ArtworkRequest(title="Midnight Drive", artist="The Parallels", prompt="neon city", seed=5)
    )
    assert_store_ready(artwork, tmp_path)
    assert (artwork.generator, artwork.seed) == ("replicate", 5)
    create, download = control(replicate, "requests")
    assert create["path"] == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create["prefer_wait"] == 60 and create["status"] == 201
    assert create["input"]["seed"] == 5 and "neon city" in create["input"]["prompt"]
    assert download["path"].endswith("/out-0.png") and download["authorized"]


def test_the_seed_passes_through_and_fixes_the_bytes(
    http: httpx.Client, stability: str, replicate: str, clock: SharedClock
) -> None:
    """The same seed gives the same bytes, another seed others; without a seed both derive the
    same one from the release; Stability's seed 0 (its "random") is folded to 1."""
    for generator in (on_stability(http, stability), on_replicate(http, replicate, clock)):
        first = generator.generate(REQUEST)
        assert generator.generate(REQUEST).data == first.data
        other = ArtworkRequest(title="Midnight Drive", artist="The Parallels", seed=43, size=SMALL)
        assert generator.generate(other).data != first.data
        derived = generator.generate(ArtworkRequest("Midnight Drive", "The Parallels", size=SMALL))
        assert derived.seed == default_seed("Midnight Drive", "The Parallels")
    zero = ArtworkRequest(title="Midnight Drive", artist="The Parallels", seed=0, size=SMALL)
    assert on_stability(http, stability).generate(zero).seed == 0
    assert control(stability, "requests")[-1]["fields"]["seed"] == "1"
    sent = [e["input"]["seed"] for e in control(replicate, "requests") if "input" in e]
    assert sent == [42, 42, 43, default_seed("Midnight Drive", "The Parallels")]


def test_stability_sd3_sends_its_model(http: httpx.Client, stability: str) -> None:
    """The sd3 endpoint gets its model; a turbo model gets no negative prompt; a model for
    another endpoint is refused at construction."""
    on_stability(http, stability, endpoint="sd3").generate(REQUEST)
    on_stability(http, stability, endpoint="sd3", model="sd3.5-large-turbo").generate(REQUEST)
    large, turbo = (e["fields"] for e in control(stability, "requests"))
    assert large["model"] == "sd3.5-large" and "negative_prompt" in large
    assert turbo["model"] == "sd3.5-large-turbo" and "negative_prompt" not in turbo
    with pytest.raises(ValueError, match="only for sd3"):
        StabilityArtwork(http, api_key="k", model="sd3.5-large")


# -- failures ----------------------------------------------------------------------------------

STABILITY_FAULTS = [
    (400, ErrorKind.PERMANENT, "image_invalid_request"),
    (401, ErrorKind.AUTH, "image_auth_failed"),
    (402, ErrorKind.QUOTA, "image_quota_exceeded"),
    (403, ErrorKind.PERMANENT, "image_moderated"),
    (413, ErrorKind.PERMANENT, "image_invalid_request"),
    (422, ErrorKind.PERMANENT, "image_invalid_request"),
    (429, ErrorKind.RATE_LIMITED, "image_rate_limited"),
    (500, ErrorKind.TRANSIENT, "image_unavailable"),
    (503, ErrorKind.TRANSIENT, "image_unavailable"),
]


@pytest.mark.parametrize(("status", "kind", "code"), STABILITY_FAULTS)
def test_stability_failures_map_to_codes(
    http: httpx.Client, stability: str, status: int, kind: ErrorKind, code: str
) -> None:
    """Each status Stability answers is one kind and code, with its message and Retry-After."""
    control(stability, "faults", {"status": status, "retry_after": 3})
    error = failure(on_stability(http, stability), SANDBOX_STABILITY_KEY)
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.raw["errors"] and error.message.startswith("127.0.0.1 ")
    assert error.retry_after == (3.0 if status == 429 else None)


def test_stability_wrong_key_filtered_image_and_lost_service(
    http: httpx.Client, stability: str, stability_server: RunningServer
) -> None:
    """A wrong key is image_auth_failed without the key in sight; an image the service filtered
    is image_moderated; a service that is not there is image_unavailable."""
    wrong = "sk-wrong-stability-key-0123456789"
    error = failure(on_stability(http, stability, api_key=wrong), wrong)
    assert error.code == "image_auth_failed"
    assert wrong not in str(control(stability, "requests"))
    control(stability, "faults", {"finish_reason": "CONTENT_FILTERED"})
    assert failure(on_stability(http, stability), SANDBOX_STABILITY_KEY).code == "image_moderated"
    gone = on_stability(http, "http://127.0.0.1:9", timeout=2.0)
    error = failure(gone, SANDBOX_STABILITY_KEY)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "image_unavailable")


REPLICATE_FAULTS = [
    (402, ErrorKind.QUOTA, "image_quota_exceeded"),
    (422, ErrorKind.PERMANENT, "image_invalid_request"),
    (429, ErrorKind.RATE_LIMITED, "image_rate_limited"),
    (500, ErrorKind.TRANSIENT, "image_unavailable"),
    (503, ErrorKind.TRANSIENT, "image_unavailable"),
]


@pytest.mark.parametrize(("status", "kind", "code"), REPLICATE_FAULTS)
def test_replicate_failures_map_to_codes(
    http: httpx.Client, replicate: str, clock: SharedClock, status: int, kind: ErrorKind, code: str
) -> None:
    """Each status Replicate answers is one kind and code; 422 names the invalid field, 429
    carries Retry-After, and 503's HTML page is not repeated."""
    control(replicate, "faults", {"status": status, "retry_after": 7})
    error = failure(on_replicate(http, replicate, clock), SANDBOX_REPLICATE_KEY)
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.retry_after == (7.0 if status == 429 else None)
    if status == 422:
        assert "prompt is required" in error.message
    if status == 503:
        assert "<html" not in error.message


def test_replicate_wrong_token_unknown_model_and_failed_predictions(
    http: httpx.Client, replicate: str, clock: SharedClock
) -> None:
    """A wrong token is image_auth_failed, an unknown model image_invalid_request, and a failed
    or canceled prediction image_failed with what the service said."""
    wrong = "r8_wrong-replicate-token-0123456789"
    error = failure(on_replicate(http, replicate, clock, api_token=wrong), wrong)
    assert (error.kind, error.code, error.http_status) == (ErrorKind.AUTH, "image_auth_failed", 401)
    error = failure(on_replicate(http, replicate, clock, model="acme/nope"), SANDBOX_REPLICATE_KEY)
    assert (error.code, error.http_status) == ("image_invalid_request", 404)
    control(replicate, "faults", {"outcome": "failed"})
    error = failure(on_replicate(http, replicate, clock), SANDBOX_REPLICATE_KEY)
    assert (error.kind, error.code) == (ErrorKind.PERMANENT, "image_failed")
    assert "NSFW content detected" in error.message
    control(replicate, "faults", {"outcome": "canceled"})
    error = failure(on_replicate(http, replicate, clock), SANDBOX_REPLICATE_KEY)
    assert error.code == "image_failed" and "canceled" in error.message


def test_a_failed_download_is_classified(replicate: str, clock: SharedClock) -> None:
    """The prediction succeeds but its file answers 500: image_unavailable, transient."""
    control(replicate, "timing", {"processing_seconds": 0.0, "starting_seconds": 0.0})

    def fail_the_download(request: httpx.Request) -> None:
        if "/delivery/" in request.url.path:
            control(replicate, "faults", {"status": 500})

    with httpx.Client(event_hooks={"request": [fail_the_download]}) as http:
        error = failure(on_replicate(http, replicate, clock), SANDBOX_REPLICATE_KEY)
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.TRANSIENT,
        "image_unavailable",
        500,
    )
    assert "output at 127.0.0.1 answered HTTP 500" in error.message


# -- the prediction's lifecycle ----------------------------------------------------------------


def test_a_slow_prediction_is_polled_to_completion(
    http: httpx.Client, replicate: str, clock: SharedClock
) -> None:
    """A 5-minute prediction outlives the 60 s sync wait: the client polls every 20 s until it
    succeeds, then downloads the file."""
    control(replicate, "timing", {"processing_seconds": 300.0})
    started = clock()
    generator = on_replicate(http, replicate, clock, timeout=600.0, poll_interval=20.0)
    artwork = generator.generate(REQUEST)
    assert artwork.width == SMALL and clock() - started >= 300
    log = control(replicate, "requests")
    assert log[0]["status"] == 202 and log[0]["prefer_wait"] == 60
    polls = [e for e in log if e["method"] == "GET" and "/v1/predictions/" in e["path"]]
    assert 10 <= len(polls) <= 14 and log[-1]["path"].endswith("/out-0.png")


def test_polling_from_the_start_sees_each_status(
    http: httpx.Client, replicate: str, clock: SharedClock
) -> None:
    """Without a sync wait the create answers starting, then polls see processing and the end."""
    control(replicate, "timing", {"starting_seconds": 2.0, "processing_seconds": 4.0})
    on_replicate(http, replicate, clock, sync_wait=None, poll_interval=1.0).generate(REQUEST)
    (ident,) = control(replicate, "state")["predictions"]
    log = control(replicate, "requests")
    assert log[0]["prefer_wait"] is None and log[0]["status"] == 202
    assert sum(e["path"] == f"/v1/predictions/{ident}" for e in log) == 6


def test_a_prediction_past_the_deadline_is_cancelled(
    http: httpx.Client, replicate: str, clock: SharedClock
) -> None:
    """Past its timeout the client cancels the prediction and raises image_timeout."""
    control(replicate, "timing", {"processing_seconds": 3600.0})
    generator = on_replicate(http, replicate, clock, timeout=120.0, poll_interval=15.0)
    error = failure(generator, SANDBOX_REPLICATE_KEY)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "image_timeout")
    assert list(control(replicate, "state")["predictions"].values()) == ["canceled"]
    assert control(replicate, "requests")[-1]["path"].endswith("/cancel")


# -- keys and construction ---------------------------------------------------------------------


def test_keys_stay_out_of_reprs(http: httpx.Client) -> None:
    """Neither generator shows its key in repr() or vars(); empty keys and bad settings are
    refused at construction."""
    secret = "sk-a-very-secret-key-0123456789"
    for generator in (
        StabilityArtwork(http, api_key=secret),
        ReplicateArtwork(http, api_token=secret),
    ):
        assert secret not in repr(generator) and secret not in repr(vars(generator))
    with pytest.raises(ValueError, match="API key"):
        StabilityArtwork(http, api_key="")
    with pytest.raises(ValueError, match="owner/name"):
        ReplicateArtwork(http, api_token=secret, model="flux-schnell")
    with pytest.raises(ValueError, match="sync_wait"):
        ReplicateArtwork(http, api_token=secret, sync_wait=90)


# -- the fakes' own strictness -----------------------------------------------------------------


def test_the_stability_fake_is_strict(stability: str) -> None:
    """No key is 401; a JSON body, a missing prompt, an unknown field, a bad enum or seed are
    400 in Stability's envelope; JSON is answered when asked for."""
    path = f"{stability}/v2beta/stable-image/generate/core"
    auth = {"Authorization": f"Bearer {SANDBOX_STABILITY_KEY}"}
    assert httpx.post(path, files={"prompt": (None, "x")}).status_code == 401
    cases = [
        ({"json": {"prompt": "x"}}, "content-type: must be multipart/form-data"),
        ({"files": {"seed": (None, "1")}}, "prompt: is required"),
        ({"files": {"prompt": (None, "x"), "width": (None, "9")}}, "width: is not a parameter"),
        ({"files": {"prompt": (None, "x"), "aspect_ratio": (None, "7:5")}}, "aspect_ratio:"),
        ({"files": {"prompt": (None, "x"), "seed": (None, "4294967295")}}, "seed:"),
    ]
    for request, said in cases:
        response = httpx.post(path, headers=auth, **request)  # type: ignore[arg-type]
        body = response.json()
        assert response.status_code == 400 and set(body) == {"id", "name", "errors"}
        assert body["name"] == "bad_request" and said in body["errors"][0]
    answer = httpx.post(
        f"{stability}/v2beta/stable-image/generate/sd3",
        headers={**auth, "Accept": "application/json"},
        files={"prompt": (None, "x"), "model": (None, "sd3.5-medium"), "seed": (None, "5")},
    ).json()
    assert answer["finish_reason"] == "SUCCESS" and answer["seed"] == 5
    assert SANDBOX_STABILITY_KEY not in str(control(stability, "requests"))


def test_the_replicate_fake_is_strict(replicate: str) -> None:
    """Problem details for a missing input, an unknown property, a bad enum and a bad Prefer;
    404 for an unknown prediction; undeclared inputs dropped; output files are the model's size
    (WebP by default) and need the token."""
    path = f"{replicate}/v1/models/black-forest-labs/flux-schnell/predictions"
    auth = {"Authorization": f"Bearer {SANDBOX_REPLICATE_KEY}"}
    cases = [
        ({"inptu": {"prompt": "x"}}, {}, ["input is required", "Additional property inptu"]),
        ({"input": {"seed": 1}}, {}, ["prompt is required"]),
        ({"input": {"prompt": "x", "output_format": "gif"}}, {}, ["output_format must be one"]),
        ({"input": {"prompt": "x", "num_outputs": 9}}, {}, ["num_outputs must be less"]),
        ({"input": {"prompt": "x"}}, {"Prefer": "wait=90"}, ["Prefer header"]),
    ]
    for body, headers, said in cases:
        response = httpx.post(path, json=body, headers={**auth, **headers})
        problem = response.json()
        assert response.status_code == 422 and problem["title"] == "Input validation failed"
        described = [f["description"] for f in problem["invalid_fields"]]
        assert [d[: len(s)] for d, s in zip(described, said, strict=True)] == said
    assert httpx.get(f"{replicate}/v1/predictions/nope", headers=auth).status_code == 404
    created = httpx.post(path, json={"input": {"prompt": "x", "extra": 1}}, headers=auth).json()
    assert created["status"] == "starting" and created["input"] == {"prompt": "x"}
    assert httpx.post(path, json={"input": {"prompt": "x"}}).status_code == 401
    control(replicate, "timing", {"starting_seconds": 0.0, "processing_seconds": 0.0})
    done = httpx.post(path, json={"input": {"prompt": "x", "seed": 1}}, headers=auth).json()
    (url,) = done["output"]
    assert done["status"] == "succeeded" and url.endswith("/out-0.webp")
    assert httpx.get(url).status_code == 401
    picture = Image.open(io.BytesIO(httpx.get(url, headers=auth).content))
    assert (picture.format, picture.size) == ("WEBP", (1024, 1024))
