"""Content items as the API shows them, reviewed, and their stored parts read back.

An item's large parts (its audio, transcript and GitHub context) live in media storage;
the API links them as its own authenticated URLs, so a link works exactly while the key
reading the item may.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.pipeline import ContentItemPublic, ItemError, Judgement
from crosspost.domain.transcripts import Transcript
from crosspost.engine.services import Services
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.media.storage import store_file
from crosspost.store import content_items as rows
from crosspost.store.rows import Row

SUMMARY_CHARS = 280

# The stored parts an item may have: the API's path segment and the column of its key.
PARTS: Mapping[str, str] = {
    "audio": "audio_key",
    "transcript": "transcript_key",
    "github-context": "github_context_key",
}
# What each part is served as.
PART_TYPES: Mapping[str, str] = {
    "audio": "audio/ogg",
    "transcript": "application/json",
    "github-context": "application/json",
}


def object_key(item: Mapping[str, Any], name: str) -> str:
    """An item's object keys are fixed: a retried step overwrites what it left."""
    return f"pipeline/{item['tenant_id']}/{item['id']}/{name}"


def scratch(svc: Services) -> Path:
    """The folder an item's files are put together in before they are stored."""
    folder = svc.settings.resolved_media_dir / ".pipeline"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_json(svc: Services, key: str, document: Any) -> tuple[str, int]:
    """Store a JSON document at `key`; its key and size."""
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    with tempfile.NamedTemporaryFile(dir=scratch(svc), suffix=".json") as fh:
        fh.write(data)
        fh.flush()
        stored = store_file(svc.storage, Path(fh.name), key)
    return stored.key, stored.size


def read_json(svc: Services, key: str) -> Any:
    """A JSON document from storage."""
    with svc.storage.open(key) as fh:
        return json.loads(fh.read())


def summary_of(text: str) -> str:
    """The start of a transcript, as the item shows it."""
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def import_transcript(
    svc: Services, conn: Connection, tenant_id: str, item_id: str, transcript: Transcript
) -> Row:
    """Keep an imported transcript as the item's (the transcription API is then never asked
    for this clip); an item already past transcription goes back to `transcribed`, so the
    next run matches and judges it again with the new words."""
    row = get(conn, tenant_id, item_id)
    if transcript.segments and transcript.segments[0].start > row["clip_duration"]:
        raise InvalidInput(
            f"the transcript starts after the clip ends ({row['clip_duration']:.0f} s); "
            "import the file made for this clip",
            code="transcript_times",
        )
    key, size = store_json(svc, object_key(row, "transcript-imported.json"), transcript.to_json())
    values: dict[str, Any] = {
        "transcript_key": key,
        "transcript_size_bytes": size,
        "transcript_summary": summary_of(transcript.text),
        "transcript_origin": "imported",
        "updated_at": svc.clock.now(),
    }
    if row["processing_status"] in ("enhanced", "ready_for_content"):
        values |= {"processing_status": "transcribed", "content_ready_at": None, "error": None}
    rows.update_item(conn, item_id, values)
    return get(conn, tenant_id, item_id)


def part_url(svc: Services, item_id: str, part: str) -> str:
    """Where an item's stored part is read (with the caller's API key)."""
    return f"{svc.settings.base_url}/v1/content-items/{item_id}/{part}"


def public(svc: Services, row: Row) -> ContentItemPublic:
    """The API's view of an item row."""

    def url(part: str) -> str | None:
        return part_url(svc, row["id"], part) if row[PARTS[part]] else None

    fields: dict[str, Any] = {
        name: row[name]
        for name in (
            "pipeline_id", "clip_id", "clip_title", "clip_url", "clip_embed_url",
            "clip_thumbnail_url", "clip_duration", "clip_view_count", "clip_created_at",
            "broadcaster_name", "creator_name", "platform", "processing_status", "media_id",
            "transcript_summary", "transcript_size_bytes", "transcript_origin", "github_summary",
            "github_context_size_bytes", "match_confidence", "content_score", "content_tags",
            "content_category", "review", "stored_at", "enhanced_at", "content_ready_at",
            "updated_at",
        )
    }  # fmt: skip
    return ContentItemPublic(
        content_item_id=row["id"],
        audio_file_url=url("audio"),
        transcript_url=url("transcript"),
        github_context_url=url("github-context"),
        judgement=Judgement.model_validate(row["judgement"]) if row["judgement"] else None,
        error=ItemError.model_validate(row["error"]) if row["error"] else None,
        **fields,
    )


def get(conn: Connection, tenant_id: str, item_id: str) -> Row:
    """A tenant's item; NotFound otherwise."""
    row = rows.get_item(conn, tenant_id, item_id)
    if row is None:
        raise NotFound(f"no content item {item_id}", code="content_item_not_found")
    return row


def review(svc: Services, conn: Connection, tenant_id: str, item_id: str, verdict: str) -> Row:
    """Approve or reject an item; a rejected item never reaches generated content. Only an
    item that finished processing can be reviewed (409 otherwise)."""
    row = get(conn, tenant_id, item_id)
    if row["processing_status"] != "ready_for_content":
        raise Conflict(
            f"content item {item_id} is {row['processing_status']}; review it once it is "
            "ready_for_content",
            code="content_item_not_ready",
        )
    rows.update_item(conn, item_id, {"review": verdict, "updated_at": svc.clock.now()})
    return get(conn, tenant_id, item_id)


def part_key(row: Mapping[str, Any], part: str) -> str:
    """The storage key of an item's part; NotFound when the item has none (yet)."""
    key = row[PARTS[part]]
    if not key:
        raise NotFound(
            f"content item {row['id']} has no {part} yet (it is {row['processing_status']})",
            code="content_item_part_missing",
        )
    return str(key)
