"""Discord notifications of generated recaps: a job queued in the transaction that ends the
generation (so no recap goes unannounced when a process dies), posting one message through
the pipeline's Discord webhook and keeping what came of it on the generation's job
(`result.discord`: `sent` with the message id, or `failed` with the reason).

Delivery is at least once: a worker killed after Discord took the message and before its
write is fenced in sends it again, as every webhook sender must.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.engine.services import Services
from crosspost.jobs import JobContext, Outcome
from crosspost.pipeline import pipelines
from crosspost.providers import discord
from crosspost.providers.errors import ProviderError
from crosspost.store import pipelines as pipeline_rows
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

KIND = "pipeline.notify.v1"
USERNAME = "crosspost"
_GREEN = 0x2EA043  # GitHub's "open pull request" green, for a recap that was proposed
_GREY = 0x6E7681
log = logging.getLogger("crosspost.pipeline")


def queue_discord(svc: Services, conn: Connection, task_id: str, pipeline: Row | None) -> None:
    """Queue the Discord message of a finished generation, in its transaction, when its
    pipeline has a Discord webhook."""
    if pipeline is None or pipeline["discord_webhook_url"] is None:
        return
    svc.jobs.enqueue(
        conn, KIND, {"task_id": task_id}, run_at=svc.clock.now(), dedupe_key=f"discord:{task_id}"
    )


def message(result: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The content and the embed announcing a generation's result."""
    post = result.get("post") or {}
    summary = result.get("summary") or {}
    pull = result.get("pull_request")
    title = str(post.get("title") or result.get("suggested_title") or "Recap")
    counts = (
        f"{summary.get('total_clips', 0)} clips · {summary.get('total_commits', 0)} commits · "
        f"{summary.get('total_prs', 0)} pull requests · {summary.get('total_issues', 0)} issues"
    )
    embed: dict[str, Any] = {
        "title": title,
        "description": counts,
        "color": _GREEN if pull else _GREY,
        "fields": [{"name": "Path", "value": str(post.get("path") or "-"), "inline": True}],
    }
    tags = result.get("suggested_tags") or []
    if tags:
        embed["fields"].append({"name": "Tags", "value": ", ".join(tags), "inline": True})
    if pull:
        embed["url"] = pull["url"]
        verb = "opened" if pull.get("created") else "updated"
        content = f"New recap: {title} (pull request #{pull['number']} {verb})"
    else:
        content = f"New recap: {title}"
    return content, embed


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Post a generation's Discord message once; keep the outcome on its job."""

    def handle(ctx: JobContext) -> Outcome:
        task_id = str(ctx.job.payload["task_id"])
        with svc.db.read() as conn:
            task = task_rows.get_any(conn, task_id)
            pipeline = pipeline_rows.find_pipeline(conn, task["subject_id"]) if task else None
        if task is None or pipeline is None or task["status"] != "succeeded":
            return ctx.done()  # the job expired, or the pipeline went: nobody to tell
        result = task["result"] or {}
        if (result.get("discord") or {}).get("status") == "sent":
            return ctx.done()
        url = pipelines.discord_webhook_url(svc.keyring, pipeline)
        if url is None:  # removed since: nothing to send
            return ctx.done()
        notifier = discord.DiscordNotifier(
            svc.http, api_base=svc.settings.discord_base(test_mode=pipeline["mode"] == "test")
        )
        content, embed = message(result)
        outcome: dict[str, Any]
        try:
            sent = notifier.send(url, content=content, embeds=[embed], username=USERNAME)
            outcome = {"status": "sent", "message_id": sent}
        except discord.InvalidWebhookURL as exc:
            outcome = {"status": "failed", "code": "invalid_discord_webhook", "message": str(exc)}
        except ProviderError as exc:
            if exc.retryable and ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with the job's backoff
            outcome = {"status": "failed", "code": exc.code, "message": exc.message}
        if outcome["status"] == "failed":
            log.warning("discord notification of %s failed: %s", task_id, outcome["code"])
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = task_rows.get_any(conn, task_id)
            if current is not None:
                kept = {**(current["result"] or {}), "discord": outcome}
                task_rows.set_result(conn, task_id, kept)
        return ctx.done()

    return handle
