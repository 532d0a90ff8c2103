"""Replicate's own Python client (`replicate`) against the Replicate fake.

The official client builds its requests its own way (``Prefer: wait``, the models endpoint for
``owner/name``, its own polling in ``Prediction.wait``) and parses answers into its own pydantic
types; if the fake and our client shared a misreading of the API, this is where it would show.
The fake runs on the real clock here, with predictions a fraction of a second long.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from replicate.client import Client
from replicate.exceptions import ModelError, ReplicateError

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.replicate import SANDBOX_REPLICATE_KEY, ReplicateFake, ReplicateFakeConfig

FLUX = "black-forest-labs/flux-schnell"
SD35 = "stability-ai/stable-diffusion-3.5-large"
AUTH = {"Authorization": f"Bearer {SANDBOX_REPLICATE_KEY}"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The fake at the root of its own server, predictions taking 0.15 s."""
    fake = ReplicateFake(ReplicateFakeConfig(starting_seconds=0.05, processing_seconds=0.1))
    with serve_in_thread(fake.asgi()) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Client:
    """The official client on the reset fake, polling every 20 ms."""
    httpx.post(f"{server.url}/_fake/reset").raise_for_status()
    official = Client(api_token=SANDBOX_REPLICATE_KEY, base_url=server.url)
    official.poll_interval = 0.02
    return official


def image_at(url: str) -> Image.Image:
    """The output file at `url`, fetched with the token as the reference asks."""
    response = httpx.get(url, headers=AUTH)
    response.raise_for_status()
    picture = Image.open(io.BytesIO(response.content))
    picture.load()
    return picture


def log(server: RunningServer) -> list[dict[str, Any]]:
    """The fake's request log."""
    entries: list[dict[str, Any]] = httpx.get(f"{server.url}/_fake/requests").json()
    return entries


def test_run_returns_urls_that_serve_the_image(client: Client, server: RunningServer) -> None:
    """``run("owner/name")`` posts to the models endpoint with ``Prefer: wait``, takes the
    sync answer as done, and its output URL serves a 1024 px PNG."""
    output = client.run(FLUX, input={"prompt": "an album cover", "seed": 3, "output_format": "png"})
    (url,) = output  # plain strings: the client wraps only https URLs as FileOutput
    picture = image_at(str(url))
    assert (picture.format, picture.size, picture.mode) == ("PNG", (1024, 1024), "RGB")
    (create,) = log(server)[:1]
    assert create["path"] == f"/v1/models/{FLUX}/predictions" and create["prefer_wait"] == 60


def test_create_then_wait_polls_to_succeeded(client: Client, server: RunningServer) -> None:
    """``predictions.create`` without waiting answers ``starting``; ``wait()`` polls the
    prediction to ``succeeded``, with its logs, metrics and timestamps parsed."""
    prediction = client.predictions.create(model=FLUX, input={"prompt": "x", "seed": 11})
    created = (prediction.status, prediction.output)
    assert created == ("starting", None)
    assert prediction.urls is not None and prediction.urls["get"].endswith(prediction.id)
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.model == FLUX
    assert prediction.logs is not None and "Using seed: 11" in prediction.logs
    assert prediction.metrics is not None and prediction.metrics["predict_time"] > 0
    assert prediction.started_at and prediction.completed_at
    output = prediction.output
    assert isinstance(output, list) and image_at(output[0]).format == "WEBP"
    polls = [e for e in log(server) if e["path"] == f"/v1/predictions/{prediction.id}"]
    assert polls and all(e["method"] == "GET" for e in polls)


def test_a_single_file_model_and_the_same_seed(client: Client) -> None:
    """SD 3.5 answers one URL, not a list; the same seed serves the same bytes."""
    first = client.run(SD35, input={"prompt": "x", "seed": 5, "output_format": "jpg"})
    second = client.run(SD35, input={"prompt": "x", "seed": 5, "output_format": "jpg"})
    assert isinstance(first, str)
    assert isinstance(second, str) and first != second
    assert httpx.get(first, headers=AUTH).content == httpx.get(second, headers=AUTH).content
    assert image_at(first).format == "JPEG"


def test_cancel_stops_a_running_prediction(client: Client, server: RunningServer) -> None:
    """``predictions.cancel`` on a long prediction answers it ``canceled``."""
    httpx.post(f"{server.url}/_fake/timing", json={"processing_seconds": 60}).raise_for_status()
    prediction = client.predictions.create(model=FLUX, input={"prompt": "x"})
    canceled = client.predictions.cancel(prediction.id)
    assert canceled.status == "canceled" and canceled.completed_at
    prediction.reload()
    assert prediction.status == "canceled"


def test_refusals_are_replicate_errors(client: Client, server: RunningServer) -> None:
    """A wrong token is 401, a missing prompt 422 naming it, an unknown model 404: each a
    ReplicateError with the problem's title and detail."""
    wrong = Client(api_token="r8_not-the-token", base_url=server.url)
    with pytest.raises(ReplicateError) as caught:
        wrong.run(FLUX, input={"prompt": "x"})
    assert (caught.value.status, caught.value.title) == (401, "Unauthenticated")
    with pytest.raises(ReplicateError) as caught:
        client.run(FLUX, input={"seed": 1})
    assert caught.value.status == 422 and "prompt is required" in str(caught.value.detail)
    with pytest.raises(ReplicateError) as caught:
        client.run("acme/no-such-model", input={"prompt": "x"})
    assert caught.value.status == 404


def test_a_failed_prediction_is_a_model_error(client: Client, server: RunningServer) -> None:
    """A prediction the model fails reaches ``run`` as ModelError with the model's message."""
    fault = {"outcome": "failed", "error": "CUDA out of memory"}
    httpx.post(f"{server.url}/_fake/faults", json=fault).raise_for_status()
    with pytest.raises(ModelError, match="CUDA out of memory") as caught:
        client.run(FLUX, input={"prompt": "x"})
    assert caught.value.prediction.status == "failed"
