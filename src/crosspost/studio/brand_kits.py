"""Brand kits: created, changed (JSON Merge Patch) and deleted with every media item they
name checked, and mapped onto the renderer's `BrandKit` and `CaptionStyle`.

A kit holds its media against deletion: creating or changing one reads each item it names
with the row held (as a post being written does), and deleting media refuses while a kit
names it (`engine.media_library`). A kit named by a project is not deleted either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.brand_kits import (
    BrandKitCreate,
    BrandKitPatch,
    BrandKitPublic,
)
from crosspost.domain.enums import MediaKind
from crosspost.domain.media_items import MediaStatus
from crosspost.engine.post_edits import merge_patch
from crosspost.errors import Conflict, InvalidInput, NotFound, Problems, a_or_an
from crosspost.ids import new_id
from crosspost.store import brand_kits as store
from crosspost.store import media
from crosspost.store.rows import Row
from crosspost.studio.render_spec import BrandKit, CaptionStyle, Watermark

MEDIA_FIELDS = ("logo_media_id", "intro_media_id", "outro_media_id")
SETTINGS = ("logo", "colors", "caption_style")
LOGO_MIN_SIDE = 32
LOGO_MAX_SIDE = 4096
MAX_BUMPER_SECONDS = 10.0
# A 10 s export often probes a few hundredths longer (the audio encoder's priming samples
# and last frame's length count); such a file is still "10 s" to whoever made it.
_BUMPER_SLACK = 0.1
_SHOWN = 5


def create_kit(conn: Connection, *, tenant_id: str, body: BrandKitCreate, now: datetime) -> Row:
    """Check a new kit's media (422 naming each bad field) and store it, in the caller's
    write transaction; the stored row."""
    fields = body.model_dump()
    problems = Problems()
    for name in MEDIA_FIELDS:
        _check_media(conn, tenant_id, name, fields[name], problems)
    problems.raise_found()
    row: Row = {"id": new_id("bk"), "tenant_id": tenant_id, **fields,
                "created_at": now, "updated_at": now}  # fmt: skip
    store.insert_kit(conn, row)
    return row


def get_kit(conn: Connection, *, tenant_id: str, kit_id: str, lock: bool = False) -> Row:
    """A tenant's brand kit, or 404."""
    row = store.get_kit(conn, tenant_id, kit_id, lock=lock)
    if row is None:
        raise NotFound(f"no brand kit {kit_id!r}", code="brand_kit_not_found")
    return row


def patch_kit(
    conn: Connection, *, tenant_id: str, kit_id: str, patch: BrandKitPatch, now: datetime
) -> Row:
    """Apply a merge patch in the caller's write transaction: media it newly names are
    checked (422 naming each bad field); the row as it now stands."""
    row = get_kit(conn, tenant_id=tenant_id, kit_id=kit_id, lock=True)
    changes = patch.changes()
    if not changes:
        raise InvalidInput(
            "the patch changes nothing: give at least one field to change", code="empty_edit"
        )
    problems = Problems()
    if "name" in changes and changes["name"] is None:
        with problems.at("name"):
            raise InvalidInput(
                "name cannot be null; give 1 to 200 characters", code="name_required"
            )
    merged = merged_fields(row, changes)
    for name in MEDIA_FIELDS:
        if merged[name] != row[name]:
            _check_media(conn, tenant_id, name, merged[name], problems)
    problems.raise_found()
    changed = {k: v for k, v in merged.items() if v != row[k]}
    if changed:
        store.update_kit(conn, kit_id, {**changed, "updated_at": now})
        row = {**row, **changed, "updated_at": now}
    return row


