"""OpenAITranscriber against the transcription fake, served over real HTTP on loopback."""

from __future__ import annotations

import array
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.audio.stream
import httpx
import pytest

from crosspost.domain.enums import ErrorKind
from crosspost.domain.transcripts import Transcript
from crosspost.errors import InvalidInput
from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.transcription import (
    SANDBOX_API_KEY,
    OpenAITranscriptionFake,
    TranscriptionFakeConfig,
)
from crosspost.media.audio_extract import extract_speech
from crosspost.media.samples import make_audio, make_image, make_video
from crosspost.providers import OpenAITranscriber, ProviderError


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[OpenAITranscriptionFake, RunningServer]]:
    """One fake for the module, with a content limit small enough to reach cheaply."""
    instance = OpenAITranscriptionFake(TranscriptionFakeConfig(max_content_bytes=400_000))
    with serve_in_thread(instance.asgi()) as server:
        yield instance, server


@pytest.fixture
def served(fake: tuple[OpenAITranscriptionFake, RunningServer]) -> str:
    """The fake reset; its base URL as a client is configured with (ending in /v1)."""
    instance, server = fake
    instance.reset()
    return f"{server.url}/v1"


Log = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def requests_seen(fake: tuple[OpenAITranscriptionFake, RunningServer]) -> Log:
    """Reads the fake's request log over HTTP."""

    def read() -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (
            httpx.get(f"{fake[1].url}/_fake/requests").raise_for_status().json()
        )
        return entries

    return read


def control(base: str, what: str, body: dict[str, Any]) -> None:
    """POST to one of the fake's control routes."""
    httpx.post(f"{base.removesuffix('/v1')}/_fake/{what}", json=body).raise_for_status()


