"""The TikTok fake's photo posts: `POST /v2/post/publish/content/init/` with media_type
PHOTO, whose photos TikTok fetches from verified URLs (PULL_FROM_URL only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crosspost.fakes.base import FakeConfig
from crosspost.fakes.tiktok_rules import check_post_info

PHOTOS_MAX = 35
TITLE_MAX = 90
DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class PhotoInit:
    """A valid photo init: what to post, the photos' URLs, and whether it is a draft."""

    post_info: dict[str, Any]
    urls: list[str]
    inbox: bool


def check_photo_init(body: dict[str, Any], config: FakeConfig) -> PhotoInit | tuple[int, str, str]:
    """The photo init `body` asks for, or TikTok's (status, code, message) refusal."""
    if body.get("media_type") != "PHOTO":
        return 400, "invalid_params", "media_type must be PHOTO."
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        return 400, "invalid_params", "post_mode must be DIRECT_POST or MEDIA_UPLOAD."
    inbox = mode == "MEDIA_UPLOAD"
    raw_info = body.get("post_info")
    if not isinstance(raw_info, dict):
        return 400, "invalid_params", "post_info is required."
    title, description = raw_info.get("title", ""), raw_info.get("description", "")
    if not isinstance(title, str) or len(title) > TITLE_MAX:
        return 400, "invalid_params", f"post_info.title must be a string of at most {TITLE_MAX}."
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        return (
            400,
            "invalid_params",
            f"post_info.description must be a string of at most {DESCRIPTION_MAX}.",
        )
    if inbox:
        post_info = dict(raw_info)
    else:
        rest = {
            k: v for k, v in raw_info.items() if k not in ("title", "description", "auto_add_music")
        }
        checked = check_post_info(rest, config)
        if isinstance(checked, tuple):
            return checked
        post_info = {**raw_info, **checked}
    source = body.get("source_info")
    if not isinstance(source, dict) or source.get("source") != "PULL_FROM_URL":
        return 400, "invalid_params", "source_info.source must be PULL_FROM_URL for photos."
    urls = source.get("photo_images")
    if (
        not isinstance(urls, list)
        or not 1 <= len(urls) <= PHOTOS_MAX
        or not all(isinstance(u, str) and u for u in urls)
    ):
        return 400, "invalid_params", f"photo_images must list 1 to {PHOTOS_MAX} URLs."
    cover = source.get("photo_cover_index", 0)
    if not isinstance(cover, int) or isinstance(cover, bool) or not 0 <= cover < len(urls):
        return 400, "invalid_params", "photo_cover_index must index photo_images."
    if not all(any(u.startswith(p) for p in config.tiktok_verified_url_prefixes) for u in urls):
        return (
            403,
            "url_ownership_unverified",
            "Please review our URL ownership verification rules.",
        )
    return PhotoInit(post_info, list(urls), inbox)
