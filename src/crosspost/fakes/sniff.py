"""Which audio or image format a file holds, judged from its bytes as a platform judges an
upload: by its content, not by the part's Content-Type (``curl -F`` sends
``application/octet-stream`` for most files, other clients send none).

The audio signatures are those of the formats SoundCloud lists: AIFF, WAVE, FLAC, OGG, MP2,
MP3 (with or without ID3), AAC (ADTS or ADIF, or MP4 as M4A), AMR and WMA. Written from the
formats' own specifications, not from ``crosspost.media`` (a fake shares no code with the
clients it checks).
"""

from __future__ import annotations

HEAD_BYTES = 64 * 1024  # enough for an ASF header object or an Ogg first page

_ID3_HEADER = 10
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
# ASF stream-type GUIDs (as stored, little-endian fields) of audio and video streams.
_ASF_AUDIO = bytes.fromhex("409e69f84d5bcf11a8fd00805f5c442b")
_ASF_VIDEO = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# The first packet of an Ogg audio stream: Vorbis, Opus, FLAC-in-Ogg, Speex.
_OGG_AUDIO = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")
_ADTS_RATES = 13  # sampling-frequency indexes 0..12 are defined


def id3v2_size(head: bytes) -> int | None:
    """Bytes an ID3v2 tag at the start of ``head`` takes (header, body, footer), or None."""
    if len(head) < _ID3_HEADER or not head.startswith(b"ID3"):
        return None
    major, revision, flags, size = head[3], head[4], head[5], head[6:10]
    if major not in (2, 3, 4) or revision == 0xFF or any(b & 0x80 for b in size):
        return None
    body = (size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]
    footer = _ID3_HEADER if major == 4 and flags & 0x10 else 0
    return _ID3_HEADER + body + footer


def audio_format(head: bytes) -> str | None:
    """The audio format ``head`` (a file's first bytes, after any ID3v2 tag) starts, or None.

    An ID3v2 tag is not itself audio: skip it with ``id3v2_size`` and judge what follows.
    """
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg" if _ogg_is_audio(head) else None
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"ADIF"):
        return "aac"
    if head.startswith(_ASF_HEADER):
        return "wma" if _asf_is_audio(head) else None
    if head[4:8] == b"ftyp":
        return "m4a" if _mp4_is_audio(head) else None
    return _mpeg_audio(head)


def image_format(head: bytes) -> str | None:
    """``jpeg``, ``png`` or ``gif`` when ``head`` starts such an image, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def _ogg_is_audio(head: bytes) -> bool:
    """The first page's first packet names an audio codec (not Theora video)."""
    if len(head) < 27:
        return False
    packet = 27 + head[26]  # page header, then one lacing byte per segment
    return head[packet:].startswith(_OGG_AUDIO)


def _asf_is_audio(head: bytes) -> bool:
    """The ASF header object declares an audio stream and no video stream (WMA, not WMV)."""
    size = int.from_bytes(head[16:24], "little")
    header = head[: min(size, len(head))]
    return _ASF_AUDIO in header and _ASF_VIDEO not in header


def _mp4_is_audio(head: bytes) -> bool:
    """The ``ftyp`` box names an audio-only brand (M4A and kin) as major or compatible."""
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size > len(head):
        return False
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, size - 3, 4)]
    return any(brand in _M4A_BRANDS for brand in brands)


def _mpeg_audio(head: bytes) -> str | None:
    """An MPEG audio frame header (MP1/MP2/MP3) or an ADTS header (AAC) at the start."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    if layer == 0:
        # ADTS: a 12-bit sync, layer 00, and a defined sampling-frequency index.
        adts = head[1] & 0xF0 == 0xF0 and (head[2] >> 2) & 0x0F < _ADTS_RATES
        return "aac" if adts else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if version == 0b01 or bitrate == 0b1111 or rate == 0b11:
        return None  # reserved values: not a frame header
    return {0b01: "mp3", 0b10: "mp2", 0b11: "mp1"}[layer]
