"""OpenAI's audio transcription API as the fake enforces it: models, formats, languages, the
error bodies, and the rendering of a transcript in each response format.

Written from OpenAI's API reference (`POST /v1/audio/transcriptions`) and the error bodies
users have reported, never from our client. The language table is the fake's own copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from crosspost.domain.transcripts import Segment, Word

MAX_CONTENT_BYTES = 26_214_400  # "Maximum content size limit (26214400)": the whole body
MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
TIMED_MODELS = frozenset({"whisper-1"})
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
UNTIMED_FORMATS = ("json", "text")  # all the gpt-4o transcribe models answer
GRANULARITIES = ("word", "segment")
# The real error lists 'oga' beside the documented nine.
FILE_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
FIELDS = frozenset(
    {
        "file",
        "model",
        "language",
        "prompt",
        "response_format",
        "temperature",
        "timestamp_granularities[]",
        "include[]",
        "chunking_strategy",
        "stream",
    }
)
MIN_SECONDS = 0.1
UNTIMED_MAX_SECONDS = 1500.0
_WORD_LINE = (
    "the quick brown fox jumps over the lazy dog while seven bright stars shine above a "
    "quiet harbour where boats rest until morning light returns"
)
WORDS = tuple(_WORD_LINE.split())

_LANGUAGE_TABLE = (
    "en english, zh chinese, de german, es spanish, ru russian, ko korean, fr french, "
    "ja japanese, pt portuguese, tr turkish, pl polish, ca catalan, nl dutch, ar arabic, "
    "sv swedish, it italian, id indonesian, hi hindi, fi finnish, vi vietnamese, "
    "he hebrew, uk ukrainian, el greek, ms malay, cs czech, ro romanian, da danish, "
    "hu hungarian, ta tamil, no norwegian, th thai, ur urdu, hr croatian, bg bulgarian, "
    "lt lithuanian, la latin, mi maori, ml malayalam, cy welsh, sk slovak, te telugu, "
    "fa persian, lv latvian, bn bengali, sr serbian, az azerbaijani, sl slovenian, "
    "kn kannada, et estonian, mk macedonian, br breton, eu basque, is icelandic, "
    "hy armenian, ne nepali, mn mongolian, bs bosnian, kk kazakh, sq albanian, "
    "sw swahili, gl galician, mr marathi, pa punjabi, si sinhala, km khmer, sn shona, "
    "yo yoruba, so somali, af afrikaans, oc occitan, ka georgian, be belarusian, "
    "tg tajik, sd sindhi, gu gujarati, am amharic, yi yiddish, lo lao, uz uzbek, "
    "fo faroese, ht haitian creole, ps pashto, tk turkmen, nn nynorsk, mt maltese, "
    "sa sanskrit, lb luxembourgish, my myanmar, bo tibetan, tl tagalog, mg malagasy, "
    "as assamese, tt tatar, haw hawaiian, ln lingala, ha hausa, ba bashkir, jw javanese, "
    "su sundanese, yue cantonese"
)
LANGUAGES: dict[str, str] = {
    code: name
    for code, _, name in (pair.strip().partition(" ") for pair in _LANGUAGE_TABLE.split(","))
}


class ApiError(Exception):
    """An error answer in OpenAI's envelope: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = headers or {}

    def response(self) -> Response:
        """The error as the API sends it."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def missing_key() -> ApiError:
    """401 for a request without a Bearer key."""
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
        "field (with blank username) if you're accessing the API from your browser and are "
        "prompted for a username and password. You can obtain an API key from "
        "https://platform.openai.com/account/api-keys.",
    )


def wrong_key(key: str) -> ApiError:
    """401 for an unknown key, which the real message shows masked."""
    shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"
    return ApiError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def too_large(read: int, limit: int) -> ApiError:
    """413 once the body passes the limit (the real one is typed server_error)."""
    return ApiError(
        413,
        f"Maximum content size limit ({limit}) exceeded ({read} bytes read)",
        type="server_error",
    )


def not_one_of(value: str, allowed: Sequence[str], param: str) -> ApiError:
    """400 for an enum field with a value outside its enum."""
    return ApiError(400, f"{value!r} is not one of {list(allowed)!r} - {param!r}", param=param)


def undecodable() -> ApiError:
    """400 for a file whose audio does not decode."""
    return ApiError(400, "The audio file could not be decoded or its format is not supported.")


def injected(status: int, retry_after: int, code: str | None, model: str) -> ApiError:
    """The fault a test asked for: a rate limit, a spent quota, a 500 or an overload."""
    if status == 429 and code == "insufficient_quota":
        return ApiError(
            429,
            "You exceeded your current quota, please check your plan and billing details. "
            "For more information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type="insufficient_quota",
            code="insufficient_quota",
        )
    if status == 429:
        return ApiError(
            429,
            f"Rate limit reached for {model} in organization org-sandbox on requests per min "
            f"(RPM): Limit 50, Used 50, Requested 1. Please try again in {retry_after}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            type="requests",
            code="rate_limit_exceeded",
            headers={"retry-after": str(retry_after), "x-ratelimit-remaining-requests": "0"},
        )
    if status == 503:
        return ApiError(
            503, "The engine is currently overloaded, please try again later", type="server_error"
        )
    return ApiError(
        status,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


@dataclass
class Spoken:
    """What the fake "heard": segments with words, the language name, the audio's duration."""

    segments: list[Segment]
    language: str = "english"
    duration: float = 0.0
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole transcript as one line."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


