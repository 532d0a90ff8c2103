"""Transcription: the `Transcriber` port, and its client of OpenAI's `POST /audio/transcriptions`
(also spoken by compatible services: point `base_url` at them).

The client asks `whisper-1` for ``verbose_json`` with segment and word timestamps; the
``gpt-4o-*transcribe`` models answer only ``json``/``text``, so with them each uploaded piece
becomes one untimed segment spanning the piece. The service takes at most 25 MB a request:
a file that is larger, or not in a format it reads, is first turned into compact speech audio
(mono 16 kHz Opus) and, when long, cut into pieces at fixed durations; each piece is sent on its
own and its timings moved by where the piece starts.

The client does not retry. A failure is a `ProviderError` whose kind says whether to (and
`retry_after` when); the job that called it owns the retry policy, as it does for platforms.
A retried transcription starts again from the first piece.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from crosspost.domain.enums import ErrorKind
from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media.audio_extract import AudioPiece, extract_speech, seconds_per_piece
from crosspost.providers.errors import ProviderError
from crosspost.providers.languages import language_tag
from crosspost.providers.openai_http import DEFAULT_BASE_URL, Failure, OpenAIHTTP

DEFAULT_MODEL = "whisper-1"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's limit, counted on the whole request body
# What the service reads, by file name suffix (it judges the format by the name first).
CONTENT_TYPES: Mapping[str, str] = {
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".mpeg": "audio/mpeg",
    ".mpga": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
}
TIMED_MODELS = frozenset({"whisper-1"})  # the only ones that answer verbose_json
# The gpt-4o transcribe models refuse audio over 1500 s whatever its size.
UNTIMED_MAX_SECONDS = 1400.0
_FORM_ROOM = 8 * 1024  # the form fields and part headers sent beside the file


class Transcriber(Protocol):
    """Turns a media file's speech into a timed transcript."""

    def transcribe(
        self, path: Path, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """Transcribe `path` (video or audio); `language` is a BCP 47 / ISO 639-1 hint,
        `prompt` vocabulary or preceding text that guides spelling. Raises ProviderError."""
        ...


class OpenAITranscriber(OpenAIHTTP):
    """`Transcriber` over OpenAI's audio transcription endpoint (or a compatible service).

    `max_upload_bytes` is the service's request limit; `piece_seconds` (derived from it when
    None) is the longest piece of compact audio sent in one request. `http` is borrowed and
    left open; without it the transcriber owns a client (close it, or use ``with``).
    """

    _settings = "transcription"
    _timeout_advice = "raise the transcription timeout for long audio"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = 600.0,
        http: httpx.Client | None = None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        piece_seconds: float | None = None,
        work_dir: Path | None = None,
    ) -> None:
        super().__init__(base_url, api_key, model, timeout=timeout, http=http)
        self.max_upload_bytes = max_upload_bytes
        fitting = seconds_per_piece(max_upload_bytes - _FORM_ROOM)
        if model not in TIMED_MODELS:
            fitting = min(fitting, UNTIMED_MAX_SECONDS)
        self.piece_seconds = piece_seconds or fitting
        self.work_dir = work_dir

    @property
    def timed(self) -> bool:
        """True when the model gives segment and word timings."""
        return self.model in TIMED_MODELS

    def transcribe(
        self, path: Path, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """Transcribe `path`; media InvalidInput (no audio, undecodable) and ProviderError
        (the service's refusal or failure) are the errors it raises."""
        hint = language.split("-")[0].lower() if language else None
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if (
            self.timed
            and content_type is not None
            and path.stat().st_size + _FORM_ROOM <= self.max_upload_bytes
        ):
            segments, reported = self._send(path, content_type, hint, prompt)
            return Transcript(tuple(segments), language=language or language_tag(reported))
        with tempfile.TemporaryDirectory(prefix="crosspost-speech-", dir=self.work_dir) as tmp:
            pieces = extract_speech(path, Path(tmp), piece_seconds=self.piece_seconds)
            found: list[Segment] = []
            first_language: str | None = None
            for piece in pieces:
                segments, reported = self._send_piece(piece, hint, prompt)
                found += segments
                first_language = first_language or reported
        return Transcript(tuple(found), language=language or language_tag(first_language))

    # -- one request -------------------------------------------------------------------------

    def _send_piece(
        self, piece: AudioPiece, language: str | None, prompt: str | None
    ) -> tuple[list[Segment], str | None]:
        size = piece.path.stat().st_size
        if size + _FORM_ROOM > self.max_upload_bytes:
            raise ProviderError(
                ErrorKind.PERMANENT,
                "audio_too_large",
                f"{piece.duration:.0f} s of compact audio came to {size} bytes, over the "
                f"{self.max_upload_bytes}-byte upload limit: lower piece_seconds",
            )
        segments, reported = self._send(piece.path, "audio/ogg", language, prompt)
        if not self.timed:
            text = " ".join(s.text for s in segments).strip()
            segments = [Segment(piece.start, piece.end, text)] if text else []
        else:
            segments = [_moved(s, piece.start) for s in segments]
        return segments, reported

    def _send(
        self, path: Path, content_type: str, language: str | None, prompt: str | None
    ) -> tuple[list[Segment], str | None]:
        form: dict[str, Any] = {"model": self.model}
        if self.timed:
            form["response_format"] = "verbose_json"
            form["timestamp_granularities[]"] = ["segment", "word"]
        else:
            form["response_format"] = "json"
        if language:
            form["language"] = language
        if prompt:
            form["prompt"] = prompt
        # httpx streams a file object in 64 KiB reads: the audio is never held in memory.
        with path.open("rb") as audio:
            response = self._post(
                "/audio/transcriptions",
                data=form,
                files={"file": (path.name, audio, content_type)},
            )
        return self._parse(response)

    def _classify_more(
        self, status: int, code: str, said: str, failure: Failure
    ) -> ProviderError | None:
        """Rate limits and server errors alike are transient; 413 is an upload over the limit."""
        if status == 429 or status >= 500:
            return failure(
                ErrorKind.TRANSIENT,
                "rate_limited" if status == 429 else "server_error",
                self._try_later(status, said),
            )
        if status == 413:
            return failure(
                ErrorKind.PERMANENT,
                "upload_too_large",
                f"{self._host} refused the upload as too large ({said}): lower "
                f"max_upload_bytes (now {self.max_upload_bytes}) to the service's limit",
            )
        return None

    def _parse(self, response: httpx.Response) -> tuple[list[Segment], str | None]:
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise TypeError("not a JSON object")
            if not self.timed:
                return [Segment(0.0, 0.0, str(body["text"]).strip())], None
            words = [_word(w) for w in body.get("words") or []]
            segments = _with_words([_segment(s) for s in body.get("segments") or []], words)
            reported = body.get("language")
            return segments, reported if isinstance(reported, str) else None
        except (ValueError, TypeError, KeyError) as exc:
            raise self._malformed(
                response,
                f"{self._host} answered 200 with a body that is not a transcription ({exc}): "
                "retry; if it persists the base URL does not speak OpenAI's API",
            ) from None


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} is not a number")
    return float(value)


