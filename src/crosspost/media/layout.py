"""Where a media file's own structure says it ends, checked against where the file ends.

A cut-off upload (an interrupted copy, a half-synced phone file) often still opens and even
reports its full duration, because the headers that say so survived the cut. Each check here
reads a few headers, seeking past bodies, so its cost does not grow with the media data
(a JPEG's entropy-coded data is the one thing scanned). Bytes after the point where the
structure ends (tags, padding, appended junk) are not a fault: players ignore them too.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from crosspost.errors import InvalidInput

TRUNCATED_ADVICE = "upload the complete file (an interrupted copy or download leaves it like this)"

_MAX_TOP_LEVEL_BOXES = 64  # a real mp4 has a handful; more means we are not reading mp4
# Top-level ISO BMFF boxes a muxer writes; anything else after them is trailing data.
_ISO_TOP_LEVEL = frozenset(
    {
        b"ftyp", b"styp", b"moov", b"mdat", b"moof", b"mfra", b"free", b"skip", b"wide",
        b"uuid", b"meta", b"sidx", b"ssix", b"prft", b"emsg", b"pdin", b"udta", b"pnot",
    }
)  # fmt: skip
_ISO_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip"})  # files with no ftyp
_EBML_HEADER, _EBML_SEGMENT = 0x1A45DFA3, 0x18538067
_UNKNOWN_RIFF_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put before they know the size
_FRAME_TAIL = 32 * 1024  # several of the largest MPEG audio (2.9 KiB) or ADTS (8 KiB) frames
_FRAMES_TO_LOCK = 3  # consecutive frames that must chain before a sync word is believed
_OGG_MAX_PAGE = 27 + 255 + 255 * 255
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAY_FOLLOW_ID3 = frozenset({"audio/mpeg", "audio/aac", "audio/flac"})

# MPEG audio bitrates (kbit/s) by (MPEG-1?, layer) and index, and sample rates by version.
_MPEG_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def truncated(reason: str, **extra: Any) -> InvalidInput:
    """The `media_truncated` refusal: `reason` says what is missing, `extra` the figures."""
    return InvalidInput(
        f"the file is cut short: {reason}; {TRUNCATED_ADVICE}", code="media_truncated", **extra
    )


def short_by(claim: str, expected: int, actual: int) -> InvalidInput:
    """`media_truncated` for a structure that `claim`s (e.g. "its `mdat` box ends") to end
    at byte `expected` in a file of `actual` bytes."""
    return truncated(
        f"{claim} at byte {expected} but the file has {actual} bytes ({expected - actual} missing)",
        expected_bytes=expected,
        actual_bytes=actual,
    )


def magic_type(head: bytes) -> str | None:
    """The MIME type the first bytes of a file announce, or None when they announce none."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if head[4:8] in _ISO_FIRST_BOXES:  # old QuickTime files start straight with a box
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if ebml_doctype(head) == b"webm" else "video/x-matroska"
    if head.startswith((b"RIFF", b"RF64")) and len(head) >= 12:
        return {b"WAVE": "audio/wav", b"WEBP": "image/webp", b"AVI ": "video/x-msvideo"}.get(
            head[8:12]
        )
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(_PNG_SIGNATURE):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync; layer bits 00 mean an ADTS (AAC) header instead of MP3.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    return None


def ebml_doctype(head: bytes) -> bytes | None:
    """The EBML DocType ("webm" or "matroska") from the first bytes of a Matroska file."""
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:  # only one-byte sizes occur for such a short string
        return None
    size = size_byte & 0x7F
    return head[at + 3 : at + 3 + size]