def queued_faults(body: Any) -> list[dict[str, Any]] | str:
    """The faults a ``POST /_fake/faults`` body queues (``{"status": 429|500|503, "count",
    "retry_after", "code"?}``), or what is wrong with it; shared by OpenAI's fakes."""
    body = body if isinstance(body, dict) else {}
    status, count = body.get("status"), body.get("count", 1)
    retry_after, code = body.get("retry_after", 1), body.get("code")
    if status not in (429, 500, 503):
        return "status must be 429, 500 or 503"
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return "count must be a positive integer"
    if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
        return "retry_after must be an integer >= 0"
    if code not in (None, "insufficient_quota"):
        return "code may only be 'insufficient_quota'"
    return [{"status": status, "retry_after": retry_after, "code": code} for _ in range(count)]


def generated(speech: Sequence[tuple[float, float]], duration: float, per_segment: int) -> Spoken:
    """Words of WORDS, one every 0.4 s (each 0.3 s long) within each stretch of sound, in
    segments of at most `per_segment` words that never bridge a silence."""
    segments: list[Segment] = []
    count = 0
    for start, end in speech:
        words: list[Word] = []
        at = start
        while at + 0.05 < end:
            words.append(
                Word(round(at, 2), round(min(at + 0.3, end), 2), WORDS[count % len(WORDS)])
            )
            count += 1
            at += 0.4
        for first in range(0, len(words), per_segment):
            group = words[first : first + per_segment]
            text = " ".join(w.text for w in group)
            segments.append(Segment(group[0].start, group[-1].end, text, tuple(group)))
    return Spoken(segments, duration=duration, words=[w for s in segments for w in s.words])


def _clock(seconds: float, mark: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{mark}{millis:03d}"


def _segment_json(index: int, segment: Segment) -> dict[str, Any]:
    return {
        "id": index,
        "seek": int(segment.start * 100) // 3000 * 3000,  # Whisper reads 30 s windows
        "start": segment.start,
        "end": segment.end,
        "text": " " + segment.text.strip(),
        "tokens": [50364 + sum(map(ord, w)) % 1000 for w in segment.text.split()],
        "temperature": 0.0,
        "avg_logprob": -0.25,
        "compression_ratio": 1.3,
        "no_speech_prob": 0.01,
    }


def render(
    spoken: Spoken, response_format: str, model: str, granularities: Sequence[str]
) -> Response:
    """The transcription in the asked format, as the API sends it."""
    billed = {"type": "duration", "seconds": math.ceil(spoken.duration)}
    if response_format == "verbose_json":
        body: dict[str, Any] = {
            "task": "transcribe",
            "language": spoken.language,
            "duration": round(spoken.duration, 2),
            "text": spoken.text,
        }
        if "segment" in granularities or not granularities:
            body["segments"] = [_segment_json(i, s) for i, s in enumerate(spoken.segments)]
        if "word" in granularities:
            body["words"] = [{"word": w.text, "start": w.start, "end": w.end} for w in spoken.words]
        body["usage"] = billed
        return JSONResponse(body)
    if response_format == "json":
        if model in TIMED_MODELS:
            return JSONResponse({"text": spoken.text, "usage": billed})
        audio_tokens = max(1, round(spoken.duration * 10))
        text_tokens = len(spoken.text.split())
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": text_tokens,
            "total_tokens": audio_tokens + text_tokens,
        }
        return JSONResponse({"text": spoken.text, "usage": usage})
    if response_format == "text":
        return PlainTextResponse(spoken.text + "\n")
    cues = [s for s in spoken.segments if s.text.strip()]
    if response_format == "srt":
        blocks = [
            f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
            for i, s in enumerate(cues, start=1)
        ]
        return PlainTextResponse("\n".join(blocks) + "\n")
    blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in cues]
    return PlainTextResponse("WEBVTT\n\n" + "\n".join(blocks) + "\n")


def scripted(body: Any) -> Spoken:
    """A script from ``POST /_fake/script``; raises ValueError saying what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("segments"), list):
        raise ValueError('the script is {"segments": [{"start", "end", "text", "words"?}]}')
    language = body.get("language", "english")
    if not isinstance(language, str) or not language:
        raise ValueError("language must be a language name such as 'english'")
    segments: list[Segment] = []
    for index, item in enumerate(body["segments"]):
        where = f"segments[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"{where} needs a text string")
        start, end = _times(item, where)
        words: list[Word] = []
        for k, word in enumerate(item.get("words") or []):
            if not isinstance(word, dict) or not isinstance(word.get("word"), str):
                raise ValueError(f"{where}.words[{k}] needs a word string")
            word_start, word_end = _times(word, f"{where}.words[{k}]")
            words.append(Word(word_start, word_end, word["word"]))
        segments.append(Segment(start, end, item["text"], tuple(words)))
    return Spoken(segments, language, 0.0, [w for s in segments for w in s.words])


def _times(item: dict[str, Any], where: str) -> tuple[float, float]:
    start, end = (
        _seconds(item.get("start"), f"{where}.start"),
        _seconds(item.get("end"), f"{where}.end"),
    )
    if end < start:
        raise ValueError(f"{where} ends before it starts")
    return float(start), float(end)


def _seconds(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where} must be a non-negative number")
    return float(value)
