"""OpenAI's own Python client (`openai`) against the transcription fake.

The official client builds the multipart body its own way (``timestamp_granularities[]``,
its file part) and parses each response format into its own types; if the fake and our
client shared a misreading of the API, this suite is where it would show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.transcription import (
    SANDBOX_API_KEY,
    OpenAITranscriptionFake,
    TranscriptionFakeConfig,
)
from crosspost.media.samples import make_audio, make_corrupt, make_video
from crosspost.media.transcripts import parse_transcript


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The fake at the root of its own server, with a 300 KB content limit."""
    fake = OpenAITranscriptionFake(TranscriptionFakeConfig(max_content_bytes=300_000))
    with serve_in_thread(fake.asgi()) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    """The official client on the reset fake, without its own retries."""
    httpx.post(f"{server.url}/_fake/reset").raise_for_status()
    with openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=SANDBOX_API_KEY, max_retries=0
    ) as official:
        yield official


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real files: a 3 s mp3, a 2 s ogg (Opus), a video under an audio name, junk, a long wav."""
    folder = tmp_path_factory.mktemp("oa")
    return {
        "mp3": make_audio(folder / "speech.mp3", seconds=3.0),
        "ogg": make_audio(folder / "speech.ogg", seconds=2.0),
        "mp4": make_video(folder / "clip.mp4", seconds=2.0),
        "corrupt": make_corrupt(folder / "broken.m4a"),
        "wav": make_audio(folder / "long.wav", seconds=4.0),  # 384 KB: over 300 KB
    }


def create(client: openai.OpenAI, path: Path, **options: Any) -> Any:
    """`audio.transcriptions.create` with the file opened as the docs show."""
    with path.open("rb") as file:
        return client.audio.transcriptions.create(file=file, **options)


def test_verbose_json_with_word_and_segment_timestamps(
    client: openai.OpenAI, audio: dict[str, Path]
) -> None:
    """whisper-1's verbose_json parses into TranscriptionVerbose with words and segments."""
    result = create(
        client,
        audio["mp3"],
        model="whisper-1",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert isinstance(result, openai.types.audio.TranscriptionVerbose)
    assert result.language == "english" and result.duration == pytest.approx(3.0, abs=0.05)
    assert result.words and result.segments
    assert [w.word for w in result.words[:3]] == ["the", "quick", "brown"]
    assert result.words[1].start == 0.4 and result.words[1].end == 0.7
    segment = result.segments[0]
    assert segment.id == 0 and segment.text.strip() == result.text
    assert segment.start == 0.0 and segment.tokens and segment.temperature == 0.0


def test_verbose_json_gives_only_the_granularities_asked(
    client: openai.OpenAI, audio: dict[str, Path]
) -> None:
    """Words alone leave segments out; no granularity at all gives segments (the default)."""
    words_only = create(
        client,
        audio["ogg"],
        model="whisper-1",
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )
    assert words_only.words and words_only.segments is None
    default = create(client, audio["ogg"], model="whisper-1", response_format="verbose_json")
    assert default.segments and default.words is None


def test_json_text_srt_and_vtt(client: openai.OpenAI, audio: dict[str, Path]) -> None:
    """json is a Transcription with usage; text, srt and vtt are strings our parser reads."""
    as_json = create(client, audio["mp3"], model="whisper-1", response_format="json")
    assert isinstance(as_json, openai.types.audio.Transcription)
    assert as_json.text.startswith("the quick brown fox")
    assert as_json.usage is not None and as_json.usage.type == "duration"
    as_text = create(client, audio["mp3"], model="whisper-1", response_format="text")
    assert as_text == as_json.text + "\n"
    for fmt in ("srt", "vtt"):
        subtitles = create(client, audio["mp3"], model="whisper-1", response_format=fmt)
        assert isinstance(subtitles, str)
        (segment,) = parse_transcript(subtitles).segments
        assert segment.text == as_json.text and segment.start == 0.0


def test_gpt4o_models_answer_json_and_text_only(
    client: openai.OpenAI, audio: dict[str, Path]
) -> None:
    """gpt-4o-transcribe takes json (token usage) but refuses verbose_json and timestamps."""
    as_json = create(client, audio["mp4"], model="gpt-4o-transcribe")
    assert as_json.text and as_json.usage is not None and as_json.usage.type == "tokens"
    with pytest.raises(openai.BadRequestError) as caught:
        create(client, audio["mp3"], model="gpt-4o-mini-transcribe", response_format="srt")
    assert caught.value.code == "unsupported_value" and caught.value.param == "response_format"
    with pytest.raises(openai.BadRequestError) as caught:
        create(client, audio["mp3"], model="gpt-4o-transcribe", timestamp_granularities=["word"])
    assert caught.value.param == "timestamp_granularities[]"


def test_bad_key_is_authentication_error(server: RunningServer, audio: dict[str, Path]) -> None:
    """A wrong key is AuthenticationError (401, invalid_api_key) with the key masked."""
    with (
        openai.OpenAI(
            base_url=f"{server.url}/v1", api_key="sk-not-the-right-one-4321", max_retries=0
        ) as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        create(wrong, audio["mp3"], model="whisper-1")
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert "not-the-right" not in str(caught.value)


def test_request_refusals_are_bad_request_errors(
    client: openai.OpenAI, audio: dict[str, Path], tmp_path: Path
) -> None:
    """A file name outside the formats, undecodable audio and a language that is not
    ISO 639-1 are BadRequestError, with OpenAI's messages."""
    named = tmp_path / "speech.txt"
    named.write_bytes(audio["mp3"].read_bytes())
    with pytest.raises(openai.BadRequestError, match="Invalid file format"):
        create(client, named, model="whisper-1")
    with pytest.raises(openai.BadRequestError, match="could not be decoded"):
        create(client, audio["corrupt"], model="whisper-1")
    with pytest.raises(openai.BadRequestError, match="ISO-639-1") as caught:
        create(client, audio["mp3"], model="whisper-1", language="english")
    assert caught.value.param == "language"


def test_unknown_model_is_not_found(client: openai.OpenAI, audio: dict[str, Path]) -> None:
    """A model the API does not have is NotFoundError with code model_not_found."""
    with pytest.raises(openai.NotFoundError) as caught:
        create(client, audio["mp3"], model="whisper-2")
    assert caught.value.code == "model_not_found"


def test_content_over_the_limit_is_413(client: openai.OpenAI, audio: dict[str, Path]) -> None:
    """A body over the content limit is the real 413 (typed server_error) naming the limit."""
    with pytest.raises(openai.APIStatusError) as caught:
        create(client, audio["wav"], model="whisper-1")
    assert caught.value.status_code == 413
    assert "Maximum content size limit (300000) exceeded" in caught.value.message


def test_injected_rate_limit_then_success(
    client: openai.OpenAI, server: RunningServer, audio: dict[str, Path]
) -> None:
    """An injected 429 reaches the client as RateLimitError with Retry-After; the client's own
    retry (max_retries=1) then gets the transcription."""
    faults = {"status": 429, "count": 1, "retry_after": 0}
    httpx.post(f"{server.url}/_fake/faults", json=faults).raise_for_status()
    with pytest.raises(openai.RateLimitError) as caught:
        create(client, audio["mp3"], model="whisper-1")
    assert caught.value.response.headers["retry-after"] == "0"
    httpx.post(f"{server.url}/_fake/faults", json=faults).raise_for_status()
    retrying = client.with_options(max_retries=1)
    assert create(retrying, audio["mp3"], model="whisper-1").text.startswith("the quick")
    log = httpx.get(f"{server.url}/_fake/requests").raise_for_status().json()
    assert [entry["status"] for entry in log] == [429, 429, 200]


def test_scripted_answer_reaches_the_official_types(
    client: openai.OpenAI, server: RunningServer, audio: dict[str, Path]
) -> None:
    """A script's segments and words come back through verbose_json exactly."""
    script = {
        "language": "french",
        "segments": [
            {
                "start": 0.0,
                "end": 1.5,
                "text": " Bonjour à tous.",
                "words": [
                    {"word": "Bonjour", "start": 0.0, "end": 0.6},
                    {"word": "à", "start": 0.7, "end": 0.8},
                    {"word": "tous.", "start": 0.9, "end": 1.4},
                ],
            }
        ],
    }
    httpx.post(f"{server.url}/_fake/script", json=script).raise_for_status()
    result = create(
        client,
        audio["mp3"],
        model="whisper-1",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "french" and result.text == "Bonjour à tous."
    assert [(w.word, w.start) for w in result.words or []] == [
        ("Bonjour", 0.0),
        ("à", 0.7),
        ("tous.", 0.9),
    ]
    assert result.duration == pytest.approx(3.0, abs=0.05)  # measured, not scripted