def _word(item: Any) -> Word:
    if not isinstance(item, dict) or not isinstance(item.get("word"), str):
        raise TypeError("a word has no text")
    start = _number(item.get("start"), "a word's start")
    return Word(start, max(start, _number(item.get("end"), "a word's end")), item["word"].strip())


def _segment(item: Any) -> Segment:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise TypeError("a segment has no text")
    start = _number(item.get("start"), "a segment's start")
    end = max(start, _number(item.get("end"), "a segment's end"))
    return Segment(start, end, item["text"].strip())


def _with_words(segments: list[Segment], words: list[Word]) -> list[Segment]:
    """Each word given to the last segment starting at or before it (OpenAI lists the words
    of the whole file apart from the segments); segments without speech are dropped."""
    if not segments:
        return []
    owned: list[list[Word]] = [[] for _ in segments]
    index = 0
    for word in sorted(words, key=lambda w: w.start):
        while index + 1 < len(segments) and segments[index + 1].start <= word.start + 1e-6:
            index += 1
        owned[index].append(word)
    return [
        Segment(s.start, s.end, s.text, tuple(w for w in mine if w.text))
        for s, mine in zip(segments, owned, strict=True)
        if s.text
    ]


def _moved(segment: Segment, offset: float) -> Segment:
    """`segment` shifted by `offset` seconds (a piece's place in the source)."""
    return Segment(
        round(segment.start + offset, 3),
        round(segment.end + offset, 3),
        segment.text,
        tuple(Word(round(w.start + offset, 3), round(w.end + offset, 3), w.text)
              for w in segment.words),
    )  # fmt: skip


__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "MAX_UPLOAD_BYTES",
    "TIMED_MODELS",
    "UNTIMED_MAX_SECONDS",
    "OpenAITranscriber",
    "Transcriber",
]