def merged_fields(row: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A kit's fields with `changes` merged in (RFC 7396), defaults where a null removed a
    setting; a null `caption_style.highlight_color` stays null (no highlighting)."""
    current = {name: row[name] for name in BrandKitCreate.model_fields}
    # A null name is refused by the caller; here it only must not remove the name.
    kept = {k: v for k, v in changes.items() if k != "name" or v is not None}
    merged = merge_patch(current, kept)
    style_changes = changes.get("caption_style") or {}
    if "highlight_color" in style_changes and style_changes["highlight_color"] is None:
        merged["caption_style"]["highlight_color"] = None
    # The stored settings are complete and valid, so are the patch's: this only fills in
    # the defaults of what a null removed.
    return BrandKitCreate.model_validate(merged).model_dump()


def delete_kit(conn: Connection, *, tenant_id: str, kit_id: str) -> None:
    """Delete a brand kit in the caller's write transaction; 409 `brand_kit_in_use` naming
    the projects that still use it."""
    get_kit(conn, tenant_id=tenant_id, kit_id=kit_id, lock=True)
    using = store.projects_using(conn, tenant_id, kit_id)
    if using:
        shown = ", ".join(using[:_SHOWN]) + (" …" if len(using) > _SHOWN else "")
        raise Conflict(
            f"{len(using)} project(s) use this brand kit ({shown}); give them another kit or "
            "none, then delete it",
            code="brand_kit_in_use",
        )
    store.delete_kit(conn, kit_id)


def public(row: Mapping[str, Any]) -> BrandKitPublic:
    """A stored kit as the API shows it."""
    return BrandKitPublic.model_validate(dict(row))


def media_ids(row: Mapping[str, Any]) -> list[str]:
    """The media a kit needs to render (logo, intro, outro; each once), for the render job
    to resolve to local files."""
    found: list[str] = []
    for name in MEDIA_FIELDS:
        media_id = row.get(name)
        if media_id is not None and media_id not in found:
            found.append(media_id)
    return found


def render_brand(
    row: Mapping[str, Any], paths: Mapping[str, Path]
) -> tuple[BrandKit, CaptionStyle]:
    """A stored kit as the renderer's brand and caption style; `paths` maps each of
    `media_ids(row)` to its local file (a missing one is the caller's bug: LookupError)."""

    def path(name: str) -> Path | None:
        media_id = row.get(name)
        if media_id is None:
            return None
        if media_id not in paths:
            raise LookupError(
                f"brand kit {row.get('id')} needs media {media_id} ({name}) but no local path "
                "was given for it: resolve every id of media_ids(row)"
            )
        return paths[media_id]

    logo_settings = row["logo"]
    logo_path = path("logo_media_id")
    logo = (
        Watermark(
            logo_path,
            corner=logo_settings["position"],
            scale=logo_settings["scale"],
            opacity=logo_settings["opacity"],
            margin=logo_settings["margin"],
        )
        if logo_path is not None
        else None
    )
    brand = BrandKit(
        logo=logo,
        intro=path("intro_media_id"),
        outro=path("outro_media_id"),
        background_color=row["colors"]["background"],
    )
    style = row["caption_style"]
    captions = CaptionStyle(
        font_size=style["font_size"],
        color=style["color"],
        outline_color=style["outline_color"],
        outline_width=style["outline_width"],
        position=style["position"],
        max_chars_per_line=style["max_chars_per_line"],
        max_lines=style["max_lines"],
        highlight_color=style["highlight_color"],
    )
    return brand, captions


def _check_media(
    conn: Connection, tenant_id: str, field: str, media_id: str | None, problems: Problems
) -> None:
    """Refuse into `problems` a media item the field cannot use: missing, not ready, of the
    wrong kind, or out of bounds. A usable one is held against deletion until commit."""
    if media_id is None:
        return
    with problems.at(field):
        row = media.get_media(conn, tenant_id, media_id, hold=True)
        if row is None:
            raise InvalidInput(
                f"{field}: no media {media_id!r} in your library; upload it with POST /v1/media "
                "and give its id",
                code="media_not_found",
            )
        _check_ready(field, row)
        if field == "logo_media_id":
            _check_logo(row)
        else:
            _check_bumper(field, row)


def _check_ready(field: str, row: Row) -> None:
    status = row.get("status") or MediaStatus.READY.value
    if status == MediaStatus.FETCHING.value:
        raise InvalidInput(
            f"{field}: media {row['id']} is still being fetched from its URL; give it once "
            f"GET /v1/media/{row['id']} shows status ready",
            code="media_not_ready",
        )
    if status != MediaStatus.READY.value:
        raise InvalidInput(
            f"{field}: media {row['id']} failed and can never be used ({row.get('error_code')}: "
            f"{row.get('error_message')}); add the file again and give the new id",
            code="media_not_ready",
        )


def _check_logo(row: Row) -> None:
    if row["kind"] != MediaKind.IMAGE.value:
        raise InvalidInput(
            f"logo_media_id: media {row['id']} is {_kind(row)}; a logo must be an image "
            "(PNG with or without transparency, JPEG, WebP…)",
            code="wrong_media_kind",
        )
    width, height = row["width"] or 0, row["height"] or 0
    if min(width, height) < LOGO_MIN_SIDE:
        raise InvalidInput(
            f"logo_media_id: media {row['id']} is {width}x{height} px; a logo must be at least "
            f"{LOGO_MIN_SIDE}x{LOGO_MIN_SIDE}: upload a larger image",
            code="logo_too_small",
        )
    if max(width, height) > LOGO_MAX_SIDE:
        raise InvalidInput(
            f"logo_media_id: media {row['id']} is {width}x{height} px; a logo must be at most "
            f"{LOGO_MAX_SIDE}x{LOGO_MAX_SIDE}: scale it down and upload it again",
            code="logo_too_large",
        )


def _check_bumper(field: str, row: Row) -> None:
    what = "an intro" if field == "intro_media_id" else "an outro"
    if row["kind"] != MediaKind.VIDEO.value:
        raise InvalidInput(
            f"{field}: media {row['id']} is {_kind(row)}; {what} must be a video",
            code="wrong_media_kind",
        )
    seconds = row["duration_seconds"]
    if seconds is None or seconds > MAX_BUMPER_SECONDS + _BUMPER_SLACK:
        length = f"lasts {seconds:.2f} s" if seconds is not None else "has no known length"
        raise InvalidInput(
            f"{field}: media {row['id']} {length}; {what} lasts at most "
            f"{MAX_BUMPER_SECONDS:g} s: trim it and upload it again",
            code="bumper_too_long",
        )


def _kind(row: Row) -> str:
    return a_or_an(row["kind"] or "unknown kind")
