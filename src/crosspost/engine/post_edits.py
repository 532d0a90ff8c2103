"""Editing a post: new text, options, schedule and destinations for the targets no worker
has started. A target already under way keeps the content it started with, and the answer
says which targets the edit did not reach and why.

Races with workers are settled by row locks and the post's revision: the edit locks the
post's targets (then the post, the order every worker transition takes), and a worker starts
a target only in a transaction that finds the post at the revision it loaded; when it does
not, the worker loads the post again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import Mode, Platform, TargetStatus
from crosspost.domain.models import PostEdit
from crosspost.engine import events, fit
from crosspost.engine.overrides import check_overrides, check_targeted
from crosspost.engine.posts import (
    check_thumbnails,
    media_item,
    post_violations,
    resolve_publish_at,
    resolve_targets,
    target_row,
)
from crosspost.engine.publish_jobs import dedupe_key, enqueue_publishes
from crosspost.engine.services import Services
from crosspost.engine.transitions import refresh_post_status, transition
from crosspost.errors import Conflict, InvalidInput, NotFound, Problems
from crosspost.ids import new_id
from crosspost.media.validate import MediaInfo
from crosspost.platforms.options import PlatformOptions
from crosspost.store import ledger, media, posts
from crosspost.store.rows import Row
from crosspost.store.usage import TENANT_TOTAL
from crosspost.usage import processing

# Statuses in which a target that no worker has started may wait.
_WAITING_TO_START = frozenset(
    {TargetStatus.SCHEDULED, TargetStatus.QUEUED, TargetStatus.NEEDS_REAUTH}
)
_SCHEDULABLE = frozenset({TargetStatus.SCHEDULED.value, TargetStatus.QUEUED.value})
_GONE = frozenset({TargetStatus.CANCELLED.value})


@dataclass
class EditOutcome:
    """What an edit changed and reached; `post` and `targets` are as they now stand."""

    post: Row
    targets: list[Row]
    changed: list[str]
    edited: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left_alone: list[dict[str, str]] = field(default_factory=list)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON Merge Patch (RFC 7396): objects merge key by key, null removes a key,
    anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def unstarted(target: Mapping[str, Any]) -> bool:
    """True while no worker has begun the target: an edit still reaches it."""
    return (
        TargetStatus(target["status"]) in _WAITING_TO_START
        and target["started_at"] is None
        and not target["session"]
    )


def edit_post(
    svc: Services, conn: Connection, *, tenant_id: str, post_id: str, body: PostEdit
) -> EditOutcome:
    """Apply `body` to every target it can still reach, in the caller's write transaction;
    422 when the edited post would break a platform's rules, 409 when it reaches no target."""
    return _Edit(svc, conn, tenant_id, post_id, body).apply()


