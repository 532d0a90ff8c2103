"""A recap (seed 002's blog post): the content items of a date range that pass the filters
(never a rejected one), the GitHub activity of the range counted, a suggested title, tags
and score, and the post itself: YAML front matter and a Markdown body from the content
type's Jinja template (the tenant's own when it set one).

Deterministic: the same items and events make the same post, byte for byte, so proposing
it again changes nothing. Tenants' templates run in Jinja's sandbox.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crosspost.domain.content import GenerateRequest, Pagination, Summary
from crosspost.errors import InvalidInput
from crosspost.store import content_items as item_rows
from crosspost.store.rows import Row

MAX_ITEMS = 1000  # items one recap can be made of
_TEMPLATES = Path(__file__).parent / "templates"
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
_SLUG = re.compile(r"[^a-z0-9]+")


# Writes a recap's opening paragraph from its title, counts and items (as templates see them).
IntroWriter = Callable[[str, dict[str, int], list[dict[str, Any]]], str]


@dataclass(frozen=True)
class Recap:
    """What a generation request makes."""

    items: list[Row]  # every item used, in the request's order
    page: list[Row]  # the page of them the answer shows
    pagination: Pagination
    summary: Summary
    title: str
    tags: list[str]
    categories: list[str]
    score: float | None
    path: str
    markdown: str
    front_matter: dict[str, Any]


def builtin_template(content_type: str) -> str:
    """The built-in template of a kind of post."""
    return (_TEMPLATES / f"{content_type}.md.j2").read_text()


def check_template(text: str) -> None:
    """Refuse a template that does not parse, naming the line (422)."""
    try:
        _ENV.parse(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise InvalidInput(
            f"the template does not parse{where}: {exc.message}", code="template_invalid"
        ) from None


def select_items(conn: Any, tenant_id: str, request: GenerateRequest) -> list[Row]:
    """The items a recap is made of, in the request's order."""
    f = request.filters
    where = item_rows.ItemFilter(
        pipeline_id=request.pipeline_id,
        since=request.date_range.start,
        until=request.date_range.end,
        min_views=f.min_views,
        min_duration=f.min_duration,
        max_duration=f.max_duration,
        categories=f.categories or (),
        min_confidence=f.min_confidence,
        platform=f.platform,
        statuses=f.processing_status or ("ready_for_content",),
        reviews=("pending", "approved"),
    )
    found = item_rows.list_items(
        conn,
        tenant_id,
        where,
        sort=request.sort_by,
        descending=request.sort_order == "desc",
        after=None,
        limit=MAX_ITEMS,
    )
    if request.content_type == "topic_focus" and request.topic:
        topic = request.topic.lower()
        found = [i for i in found if _about(i, topic)]
    return found


def build(
    request: GenerateRequest,
    items: list[Row],
    events: Sequence[Mapping[str, Any]],
    contexts: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    template: str,
    path_pattern: str,
    intro: IntroWriter | None = None,
) -> Recap:
    """The recap of `items` and the range's `events` (`contexts`: each item's matched
    events, by item id), its body from `template` (with `intro` written from the title,
    counts and items the template is given, when a writer is)."""
    start = (request.page - 1) * request.limit
    page = items[start : start + request.limit]
    pages = max(1, math.ceil(len(items) / request.limit))
    pagination = Pagination(
        total_items=len(items),
        total_pages=pages,
        current_page=request.page,
        per_page=request.limit,
        has_next=request.page < pages,
        has_prev=request.page > 1,
    )
    summary = _summary(items, events)
    tags = _top(tag for i in items for tag in (i["content_tags"] or []))[:8]
    categories = _top(i["content_category"] for i in items if i["content_category"])
    scores = [i["content_score"] for i in items if i["content_score"] is not None]
    score = round(sum(scores) / len(scores), 1) if scores else None
    title = _title(request)
    path = _path(path_pattern, request)
    shown_items = [_shown(i, contexts.get(i["id"], ())) for i in items]
    front = {
        "title": title,
        "date": request.date_range.start.date().isoformat(),
        "tags": tags,
        "category": categories[0] if categories else "other",
        "clips": [
            {
                "id": i["clip_id"],
                "title": i["clip_title"],
                "url": i["clip_url"],
                "embed_url": i["clip_embed_url"],
            }
            for i in items
        ],
        "github": sorted({str(e["url"]) for e in events})[:50],
        "generator": "crosspost",
    }
    body = _render(
        template,
        {
            "title": title,
            "content_type": request.content_type,
            "topic": request.topic,
            "date_range": {"start": request.date_range.start, "end": request.date_range.end},
            "summary": summary.model_dump(),
            "items": shown_items,
            "events": [_event(e) for e in events],
            "tags": tags,
            "intro": intro(title, summary.model_dump(), shown_items) if intro else None,
        },
    )
    front_text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    markdown = f"---\n{front_text}---\n\n{body.strip()}\n"
    return Recap(
        items, page, pagination, summary, title, tags, categories, score, path, markdown, front
    )


