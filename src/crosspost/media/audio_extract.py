"""A source's audio track as compact speech audio (mono 16 kHz Opus in Ogg), in pieces of at
most a given length, for services that take files of limited size (OpenAI's 25 MB).

One pass: the first audio stream is decoded, downmixed and resampled to 16 kHz mono (what
speech models use anyway), and written to one Ogg file after another, each starting exactly
where the last one stopped, so a transcript of piece k is moved by `start` and nothing more.
At 24 kbit/s an hour of speech is about 11 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.container
import av.error

from crosspost.errors import InvalidInput

SAMPLE_RATE = 16_000
BIT_RATE = 24_000
SUFFIX = ".ogg"
CONTENT_TYPE = "audio/ogg"
_READ_SAMPLES = 3_200  # 200 ms: a boundary is never more than one read away


@dataclass(frozen=True)
class AudioPiece:
    """One written piece: its file and where it sits in the source (seconds)."""

    path: Path
    start: float
    duration: float

    @property
    def end(self) -> float:
        """Where the piece stops in the source."""
        return self.start + self.duration


def seconds_per_piece(max_bytes: int, *, bit_rate: int = BIT_RATE, margin: float = 0.85) -> float:
    """The longest piece whose audio stays under `max_bytes` with room to spare: the Ogg pages
    add ~3 % to the constant Opus rate, and the upload's form fields need a little more."""
    return max(1.0, max_bytes * 8 * margin / bit_rate)


def extract_speech(
    source: Path,
    folder: Path,
    *,
    piece_seconds: float | None = None,
    bit_rate: int = BIT_RATE,
) -> list[AudioPiece]:
    """Write `source`'s audio into `folder` as `speech-000.ogg`, `speech-001.ogg`…, each at
    most `piece_seconds` long (one piece when None). Raises InvalidInput with code
    `media_no_audio` when there is no audio track, `media_unreadable` when it does not decode.
    """
    if piece_seconds is not None and piece_seconds <= 0:
        raise ValueError("piece_seconds must be positive")
    limit = None if piece_seconds is None else max(1, round(piece_seconds * SAMPLE_RATE))
    try:
        with av.open(str(source)) as container:
            if not container.streams.audio:
                raise InvalidInput(
                    f"{source.name} has no audio track to transcribe: upload a file with sound",
                    code="media_no_audio",
                )
            return _write_pieces(container, folder, limit, bit_rate)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"the audio of {source.name} could not be decoded ({exc}): upload a video or audio "
            "file that plays",
            code="media_unreadable",
        ) from exc


class _PieceWriter:
    """The Ogg file being written and how many samples it holds."""

    def __init__(self, path: Path, bit_rate: int) -> None:
        self.path = path
        self.samples = 0
        self.out = av.open(str(path), mode="w", format="ogg")
        # Constant bit rate: Opus's default VBR spends up to half again as much on tonal
        # sound (music beds, hum), and a piece's size must be known before it is written.
        stream = self.out.add_stream(
            "libopus", rate=SAMPLE_RATE, bit_rate=bit_rate, options={"vbr": "off"}
        )
        if not isinstance(stream, av.audio.stream.AudioStream):
            raise TypeError("libopus is not an audio encoder")
        stream.layout = "mono"
        self.stream = stream

    def write(self, frame: av.AudioFrame) -> None:
        frame.pts = self.samples
        frame.time_base = Fraction(1, SAMPLE_RATE)
        frame.sample_rate = SAMPLE_RATE
        self.out.mux(self.stream.encode(frame))
        self.samples += frame.samples

    def close(self) -> None:
        self.out.mux(self.stream.encode(None))
        self.out.close()


def _write_pieces(
    container: av.container.InputContainer, folder: Path, limit: int | None, bit_rate: int
) -> list[AudioPiece]:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    fifo = av.AudioFifo()
    pieces: list[AudioPiece] = []
    origin: float | None = None
    writer: _PieceWriter | None = None
    written = 0  # samples in finished pieces

    def drain(final: bool) -> None:
        nonlocal writer, written
        while True:
            if writer is None:
                writer = _PieceWriter(folder / f"speech-{len(pieces):03d}{SUFFIX}", bit_rate)
            room = _READ_SAMPLES if limit is None else min(_READ_SAMPLES, limit - writer.samples)
            frame = fifo.read(room, partial=final)
            if frame is None:
                return
            writer.write(frame)
            if limit is not None and writer.samples >= limit:
                finish()

    def finish() -> None:
        nonlocal writer, written
        assert writer is not None
        writer.close()
        start = (origin or 0.0) + written / SAMPLE_RATE
        pieces.append(AudioPiece(writer.path, start, writer.samples / SAMPLE_RATE))
        written += writer.samples
        writer = None

    zero = (container.start_time or 0) / 1_000_000  # the source's own first timestamp
    for frame in container.decode(stream):
        if origin is None:
            # Audio that starts after the source's zero (a late track beside video) keeps its
            # place on the source's timeline, where the transcript's times must point.
            origin = max(0.0, float(frame.time or 0.0) - zero)
        for converted in resampler.resample(frame):
            converted.pts = None  # the fifo would otherwise insist on gapless timestamps
            fifo.write(converted)
        drain(final=False)
    for converted in resampler.resample(None):
        converted.pts = None
        fifo.write(converted)
    drain(final=True)
    if writer is not None and writer.samples:
        finish()
    elif writer is not None:
        writer.out.close()
        writer.path.unlink(missing_ok=True)
    if not pieces:
        raise InvalidInput(
            "the audio track holds no samples: upload a file with sound", code="media_no_audio"
        )
    return pieces


__all__ = [
    "BIT_RATE",
    "CONTENT_TYPE",
    "SAMPLE_RATE",
    "SUFFIX",
    "AudioPiece",
    "extract_speech",
    "seconds_per_piece",
]