class _Edit:
    def __init__(
        self, svc: Services, conn: Connection, tenant_id: str, post_id: str, body: PostEdit
    ) -> None:
        self.svc, self.conn, self.body = svc, conn, body
        self.now = svc.clock.now()
        self.tenant_id, self.post_id = tenant_id, post_id
        self.problems = Problems()
        self.fits: dict[int, fit.FitPlan] = {}  # added targets' variants (auto_fit), by index

    def apply(self) -> EditOutcome:
        post = posts.get_post(self.conn, self.tenant_id, self.post_id)
        if post is None:
            raise NotFound(f"no post {self.post_id!r}")
        given = self.body.model_fields_set - {"fold"}
        if not given:
            raise InvalidInput(
                "the edit changes nothing: give text, overrides, publish_at, add_targets or "
                "remove_targets",
                code="empty_edit",
            )
        # A worker holds its job's row, then writes its target: take them in that order too.
        known = posts.target_ids(self.conn, self.post_id)
        self.svc.jobs.lock(self.conn, [dedupe_key(t) for t in known])
        targets = posts.lock_targets(self.conn, self.post_id)
        new = self._new_values(post)
        changed = [name for name, value in new.items() if value != post[name]]
        content_changed = bool({"text", "overrides"} & set(changed))
        rescheduled = "publish_at" in self.body.model_fields_set
        outcome = EditOutcome(post, targets, changed)
        removing = self._removals(targets, outcome)
        adding = resolve_targets(
            self.conn,
            self.tenant_id,
            Mode(post["mode"]),
            self.body.add_targets,
            self.problems,
            field="add_targets",
        )
        self._refuse_duplicates(targets, adding)
        reached = [t for t in targets if t["id"] not in removing and unstarted(t)]
        reached_ids = {t["id"] for t in reached}
        if content_changed or rescheduled:
            for target in targets:
                if target["id"] in removing or target["id"] in reached_ids:
                    continue
                outcome.left_alone.append(_left_alone(target))
            outcome.edited = [t["id"] for t in reached]
        self._check_content(new, post, targets, removing, reached, adding)
        self.problems.raise_found()
        if not (outcome.edited or adding or removing):
            raise Conflict(
                "this edit reaches no target: every target is already publishing or finished "
                "and keeps what it started with",
                code="not_editable",
                left_alone=outcome.left_alone,
            )
        self._write(post, new, outcome, removing, adding, reached, content_changed, rescheduled)
        return outcome

    # -- reading the edit -----------------------------------------------------------------
    def _new_values(self, post: Row) -> dict[str, Any]:
        body, given = self.body, self.body.model_fields_set
        new: dict[str, Any] = {
            "text": post["text"],
            "overrides": post["overrides"],
            "publish_at": post["publish_at"],
            "timezone": post["timezone"],
        }
        if "text" in given:
            with self.problems.at("text"):
                if body.text is None:
                    raise InvalidInput(
                        'text cannot be null; send "" for no text', code="text_required"
                    )
                new["text"] = body.text
        if body.overrides is not None:
            new["overrides"] = merge_patch(post["overrides"], body.overrides)
        if "timezone" in given and "publish_at" not in given:
            with self.problems.at("timezone"):
                raise InvalidInput(
                    "timezone reads a local publish_at: give publish_at with it",
                    code="timezone_without_publish_at",
                )
        if "publish_at" in given:
            # A local time with no zone of its own is read in the post's stored zone.
            zone = body.timezone if "timezone" in given else None
            local = body.publish_at is not None and body.publish_at.tzinfo is None
            if zone is None and local:
                zone = post["timezone"]
            with self.problems.at("publish_at"):
                new["publish_at"] = resolve_publish_at(
                    body.model_copy(update={"timezone": zone}), self.now
                )
            if "timezone" in given or local:
                new["timezone"] = zone
        return new

    def _removals(self, targets: Sequence[Row], outcome: EditOutcome) -> set[str]:
        by_id = {t["id"]: t for t in targets}
        removing: set[str] = set()
        for index, target_id in enumerate(self.body.remove_targets):
            with self.problems.at(f"remove_targets[{index}]"):
                target = by_id.get(target_id)
                if target is None:
                    raise InvalidInput(
                        f"post {self.post_id} has no target {target_id!r}",
                        code="target_not_found",
                    )
                if target_id in removing:
                    raise InvalidInput(
                        f"target {target_id} is named twice in remove_targets",
                        code="duplicate_target",
                    )
                if TargetStatus(target["status"]).cancellable:
                    removing.add(target_id)
                else:
                    outcome.left_alone.append(_left_alone(target))
        return removing

    def _refuse_duplicates(self, targets: Sequence[Row], adding: Sequence[tuple[int, Row]]) -> None:
        present = {t["account_id"]: t for t in targets if t["status"] not in _GONE}
        for index, account in adding:
            existing = present.get(account["id"])
            if existing is None:
                continue
            with self.problems.at(f"add_targets[{index}]"):
                raise InvalidInput(
                    f"account {account['id']} already has target {existing['id']} on this post "
                    f"({existing['status']})"
                    + (
                        "; retry it instead"
                        if existing["status"] == TargetStatus.FAILED.value
                        else ""
                    ),
                    code="duplicate_target",
                )

    def _check_content(
        self,
        new: Mapping[str, Any],
        post: Row,
        targets: Sequence[Row],
        removing: set[str],
        reached: Sequence[Row],
        adding: Sequence[tuple[int, Row]],
    ) -> None:
        """The edited post must pass every rule of every target it reaches."""
        options: dict[Platform, PlatformOptions] | None = None
        with self.problems.at("overrides"):
            options = check_overrides(new["overrides"])
            check_thumbnails(self.conn, self.tenant_id, options)
        if options is None:
            return
        staying = [t["platform"] for t in targets if t["id"] not in removing]
        with self.problems.at("overrides"):
            check_targeted(options, [*staying, *(a["platform"] for _, a in adding)])
        several = post["media_ids"] or []
        items = [media_item(self.conn, self.tenant_id, m, hold=False) for m in several]
        row = media.get_media(self.conn, self.tenant_id, post["media_id"]) if not items else None
        info = MediaInfo.from_row(row) if row is not None else None
        # A target with a variant (or, with auto_fit, a new one) is held only to the rules
        # no render repairs.
        checks = [(f"targets.{t['id']}", t["platform"], t["fit"] is not None, -1) for t in reached]
        checks += [(f"add_targets[{i}]", a["platform"], post["auto_fit"], i) for i, a in adding]
        for where, name, fitted, index in checks:
            platform = Platform(name)
            violations = post_violations(platform, options.get(platform), info, items, new["text"])
            fitting = fit.fit_for(platform, info, items, violations) if fitted else None
            if fitting is not None:
                violations = []
                if index >= 0:
                    self.fits[index] = fitting
            if violations:
                with self.problems.at(where):
                    raise InvalidInput(
                        f"{platform.value}: " + "; ".join(v.message for v in violations),
                        code=violations[0].code,
                    )

    # -- writing it -----------------------------------------------------------------------
    def _write(
        self,
        post: Row,
        new: dict[str, Any],
        outcome: EditOutcome,
        removing: set[str],
        adding: Sequence[tuple[int, Row]],
        reached: Sequence[Row],
        content_changed: bool,
        rescheduled: bool,
    ) -> None:
        conn, now = self.conn, self.now
        if content_changed:
            # Started targets read the post at every step: they keep what they started with.
            keep = [
                t["id"]
                for t in outcome.targets
                if t["content"] is None and not unstarted(t) and t["id"] not in removing
            ]
            old = {"text": post["text"], "overrides": post["overrides"]}
            posts.set_targets(conn, keep, content=old)
        if outcome.changed:
            posts.update_post(conn, self.post_id, now, **{k: new[k] for k in outcome.changed})
        for target in outcome.targets:
            if target["id"] in removing:
                transition(
                    conn,
                    target,
                    now=now,
                    status=TargetStatus.CANCELLED,
                    event="publish_cancelled",
                    data={"reason": "removed by an edit of the post"},
                    next_attempt_at=None,
                )
                outcome.removed.append(target["id"])
        publish_at: datetime | None = new["publish_at"]
        if rescheduled:
            self._reschedule(reached, publish_at)
        if adding:
            status = TargetStatus.SCHEDULED if publish_at else TargetStatus.QUEUED
            rows = [
                target_row(self.tenant_id, self.post_id, account, status,
                           next_attempt_at=publish_at, now=now)
                for _, account in adding
            ]  # fmt: skip
            if self.fits:
                seconds = sum(plan.seconds for plan in self.fits.values())
                processing.check_processing(
                    conn, tenant_id=self.tenant_id, key_id=TENANT_TOTAL, seconds=seconds, now=now
                )
            for (index, _), row in zip(adding, rows, strict=True):
                if index in self.fits:
                    row["fit"] = self.fits[index].row(post["media_id"], new_id("med"))
            posts.insert_targets(conn, rows)
            enqueue_publishes(self.svc.jobs, conn, [r["id"] for r in rows], publish_at or now)
            fit.start_fits(self.svc.jobs, conn, rows, now)
            outcome.added = [r["id"] for r in rows]
        ledger.append_event(
            conn,
            tenant_id=self.tenant_id,
            post_id=self.post_id,
            event_type="post_edited",
            now=now,
            data={
                "changed": outcome.changed,
                "edited": outcome.edited,
                "added": outcome.added,
                "removed": outcome.removed,
                "left_alone": [t["target_id"] for t in outcome.left_alone],
            },
        )
        refresh_post_status(conn, self.tenant_id, self.post_id, now)
        stored = posts.get_post(conn, self.tenant_id, self.post_id)
        assert stored is not None  # locked by this transaction
        outcome.post = stored
        outcome.targets = posts.targets_of(conn, [self.post_id]).get(self.post_id, [])
        events.emit_post(
            conn,
            stored,
            "post.edited",
            now,
            targets=outcome.targets,
            extra={
                "changed": outcome.changed,
                "edited": outcome.edited,
                "added": outcome.added,
                "removed": outcome.removed,
                "left_alone": outcome.left_alone,
            },
        )

    def _reschedule(self, reached: Sequence[Row], publish_at: datetime | None) -> None:
        moving = [t for t in reached if t["status"] in _SCHEDULABLE]
        if not moving:
            return
        status = TargetStatus.SCHEDULED if publish_at else TargetStatus.QUEUED
        ids = [t["id"] for t in moving]
        posts.set_targets(
            self.conn, ids, status=status.value, next_attempt_at=publish_at, updated_at=self.now
        )
        run_at = publish_at or self.now
        keys = [dedupe_key(t) for t in ids]
        # A claimed job is not moved: its worker finds the new revision and loads again.
        self.svc.jobs.move(self.conn, keys, run_at)
        enqueue_publishes(self.svc.jobs, self.conn, ids, run_at)


def _left_alone(target: Mapping[str, Any]) -> dict[str, str]:
    status = TargetStatus(target["status"])
    if status.terminal:
        reason = f"already {status.value}"
    else:
        reason = f"already under way ({status.value}); it keeps what it started with"
    return {
        "target_id": target["id"],
        "platform": target["platform"],
        "status": status.value,
        "reason": reason,
    }
