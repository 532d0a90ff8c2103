"""Fake OpenAI transcription API: `POST /v1/audio/transcriptions`, strict, with a script.

Written from OpenAI's API reference and reported error bodies (`transcription_rules`), never
from our client. A request needs ``Authorization: Bearer <key>`` with a known key, a multipart
body under the 25 MB content limit with `file` and `model`, a model-compatible
`response_format` (verbose_json, srt, vtt and timestamp_granularities[] only for whisper-1),
a file named as one of the accepted formats, and audio that really decodes: the fake decodes it
with PyAV to learn its duration and where it is silent.

What it "hears" is deterministic: words of a fixed list, one every 0.4 s through each stretch
of sound (silences of 0.5 s or more get none), unless a test queued exact segments and words
on ``POST /_fake/script`` (one script per request, first in first out). Control routes:
``/_fake/reset``, ``/_fake/state``, ``/_fake/requests`` (the log), ``/_fake/faults`` (the next
N requests answer 429, 500 or 503), ``/_fake/script``. Mount it where the real base URL ends
before ``/v1`` (e.g. at ``/openai``: the client's base URL is then ``…/openai/v1``).
"""

from __future__ import annotations

import array
import itertools
import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

import av
import av.error
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crosspost.fakes.transcription_rules import (
    FIELDS,
    FILE_FORMATS,
    GRANULARITIES,
    LANGUAGES,
    MAX_CONTENT_BYTES,
    MIN_SECONDS,
    MODELS,
    RESPONSE_FORMATS,
    TIMED_MODELS,
    UNTIMED_FORMATS,
    UNTIMED_MAX_SECONDS,
    ApiError,
    Spoken,
    generated,
    injected,
    missing_key,
    not_one_of,
    queued_faults,
    render,
    scripted,
    too_large,
    undecodable,
    wrong_key,
)

SANDBOX_API_KEY = "sk-sandbox-transcription"  # the sandbox's published fake key
_RATE = 8_000  # decoding rate for the loudness map: plenty to tell sound from silence
_WINDOW = _RATE // 10  # 100 ms


@dataclass(frozen=True)
class TranscriptionFakeConfig:
    """The fake's knobs; limits default to the real API's."""

    api_keys: tuple[str, ...] = (SANDBOX_API_KEY,)
    max_content_bytes: int = MAX_CONTENT_BYTES
    untimed_max_seconds: float = UNTIMED_MAX_SECONDS
    words_per_segment: int = 12
    silence_peak: int = 330  # s16 peak under ~ -40 dBFS counts as silence
    min_silence_seconds: float = 0.5


class _TooLarge(Exception):
    def __init__(self, read: int) -> None:
        self.read = read


@dataclass(frozen=True)
class Heard:
    """What decoding the upload found: its duration and its stretches of sound."""

    duration: float
    speech: tuple[tuple[float, float], ...]


def hear(file: IO[bytes], config: TranscriptionFakeConfig) -> Heard | None:
    """Decode the audio and map its sound; None when it does not decode as audio."""
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.audio:
                return None
            resampler = av.AudioResampler(format="s16", layout="mono", rate=_RATE)
            loud: list[bool] = []
            pending = array.array("h")
            total = 0
            frames = container.decode(container.streams.audio[0])
            for frame in itertools.chain(frames, [None]):  # None flushes the resampler
                for converted in resampler.resample(frame):
                    pending.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
                    total += converted.samples
                    whole = len(pending) - len(pending) % _WINDOW
                    loud += _loudness(pending[:whole], config.silence_peak)
                    del pending[:whole]
            loud += _loudness(pending, config.silence_peak)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError):
        return None
    duration = total / _RATE
    return Heard(round(duration, 3), _stretches(loud, duration, config.min_silence_seconds))


def _loudness(samples: array.array[int], threshold: int) -> list[bool]:
    """One flag per 100 ms window (the last may be shorter): does its peak reach `threshold`?"""
    flags = []
    for at in range(0, len(samples), _WINDOW):
        window = samples[at : at + _WINDOW]
        flags.append(max(window) >= threshold or -min(window) >= threshold)
    return flags