def check_layout(path: Path) -> None:
    """Raise `media_truncated` when the file's structure runs past its end (or never ends)."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        start = _id3v2_end(fh)  # an ID3v2 tag may lead MP3, and (less properly) AAC or FLAC
        fh.seek(start)
        kind = magic_type(fh.read(64)) or ""
        if start and kind not in _MAY_FOLLOW_ID3:
            return
        check = _CHECKS.get(kind)
        if check is not None:
            check(fh, start, size)


def iso_boxes(fh: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int]]:
    """The top-level ISO BMFF boxes as (type, offset, declared end), reading headers only.

    Stops at a header cut short or a size smaller than a header (not ISO BMFF there).
    """
    offset = 0
    for _ in range(_MAX_TOP_LEVEL_BOXES):
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            return
        box_size, box_type = struct.unpack(">I4s", header)
        if box_size == 1:  # 64-bit "largesize" follows the type
            extended = fh.read(8)
            if len(extended) < 8:
                return
            (box_size,) = struct.unpack(">Q", extended)
        elif box_size == 0:  # box runs to end of file
            box_size = size - offset
        if box_size < 8:
            return
        yield box_type, offset, offset + box_size
        offset += box_size


def _check_iso(fh: BinaryIO, _start: int, size: int) -> None:
    for box_type, _, end in iso_boxes(fh, size):
        if box_type not in _ISO_TOP_LEVEL:
            return  # trailing data, not a box a muxer wrote
        if end > size:
            name = box_type.decode("latin-1")
            raise short_by(f"its `{name}` box ends", end, size)


def _read_vint(fh: BinaryIO, *, keep_marker: bool) -> tuple[int, bool] | None:
    """An EBML variable-length integer and whether it is all ones (an "unknown" size)."""
    first = fh.read(1)
    if not first or first[0] == 0:
        return None
    length = 9 - first[0].bit_length()
    rest = fh.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = int.from_bytes(first + rest, "big")
    data_bits = 7 * length
    payload = value & ((1 << data_bits) - 1)
    return (value if keep_marker else payload), payload == (1 << data_bits) - 1


def _check_matroska(fh: BinaryIO, _start: int, size: int) -> None:
    fh.seek(0)
    for _ in range(8):  # EBML header, maybe Void elements, then the Segment
        element = _read_vint(fh, keep_marker=True)
        length = _read_vint(fh, keep_marker=False)
        if element is None or length is None:
            return
        body, unknown = length
        if element[0] == _EBML_SEGMENT:
            end = fh.tell() + body
            if not unknown and end > size:  # a live recording leaves the size unknown
                raise short_by("its Matroska segment ends", end, size)
            return
        if unknown:
            return
        fh.seek(body, 1)


def _check_riff(fh: BinaryIO, _start: int, size: int) -> None:
    fh.seek(0)
    riff_id, riff_size, form = struct.unpack("<4sI4s", fh.read(12))
    if form != b"WAVE":  # WebP, AVI: the RIFF chunk is the file
        if riff_size not in _UNKNOWN_RIFF_SIZES and 8 + riff_size > size:
            raise short_by("its RIFF chunk ends", 8 + riff_size, size)
        return
    # A WAV's RIFF size is often stale; the data chunk's size is what players trust.
    offset, long_data_size = 12, None
    for _ in range(64):
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            return
        chunk_id, chunk_size = struct.unpack("<4sI", header)
        if chunk_id == b"ds64" and riff_id == b"RF64":  # RF64: 64-bit sizes live here
            sizes = fh.read(16)
            if len(sizes) == 16:
                long_data_size = struct.unpack("<QQ", sizes)[1]
        if chunk_id == b"data":
            if chunk_size == 0xFFFFFFFF and long_data_size is not None:
                chunk_size = long_data_size
            elif chunk_size in _UNKNOWN_RIFF_SIZES:
                return
            end = offset + 8 + chunk_size
            if end > size:
                raise short_by("its `data` chunk ends", end, size)
            return
        offset += 8 + chunk_size + (chunk_size & 1)


def _mpeg_frame_length(head: bytes) -> int | None:
    """The length of the MPEG audio frame whose 4-byte header is `head`, or None."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate_index, rate_index = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values, or free format (no length in the header)
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[mpeg1, layer][bitrate_index] * 1000
    rate = _MPEG_SAMPLE_RATES[version][rate_index]
    padding = (head[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if layer == 2 or mpeg1 else 72
    return per_frame * bitrate // rate + padding


def _adts_frame_length(head: bytes) -> int | None:
    """The length of the ADTS (AAC) frame whose header starts `head`, or None."""
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0:
        return None
    length = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
    return length if length >= 7 else None


def _frame_chain_end(
    fh: BinaryIO, size: int, frame_length: Callable[[bytes], int | None]
) -> int | None:
    """Where the last frame of a stream of self-sized frames ends, found in the file's tail.

    A sync word is believed once `_FRAMES_TO_LOCK` frames chain from it; the chain is then
    followed until something that is not a frame (a tag, junk) or the end of the file.
    """
    start = max(size - _FRAME_TAIL, 0)
    fh.seek(start)
    tail = fh.read()
    at = tail.find(b"\xff")
    while at >= 0:
        chain, position = 0, at
        while position < len(tail) and (length := frame_length(tail[position : position + 8])):
            chain, position = chain + 1, position + length
        if chain >= _FRAMES_TO_LOCK:
            return start + position
        at = tail.find(b"\xff", at + 1)
    return None


def _check_frames(
    fh: BinaryIO, size: int, what: str, frame_length: Callable[[bytes], int | None]
) -> None:
    end = _frame_chain_end(fh, size, frame_length)
    if end is not None and end > size:
        raise short_by(f"its last {what} frame ends", end, size)


def _id3v2_end(fh: BinaryIO) -> int:
    fh.seek(0)
    header = fh.read(10)
    if len(header) < 10 or not header.startswith(b"ID3"):
        return 0
    body = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    return 10 + body + (10 if header[5] & 0x10 else 0)


def _mp3_declared_bytes(fh: BinaryIO, start: int) -> int | None:
    """The stream length in bytes a Xing/Info or VBRI header in the first frame declares."""
    fh.seek(start)
    frame = fh.read(64)
    if _mpeg_frame_length(frame) is None:
        return None
    mpeg1, mono = (frame[1] >> 3) & 3 == 3, frame[3] >> 6 == 3
    xing_at = 4 + (17 if mono else 32) if mpeg1 else 4 + (9 if mono else 17)
    tag = frame[xing_at : xing_at + 16]
    if tag[:4] in (b"Xing", b"Info") and len(tag) == 16:
        flags = struct.unpack(">I", tag[4:8])[0]
        if flags & 2:  # the bytes field is present (after frames, when that is present)
            field = 12 if flags & 1 else 8
            return int(struct.unpack(">I", tag[field : field + 4])[0])
        return None
    if frame[36:40] == b"VBRI" and len(frame) >= 50:
        return int(struct.unpack(">I", frame[46:50])[0])
    return None


def _check_mp3(fh: BinaryIO, start: int, size: int) -> None:
    declared = _mp3_declared_bytes(fh, start)
    # Encoders disagree on whether this count includes a leading ID3v2 tag (LAME's older
    # releases do, FFmpeg does not), so only a count beyond the whole file is a shortfall.
    if declared is not None and declared > size:
        raise truncated(
            f"its Xing/VBRI header declares a stream of {declared} bytes but the file has {size} "
            "bytes",
            expected_bytes=declared,
            actual_bytes=size,
        )
    _check_frames(fh, size, "MPEG audio", _mpeg_frame_length)


def _check_adts(fh: BinaryIO, _start: int, size: int) -> None:
    _check_frames(fh, size, "AAC (ADTS)", _adts_frame_length)


def _check_ogg(fh: BinaryIO, _start: int, size: int) -> None:
    start = max(size - _OGG_MAX_PAGE, 0)
    fh.seek(start)
    tail = fh.read()
    at = tail.rfind(b"OggS\x00")
    if at < 0:
        return
    if at + 27 > len(tail) or at + 27 + tail[at + 26] > len(tail):
        raise truncated(f"its last Ogg page header is cut off at byte {size}", actual_bytes=size)
    segments = tail[at + 27 : at + 27 + tail[at + 26]]
    end = start + at + 27 + len(segments) + sum(segments)
    if end > size:
        raise short_by("its last Ogg page ends", end, size)
    if not tail[at + 5] & 0x04:
        raise truncated(
            f"its last Ogg page (ending at byte {end}) does not end the stream",
            actual_bytes=size,
        )


def _check_flac(fh: BinaryIO, start: int, size: int) -> None:
    offset = start + 4  # after "fLaC": metadata blocks, the last one flagged, then frames
    while True:
        fh.seek(offset)
        header = fh.read(4)
        if len(header) < 4:
            raise truncated(f"it ends at byte {size} inside its metadata", actual_bytes=size)
        end = offset + 4 + int.from_bytes(header[1:4], "big")
        if end > size:
            raise short_by(f"its FLAC metadata block (type {header[0] & 0x7F}) ends", end, size)
        offset = end
        if header[0] & 0x80:
            break
    if offset >= size:
        raise truncated(f"it ends at byte {size} before its first audio frame", actual_bytes=size)


def _check_png(fh: BinaryIO, _start: int, size: int) -> None:
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= size:
        fh.seek(offset)
        length, chunk_type = struct.unpack(">I4s", fh.read(8))
        end = offset + 12 + length  # length, type, data, CRC
        if end > size:
            raise short_by(f"its `{chunk_type.decode('latin-1')}` chunk ends", end, size)
        if chunk_type == b"IEND":
            return
        offset = end
    raise truncated(f"it ends at byte {size} before its IEND chunk", actual_bytes=size)


def _check_jpeg(fh: BinaryIO, _start: int, size: int) -> None:
    offset = 2
    while offset + 4 <= size:  # marker segments up to the first scan
        fh.seek(offset)
        marker, length = struct.unpack(">2sH", fh.read(4))
        if marker[0] != 0xFF:
            return  # not a structure we can follow: leave it to the decoder
        if marker[1] == 0xFF:  # a fill byte before the marker
            offset += 1
            continue
        offset += 2 + length
        if marker[1] == 0xDA:  # start of scan: entropy-coded data follows
            break
    else:
        raise truncated(f"it ends at byte {size} before its image data", actual_bytes=size)
    # Entropy-coded data escapes every 0xFF, so an end-of-image marker after the first scan
    # header is the image's own (embedded thumbnails sit in segments before it).
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.rfind(b"\xff\xd9", min(offset, size)) < 0:
            raise truncated(
                f"its image data stops at byte {size} with no end-of-image marker",
                actual_bytes=size,
            )


def _check_gif(fh: BinaryIO, _start: int, size: int) -> None:
    """Blocks after the screen descriptor, to the trailer byte; bodies are sub-block chains."""
    if size < 13:
        raise truncated(f"it ends at byte {size} inside its header", actual_bytes=size)
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = 13 + _gif_palette(data[10])
        while at < size:
            block = data[at]
            if block == 0x3B:  # trailer
                return
            if block == 0x21:  # extension: introducer, label, sub-blocks
                at += 2
            elif block == 0x2C:  # image: descriptor, palette, LZW code size, sub-blocks
                if at + 10 > size:
                    break
                at += 10 + _gif_palette(data[at + 9]) + 1
            else:
                return  # not a block we know: leave it to the decoder
            while at < size and data[at]:
                at += data[at] + 1
            at += 1  # the zero-length block that ends the chain
    raise truncated(f"it ends at byte {size} before its trailer", actual_bytes=size)


def _gif_palette(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


_CHECKS: dict[str, Callable[[BinaryIO, int, int], None]] = {
    "video/mp4": _check_iso,
    "audio/mp4": _check_iso,
    "video/quicktime": _check_iso,
    "video/webm": _check_matroska,
    "video/x-matroska": _check_matroska,
    "audio/wav": _check_riff,
    "image/webp": _check_riff,
    "video/x-msvideo": _check_riff,
    "audio/mpeg": _check_mp3,
    "audio/aac": _check_adts,
    "audio/ogg": _check_ogg,
    "audio/flac": _check_flac,
    "image/png": _check_png,
    "image/jpeg": _check_jpeg,
    "image/gif": _check_gif,
}
