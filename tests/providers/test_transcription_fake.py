"""The transcription fake's own strictness and control routes, spoken to with plain httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crosspost.fakes import serve_in_thread
from crosspost.fakes.transcription import SANDBOX_API_KEY, create_transcription_app
from crosspost.media.samples import make_audio

AUTH = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
PATH = "/v1/audio/transcriptions"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client on a fresh fake of this module's own."""
    server = serve_in_thread(create_transcription_app())
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    """A real 1 s mp3's bytes."""
    return make_audio(tmp_path / "a.mp3", seconds=1.0).read_bytes()


def error_of(response: httpx.Response) -> dict[str, object]:
    """The OpenAI error envelope's inner object (all four fields present)."""
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_missing_key_and_wrong_scheme_are_401(http: httpx.Client, clip: bytes) -> None:
    """No Authorization, or Basic instead of Bearer: 401 telling how to send the key."""
    for headers in ({}, {"Authorization": f"Basic {SANDBOX_API_KEY}"}):
        response = http.post(PATH, headers=headers, files={"file": ("a.mp3", clip)})
        assert response.status_code == 401
        assert "Bearer auth" in str(error_of(response)["message"])


def test_form_is_checked_field_by_field(http: httpx.Client, clip: bytes) -> None:
    """JSON instead of multipart, no file, no model, an unknown field, a bad enum value."""
    cases = [
        ({"json": {"model": "whisper-1"}}, "multipart/form-data"),
        ({"data": {"model": "whisper-1"}, "files": {"other": ("x", b"x")}}, "body -> file"),
        ({"files": {"file": ("a.mp3", clip)}}, "you must provide a model parameter"),
        ({"data": {"model": "whisper-1", "speed": "2"}, "files": {"file": ("a.mp3", clip)}},
         "Unrecognized request argument supplied: speed"),
        ({"data": {"model": "whisper-1", "response_format": "xml"},
          "files": {"file": ("a.mp3", clip)}}, "'xml' is not one of"),
        ({"data": {"model": "whisper-1", "temperature": "3"},
          "files": {"file": ("a.mp3", clip)}}, "'temperature'"),
        ({"data": {"model": "whisper-1", "timestamp_granularities[]": "word"},
          "files": {"file": ("a.mp3", clip)}}, "only supported with response_format"),
    ]  # fmt: skip
    for request, said in cases:
        response = http.post(PATH, headers=AUTH, **request)  # type: ignore[arg-type]
        assert response.status_code == 400, said
        assert said in str(error_of(response)["message"])


def test_too_short_audio_is_refused(http: httpx.Client, tmp_path: Path) -> None:
    """Under 0.1 s of audio is audio_too_short on the file parameter."""
    blip = make_audio(tmp_path / "blip.wav", seconds=0.05).read_bytes()
    response = http.post(
        PATH, headers=AUTH, data={"model": "whisper-1"}, files={"file": ("blip.wav", blip)}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "audio_too_short"


def test_unknown_routes_and_methods_answer_in_the_envelope(http: httpx.Client) -> None:
    """GET on the API path is 405 and an unknown path 404, both in OpenAI's envelope."""
    assert http.get(PATH, headers=AUTH).status_code == 405
    response = http.post("/v1/audio/translate", headers=AUTH)
    assert response.status_code == 404
    assert error_of(response)["message"] == "Invalid URL (POST /v1/audio/translate)"


def test_controls_refuse_bad_input_and_reset_clears(http: httpx.Client, clip: bytes) -> None:
    """Bad scripts and faults are 400 with the reason; the log never holds the key; reset
    empties the log, the scripts and the faults."""
    bad = http.post("/_fake/script", json={"segments": [{"start": 2, "end": 1, "text": "x"}]})
    assert bad.status_code == 400 and "ends before it starts" in bad.json()["error"]
    assert http.post("/_fake/faults", json={"status": 404}).status_code == 400
    assert http.post("/_fake/faults", json={"status": 500, "count": 0}).status_code == 400
    http.post("/_fake/script", json={"segments": []}).raise_for_status()
    http.post("/_fake/faults", json={"status": 503, "count": 2}).raise_for_status()
    response = http.post(PATH, headers=AUTH, data={"model": "whisper-1"},
                         files={"file": ("a.mp3", clip)})  # fmt: skip
    assert response.status_code == 503 and error_of(response)["type"] == "server_error"
    state = http.get("/_fake/state").json()
    assert state["scripts_queued"] == 1 and len(state["faults"]) == 1
    assert SANDBOX_API_KEY not in http.get("/_fake/requests").text
    http.post("/_fake/reset").raise_for_status()
    assert http.get("/_fake/state").json() == {"scripts_queued": 0, "faults": [], "requests": []}