def _stretches(
    loud: Sequence[bool], duration: float, gap: float
) -> tuple[tuple[float, float], ...]:
    """Runs of loud windows, joined across silences shorter than `gap` seconds."""
    runs: list[list[float]] = []
    for index, flag in enumerate(loud):
        if not flag:
            continue
        start, end = index * 0.1, min((index + 1) * 0.1, duration)
        if runs and start - runs[-1][1] < gap - 1e-9:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return tuple((round(a, 3), round(b, 3)) for a, b in runs)


class OpenAITranscriptionFake:
    """The fake's state: its script queue, pending faults and request log."""

    def __init__(self, config: TranscriptionFakeConfig | None = None) -> None:
        self.config = config or TranscriptionFakeConfig()
        self.scripts: list[Spoken] = []
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Back to the state the fake started in."""
        self.scripts.clear()
        self.faults.clear()
        self.requests.clear()

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        return {
            "scripts_queued": len(self.scripts),
            "faults": list(self.faults),
            "requests": list(self.requests),
        }

    def asgi(self) -> Starlette:
        """The ASGI app: the API at ``/v1/audio/transcriptions`` plus ``/_fake`` controls."""
        app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/_fake/state", self._state, methods=["GET"]),
                Route("/_fake/requests", self._requests, methods=["GET"]),
                Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
                Route("/_fake/script", self._script, methods=["GET", "POST", "DELETE"]),
            ],
            exception_handlers={HTTPException: self._framework_error},
        )
        app.router.redirect_slashes = False
        return app

    # -- the API ------------------------------------------------------------------------------

    async def _transcribe(self, request: Request) -> Response:
        entry: dict[str, Any] = {"method": "POST", "path": "/v1/audio/transcriptions"}
        self.requests.append(entry)
        form: FormData | None = None
        try:
            form, response = await self._answer(request, entry)
        except ApiError as exc:
            await _drain(request)
            response = exc.response()
            entry["error"] = exc.body["error"]["message"]
        finally:
            if form is not None:
                await form.close()
        entry["status"] = response.status_code
        response.headers["x-request-id"] = f"req_{len(self.requests):024x}"
        response.headers["openai-version"] = "2020-10-01"
        return response

    async def _answer(
        self, request: Request, entry: dict[str, Any]
    ) -> tuple[FormData | None, Response]:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        entry["authorized"] = False
        if scheme.lower() != "bearer" or not key.strip():
            raise missing_key()
        if key.strip() not in self.config.api_keys:
            raise wrong_key(key.strip())
        entry["authorized"] = True
        if self.faults:
            fault = self.faults.pop(0)
            raise injected(fault["status"], fault["retry_after"], fault.get("code"), "whisper-1")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(400, "Invalid Content-Type header (expected multipart/form-data)")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.config.max_content_bytes:
            raise too_large(int(declared), self.config.max_content_bytes)
        form = await self._form(request, entry)
        try:
            return form, await self._transcription(form, entry)
        except ApiError:
            await form.close()
            raise

    async def _form(self, request: Request, entry: dict[str, Any]) -> FormData:
        limit, read = self.config.max_content_bytes, 0

        async def counted() -> AsyncGenerator[bytes, None]:
            nonlocal read
            async for piece in request.stream():
                read += len(piece)
                if read > limit:
                    raise _TooLarge(read)
                yield piece

        parser = MultiPartParser(request.headers, counted(), max_files=4, max_fields=64)
        try:
            form = await parser.parse()
            request.state.body_read = True
        except _TooLarge as exc:
            raise too_large(exc.read, limit) from None
        except MultiPartException as exc:
            raise ApiError(400, f"Could not parse multipart form: {exc.message}") from None
        entry["bytes"] = read
        return form

    async def _transcription(self, form: FormData, entry: dict[str, Any]) -> Response:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        entry["fields"] = {k: form.getlist(k) if k.endswith("[]") else v for k, v in fields.items()}
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                400,
                "1 validation error for Request\nbody -> file\n  field required "
                "(type=value_error.missing)",
            )
        entry["filename"] = upload.filename
        model = form.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "you must provide a model parameter")
        entry["model"] = model
        if model not in MODELS:
            raise ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        unknown = sorted(set(form.keys()) - FIELDS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}")
        response_format, granularities = self._formats(form, model)
        entry["response_format"] = response_format
        language = _language(form.get("language"))
        _temperature(form.get("temperature"))
        suffix = PurePath(upload.filename or "").suffix.lower().lstrip(".")
        if suffix not in FILE_FORMATS:
            raise ApiError(400, f"Invalid file format. Supported formats: {list(FILE_FORMATS)!r}")
        await upload.seek(0)
        heard = await run_in_threadpool(hear, upload.file, self.config)
        if heard is None:
            raise undecodable()
        entry["duration"] = heard.duration
        if heard.duration < MIN_SECONDS:
            raise ApiError(
                400,
                f"Audio file is too short. Minimum audio length is {MIN_SECONDS} seconds.",
                param="file",
                code="audio_too_short",
            )
        if model not in TIMED_MODELS and heard.duration > self.config.untimed_max_seconds:
            raise ApiError(
                400,
                f"audio duration {heard.duration} seconds is longer than "
                f"{self.config.untimed_max_seconds:g} seconds which is the maximum for this model",
                code="invalid_value",
            )
        if self.scripts:
            spoken = self.scripts.pop(0)
        else:
            spoken = generated(heard.speech, heard.duration, self.config.words_per_segment)
        spoken = Spoken(
            spoken.segments,
            LANGUAGES[language] if language else spoken.language,
            heard.duration,  # measured, as the real API bills it, whatever a script says
            spoken.words,
        )
        return render(spoken, response_format, model, granularities)

    def _formats(self, form: FormData, model: str) -> tuple[str, list[str]]:
        response_format = form.get("response_format") or "json"
        if not isinstance(response_format, str) or response_format not in RESPONSE_FORMATS:
            raise not_one_of(str(response_format), RESPONSE_FORMATS, "response_format")
        if model not in TIMED_MODELS and response_format not in UNTIMED_FORMATS:
            raise ApiError(
                400,
                f"response_format '{response_format}' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.",
                param="response_format",
                code="unsupported_value",
            )
        granularities = [str(g) for g in form.getlist("timestamp_granularities[]")]
        for value in granularities:
            if value not in GRANULARITIES:
                raise not_one_of(value, GRANULARITIES, "timestamp_granularities[]")
        if granularities and response_format != "verbose_json":
            # The reference: "response_format must be set verbose_json to use timestamp
            # granularities"; the fake holds a client to it rather than ignore the field.
            raise ApiError(
                400,
                "timestamp_granularities[] is only supported with response_format "
                f"'verbose_json', not '{response_format}'.",
                param="timestamp_granularities[]",
                code="unsupported_value",
            )
        return response_format, granularities

    # -- controls -----------------------------------------------------------------------------

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _faults(self, request: Request) -> Response:
        """POST ``{"status": 429|500|503, "count": N, "retry_after": s, "code"?}`` makes the next
        N authorized requests fail so (code "insufficient_quota" makes a 429 a spent quota)."""
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            queued = queued_faults(body)
            if isinstance(queued, str):
                return JSONResponse({"error": queued}, 400)
            self.faults += queued
        return JSONResponse({"faults": self.faults})

    async def _script(self, request: Request) -> Response:
        """POST queues one script (``{"segments": [...], "language"?}``) for the
        next transcription; GET shows how many wait; DELETE drops them."""
        if request.method == "DELETE":
            self.scripts.clear()
        elif request.method == "POST":
            try:
                self.scripts.append(scripted(await request.json()))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"scripts_queued": len(self.scripts)})

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        await _drain(request)
        if exc.status_code == 405:
            return ApiError(405, f"Invalid method for URL ({where})").response()
        return ApiError(exc.status_code, f"Invalid URL ({where})").response()


async def _drain(request: Request) -> None:
    """Read what is left of the body, so an early answer does not become a reset."""
    if getattr(request.state, "body_read", False):
        return  # another receive() would wait for the client to hang up
    try:
        while True:
            message = await request.receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
    except ClientDisconnect:
        return


def _language(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in LANGUAGES:
        raise ApiError(
            400,
            f"Invalid language '{value}'. Language parameter must be specified in ISO-639-1 "
            "format.",
            param="language",
            code="invalid_language_format",
        )
    return value


def _temperature(value: Any) -> None:
    if value is None or value == "":
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise ApiError(
            400, f"{value!r} is not valid under any of the given schemas - 'temperature'",
            param="temperature",
        )  # fmt: skip


def create_transcription_app(config: TranscriptionFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = OpenAITranscriptionFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "SANDBOX_API_KEY",
    "Heard",
    "OpenAITranscriptionFake",
    "TranscriptionFakeConfig",
    "create_transcription_app",
    "hear",
]
