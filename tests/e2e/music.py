"""What the music releases' e2e tests share: real WAV masters and JPEG artwork, uploaded
as media, and a release body with every field distributors want."""

from __future__ import annotations

import io
import math
import wave
from typing import Any

from PIL import Image

from tests.e2e.conftest import Stack

UPC = "036000291452"  # a published UPC-A, check digit 2
OTHER_UPC = "4006381333931"  # a published EAN-13


def wav(seconds: float = 2.0, *, rate: int = 44_100, bits: int = 16, gain: float = 0.5) -> bytes:
    """A stereo sine of `seconds` as a PCM WAV file; `gain` above 1 clips."""
    frames = bytearray()
    full = 2 ** (bits - 1) - 1
    for n in range(int(seconds * rate)):
        value = gain * math.sin(2 * math.pi * 440 * n / rate)
        sample = max(-full, min(full, round(value * full)))
        packed = sample.to_bytes(bits // 8, "little", signed=True)
        frames += packed * 2
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(bits // 8)
        file.setframerate(rate)
        file.writeframes(bytes(frames))
    return out.getvalue()


def jpeg(side: int = 3000, *, height: int | None = None) -> bytes:
    """A flat RGB JPEG `side` pixels wide (and `height` high, square by default)."""
    out = io.BytesIO()
    Image.new("RGB", (side, height or side), (30, 90, 160)).save(out, "JPEG", quality=70)
    return out.getvalue()


def upload(stack: Stack, data: bytes, content_type: str, name: str) -> str:
    """Upload a file as a media item; its id."""
    answer = stack.http.post(
        "/v1/media", content=data, headers={"Content-Type": content_type, "X-Filename": name}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def release_body(masters: list[str], artwork: str | None, **change: Any) -> dict[str, Any]:
    """A single of `masters` (one track each) with every field distributors want."""
    tracks = [
        {
            "media_id": media_id,
            "title": f"Song {n}",
            "isrc": f"us-s1z-26-0000{n}",
            "contributors": [{"name": "Ada Writer", "role": "composer"}],
            "explicit": n == 2,
            "preview_start_seconds": 0.5,
        }
        for n, media_id in enumerate(masters, start=1)
    ]
    return {
        "type": "single",
        "title": "First Light",
        "artists": [{"name": "The Examples"}, {"name": "Guest", "role": "featured"}],
        "label": "Example Records",
        "upc": UPC,
        "genre": "Electronic",
        "sub_genre": "Ambient",
        "language": "en",
        "p_line": {"year": 2026, "owner": "Example Records"},
        "c_line": {"year": 2026, "owner": "Example Records"},
        "territories": ["worldwide"],
        "artwork_media_id": artwork,
        "tracks": tracks,
        **change,
    }


def masters(stack: Stack) -> tuple[str, str, str]:
    """A 16-bit/44.1 kHz master, a 24-bit/48 kHz one, and the 3000 px artwork."""
    first = upload(stack, wav(), "audio/wav", "one.wav")
    second = upload(stack, wav(2.5, rate=48_000, bits=24), "audio/wav", "two.wav")
    return first, second, upload(stack, jpeg(), "image/jpeg", "cover.jpg")
