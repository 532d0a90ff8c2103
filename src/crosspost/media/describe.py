"""A local file described as the server will find it once uploaded, so a post can be checked
(`POST /v1/posts/validate`) before minutes are spent uploading a file some platform refuses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from crosspost.domain.models import MediaDescription
from crosspost.media.probe import probe, sniff_content_type


def describe(path: Path, content_type: str | None = None) -> MediaDescription:
    """Probe `path` (InvalidInput when it is cut short or unreadable, as the upload would be)
    and describe it with its size and media type (`content_type` kept when it fits the bytes)."""
    found = probe(path)
    return MediaDescription(
        **asdict(found),
        size_bytes=path.stat().st_size,
        content_type=sniff_content_type(path, content_type),
    )