def _render(template: str, variables: dict[str, Any]) -> str:
    try:
        return _ENV.from_string(template).render(**variables)
    except TemplateError as exc:
        raise InvalidInput(
            f"the template failed: {exc.message}; fix it with PUT "
            "/v1/content/templates/{content_type}",
            code="template_failed",
        ) from None


def _summary(items: Sequence[Row], events: Sequence[Mapping[str, Any]]) -> Summary:
    refs: dict[str, set[str]] = {"commit": set(), "pull_request": set(), "issue": set()}
    for event in events:
        if event["kind"] in refs:
            refs[event["kind"]].add(f"{event['repository']}#{event['ref']}")
    return Summary(
        total_clips=len(items),
        total_prs=len(refs["pull_request"]),
        total_commits=len(refs["commit"]),
        total_issues=len(refs["issue"]),
    )


def _top(values: Any) -> list[str]:
    counts = Counter(str(v) for v in values)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _title(request: GenerateRequest) -> str:
    start, end = request.date_range.start, request.date_range.end
    if request.content_type == "daily_recap":
        return f"Dev recap: {start:%A %-d %B %Y}"
    if request.content_type == "weekly_summary":
        return f"The week in dev: {start:%-d %B} to {end:%-d %B %Y}"
    return f"{request.topic}: what happened, {start:%-d %B} to {end:%-d %B %Y}"


def _path(pattern: str, request: GenerateRequest) -> str:
    date = request.date_range.start.date().isoformat()
    stem, dot, suffix = pattern.replace("{date}", date).rpartition(".")
    if not dot:
        stem, suffix = pattern.replace("{date}", date), "md"
    if request.content_type == "weekly_summary":
        stem += "-week"
    elif request.content_type == "topic_focus" and request.topic:
        stem += "-" + (_SLUG.sub("-", request.topic.lower()).strip("-") or "topic")
    return f"{stem}.{suffix}"


def _about(item: Mapping[str, Any], topic: str) -> bool:
    text = " ".join(
        [item["clip_title"], item["transcript_summary"] or "", item["github_summary"] or ""]
    ).lower()
    return topic in (t.lower() for t in item["content_tags"] or []) or topic in text


def _shown(item: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "clip_id": item["clip_id"],
        "title": item["clip_title"],
        "url": item["clip_url"],
        "embed_url": item["clip_embed_url"],
        "thumbnail_url": item["clip_thumbnail_url"],
        "views": item["clip_view_count"],
        "duration": item["clip_duration"],
        "created_at": item["clip_created_at"],
        "creator": item["creator_name"],
        "score": item["content_score"],
        "category": item["content_category"],
        "tags": list(item["content_tags"] or []),
        "transcript_summary": item["transcript_summary"],
        "github_summary": item["github_summary"],
        "events": [_event(e) for e in events],
    }


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    at = event["occurred_at"]
    return {
        "kind": event["kind"],
        "action": event["action"],
        "title": event["title"],
        "url": event["url"],
        "repository": event["repository"],
        "author": event["author"],
        "occurred_at": at.isoformat() if isinstance(at, datetime) else at,
    }