def tone_and_silence(path: Path, pattern: list[tuple[float, bool]], rate: int = 16_000) -> Path:
    """A mono WAV of tone (True) and silence (False) stretches, in order."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = "mono"
        written = 0
        for seconds, loud in pattern:
            count = round(seconds * rate)
            samples = array.array(
                "h",
                (int(8000 * math.sin(2 * math.pi * 440 * k / rate)) if loud else 0
                 for k in range(count)),
            )  # fmt: skip
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.sample_rate, frame.pts, frame.time_base = rate, written, Fraction(1, rate)
            frame.planes[0].update(samples.tobytes())
            out.mux(stream.encode(frame))
            written += count
        out.mux(stream.encode(None))
    return path


def failure(base: str, media: Path, model: str = "whisper-1", **options: Any) -> ProviderError:
    """The ProviderError transcribing `media` raises."""
    with OpenAITranscriber(base, SANDBOX_API_KEY, model, **options) as transcriber:
        try:
            transcriber.transcribe(media)
        except ProviderError as exc:
            return exc
    raise AssertionError("the transcription succeeded")


def words_of(transcript: Transcript) -> list[tuple[float, float, str]]:
    """Every word with its times, in order."""
    return [(w.start, w.end, w.text) for s in transcript.segments for w in s.words]


def test_small_file_is_sent_as_is_with_word_timings(
    served: str, tmp_path: Path, requests_seen: Log
) -> None:
    """A 3 s mp3 goes up unchanged as verbose_json with segment and word timestamps."""
    song = make_audio(tmp_path / "voice.mp3", seconds=3.0)
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        transcript = transcriber.transcribe(song)
    assert transcript.language == "en"  # the service says "english"
    words = words_of(transcript)
    assert words[0] == (0.0, 0.3, "the") and words[1] == (0.4, 0.7, "quick")
    assert len(words) == 8 and words[-1][1] <= 3.0
    assert transcript.segments[0].text.startswith("the quick brown fox")
    (sent,) = requests_seen()
    assert sent["filename"] == "voice.mp3" and sent["status"] == 200
    assert sent["fields"]["response_format"] == "verbose_json"
    assert sent["fields"]["timestamp_granularities[]"] == ["segment", "word"]


def test_silence_splits_segments(served: str, tmp_path: Path) -> None:
    """The fake hears no words in a 2 s silence, and no segment bridges it."""
    audio = tone_and_silence(tmp_path / "gap.wav", [(1.0, True), (2.0, False), (1.0, True)])
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        transcript = transcriber.transcribe(audio)
    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 1.0), (3.0, 4.0)]
    assert all(not 1.0 < start < 3.0 for start, _, _ in words_of(transcript))


def test_script_sets_exact_segments_and_words(served: str, tmp_path: Path) -> None:
    """A scripted answer comes back with its words under the right segments; language and
    prompt are sent as given (the BCP 47 tag's language part)."""
    control(
        served,
        "script",
        {
            "language": "german",
            "segments": [
                {"start": 0.0, "end": 1.0, "text": " Guten Tag.",
                 "words": [{"word": "Guten", "start": 0.1, "end": 0.4},
                           {"word": "Tag.", "start": 0.5, "end": 0.9}]},
                {"start": 1.2, "end": 2.0, "text": " Wie geht's?",
                 "words": [{"word": "Wie", "start": 1.2, "end": 1.5},
                           {"word": "geht's?", "start": 1.5, "end": 1.9}]},
            ],
        },
    )  # fmt: skip
    clip = make_audio(tmp_path / "hallo.m4a", seconds=2.0)
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        transcript = transcriber.transcribe(clip, language="de-AT", prompt="Grüße")
    assert transcript.language == "de-AT"
    assert [s.text for s in transcript.segments] == ["Guten Tag.", "Wie geht's?"]
    assert [w.text for w in transcript.segments[1].words] == ["Wie", "geht's?"]
    assert transcript.segments[0].words[1].start == 0.5


def test_long_audio_is_compacted_and_cut_into_pieces(
    served: str, tmp_path: Path, requests_seen: Log
) -> None:
    """Over the limit, the audio goes up as Opus pieces whose timings are moved back onto the
    source: words run on across piece boundaries, in order, up to the end."""
    source = make_audio(tmp_path / "talk.wav", seconds=25.0)  # 800 KB of PCM: over 400 KB
    with OpenAITranscriber(
        served, SANDBOX_API_KEY, max_upload_bytes=40_000, work_dir=tmp_path
    ) as transcriber:
        assert 9.0 < transcriber.piece_seconds < 11.0
        transcript = transcriber.transcribe(source)
    sent = requests_seen()
    assert [r["filename"] for r in sent] == ["speech-000.ogg", "speech-001.ogg", "speech-002.ogg"]
    assert all(r["status"] == 200 and r["bytes"] <= 40_000 for r in sent)
    assert sum(r["duration"] for r in sent) == pytest.approx(25.0, abs=0.05)
    starts = [start for start, _, _ in words_of(transcript)]
    assert starts == sorted(starts)
    assert starts[0] == 0.0 and 24.0 < starts[-1] < 25.0
    boundary = transcriber.piece_seconds
    assert any(abs(s - boundary) < 0.01 for s in starts)  # piece 2's first word
    assert not list(tmp_path.glob("crosspost-speech-*"))  # the pieces are cleaned up


def test_video_and_unnamed_formats_are_extracted_first(
    served: str, tmp_path: Path, requests_seen: Log
) -> None:
    """A .mov (a name the service refuses) is sent as its audio track in Ogg."""
    movie = make_video(tmp_path / "clip.mov", seconds=2.0)
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        transcript = transcriber.transcribe(movie)
    assert transcript.segments and transcript.segments[0].start == 0.0
    assert requests_seen()[0]["filename"] == "speech-000.ogg"


def test_untimed_model_gives_one_segment_per_piece(
    served: str, tmp_path: Path, requests_seen: Log
) -> None:
    """gpt-4o-mini-transcribe answers json: the piece's whole text spans the piece."""
    clip = make_audio(tmp_path / "note.mp3", seconds=2.0)
    with OpenAITranscriber(served, SANDBOX_API_KEY, "gpt-4o-mini-transcribe") as transcriber:
        transcript = transcriber.transcribe(clip)
    (segment,) = transcript.segments
    assert segment.start == 0.0 and segment.end == pytest.approx(2.0, abs=0.05)
    assert segment.text.startswith("the quick") and segment.words == ()
    (sent,) = requests_seen()
    assert sent["fields"]["response_format"] == "json"
    assert "timestamp_granularities[]" not in sent["fields"]


def test_wrong_key_is_an_auth_error_without_the_key(served: str, tmp_path: Path) -> None:
    """A 401 is kind auth; neither the message, the raw body nor any repr shows the key."""
    key = "sk-live-this-is-secret-9876"
    clip = make_audio(tmp_path / "a.mp3", seconds=1.0)
    with OpenAITranscriber(served, key) as transcriber:
        with pytest.raises(ProviderError) as caught:
            transcriber.transcribe(clip)
        shown = repr(transcriber)
    error = caught.value
    assert error.kind is ErrorKind.AUTH and error.code == "invalid_api_key"
    assert error.http_status == 401 and not error.retryable
    for text in (str(error), error.message, repr(error.raw), shown, repr(error.args)):
        assert "9876" not in text and "secret" not in text


def test_rate_limit_is_transient_and_the_caller_retries(served: str, tmp_path: Path) -> None:
    """A 429 carries Retry-After as retry_after; the client does not retry by itself, and the
    caller's second call succeeds."""
    control(served, "faults", {"status": 429, "count": 1, "retry_after": 7})
    clip = make_audio(tmp_path / "a.mp3", seconds=1.0)
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        with pytest.raises(ProviderError) as caught:
            transcriber.transcribe(clip)
        assert caught.value.kind is ErrorKind.TRANSIENT and caught.value.retry_after == 7.0
        assert caught.value.code == "rate_limited"
        assert transcriber.transcribe(clip).segments


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        ({"status": 500}, ErrorKind.TRANSIENT, "server_error"),
        ({"status": 503}, ErrorKind.TRANSIENT, "server_error"),
        ({"status": 429, "code": "insufficient_quota"}, ErrorKind.QUOTA, "insufficient_quota"),
    ],
)
def test_server_faults_are_classified(
    served: str, tmp_path: Path, fault: dict[str, Any], kind: ErrorKind, code: str
) -> None:
    """5xx are transient; a 429 for a spent quota is a quota error, not worth retrying soon."""
    control(served, "faults", fault)
    clip = make_audio(tmp_path / "a.mp3", seconds=1.0)
    error = failure(served, clip)
    assert (error.kind, error.code) == (kind, code)


def test_refusals_are_permanent_and_name_the_fix(served: str, tmp_path: Path) -> None:
    """An unknown model is a 404 naming the model; an over-limit upload a 413 naming the knob."""
    clip = make_audio(tmp_path / "a.mp3", seconds=1.0)
    error = failure(served, clip, "whisper-9")
    assert error.kind is ErrorKind.PERMANENT and error.code == "model_not_found"
    assert "'whisper-9'" in error.message
    big = make_audio(tmp_path / "big.wav", seconds=5.0)  # 480 KB: over the fake's 400 KB
    error = failure(served, big, max_upload_bytes=10**6)
    assert error.code == "upload_too_large" and error.http_status == 413
    assert "max_upload_bytes" in error.message


def test_unreachable_service_is_transient(tmp_path: Path) -> None:
    """Nothing listening: a transient error naming the host, not an httpx exception."""
    clip = make_audio(tmp_path / "a.mp3", seconds=1.0)
    error = failure("http://127.0.0.1:9/v1", clip)
    assert error.kind is ErrorKind.TRANSIENT and error.code == "unreachable"
    assert "127.0.0.1" in error.message


def test_media_without_audio_is_refused_before_any_request(
    served: str, tmp_path: Path, requests_seen: Log
) -> None:
    """A silent video or an image is InvalidInput (media_no_audio / media_unreadable)."""
    mute = make_video(tmp_path / "mute.mov", seconds=1.0, audio=False)
    with OpenAITranscriber(served, SANDBOX_API_KEY) as transcriber:
        with pytest.raises(InvalidInput) as caught:
            transcriber.transcribe(mute)
        assert caught.value.code == "media_no_audio"
        garbage = tmp_path / "noise.mkv"
        garbage.write_bytes(b"\x00not media at all" * 64)
        with pytest.raises(InvalidInput) as caught:
            transcriber.transcribe(garbage)
        assert caught.value.code == "media_unreadable"
        with pytest.raises(InvalidInput):
            transcriber.transcribe(make_image(tmp_path / "still.png"))
    assert requests_seen() == []


def test_pieces_tile_the_audio(tmp_path: Path) -> None:
    """Pieces tile the audio without gaps; each is mono 16 kHz Opus within the planned size."""
    source = make_audio(tmp_path / "long.flac", seconds=7.5)
    pieces = extract_speech(source, tmp_path, piece_seconds=3.0)
    assert [(p.start, p.duration) for p in pieces] == [(0.0, 3.0), (3.0, 3.0), (6.0, 1.5)]
    for piece in pieces:
        with av.open(str(piece.path)) as opened:
            stream = opened.streams.audio[0]
            assert stream.codec_context.name == "opus" and stream.channels == 1
        assert piece.path.stat().st_size < 3.0 * 24_000 / 8 * 1.1 + 1024
