"""Create, change, kill and delete flags. Each change is checked, then versioned, written,
audited and announced to the caches in one transaction; a change that changes nothing
writes nothing.

A flag registered in code (`KNOWN_FLAGS`) but not stored is on: it reads as a default row
(`stored` false), can be killed or set like any other, and deleting it brings that default
back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.errors import InvalidInput, NotFound
from crosspost.flags.rules import KEY_PATTERN, KNOWN_FLAGS, Decision, Flag, absent, evaluate
from crosspost.identity.audit import Actor, record
from crosspost.store import flags as store
from crosspost.store.db import Database
from crosspost.store.rows import Row

FIELDS = store.FIELDS
MAX_TENANTS = 10_000  # per list: past that, a percentage is the tool
MAX_DESCRIPTION = 1000
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")  # tenants.id is String(40)
_NEW: Mapping[str, Any] = {
    "description": "",
    "enabled": True,
    "killed": False,
    "rollout_percent": 100,
    "allow_tenants": [],
    "deny_tenants": [],
}


class _Unchanged(Exception):  # not an error: rolls the version claim back
    def __init__(self, row: Row) -> None:
        self.row = row


def check_key(key: str) -> str:
    """The key, or a 422 saying what a key looks like."""
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidInput(
            f"invalid flag key {key!r}: use 1 to 100 lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit (e.g. publish.threads)",
            code="invalid_flag_key",
        )
    return key


def get_flag(db: Database, key: str) -> Row:
    """A flag as stored, or its code default if registered but not stored; else 404."""
    with db.read() as conn:
        return _found(key, store.get(conn, key))


def list_flags(db: Database) -> list[Row]:
    """Every stored flag, and every registered one that is not, by key."""
    with db.read() as conn:
        rows = {row["key"]: _view(row) for row in store.list_all(conn)}
    for key in KNOWN_FLAGS.keys() - rows.keys():
        rows[key] = _default(key)
    return [rows[key] for key in sorted(rows)]


def check(db: Database, key: str, tenant_id: str | None) -> tuple[Row, Decision]:
    """A flag's answer for `tenant_id` from the database itself (what every cache will
    answer after its next refresh), with the flag's row; 404 for an unknown flag."""
    row = get_flag(db, key)
    decision = evaluate(Flag.from_row(row), tenant_id) if row["stored"] else absent(key, True)
    return row, decision


def set_flag(
    db: Database, key: str, changes: Mapping[str, Any], *, actor: Actor, now: datetime
) -> Row:
    """Create a flag or change the given fields of one (description, enabled, killed,
    rollout_percent, allow_tenants, deny_tenants); a new flag starts on at 100 %."""
    check_key(key)
    given = _checked(changes)
    try:
        with db.write() as conn:
            version = store.claim_version(conn, now)
            before = store.get(conn, key)
            start = _fields(before) if before else {**_NEW, "description": KNOWN_FLAGS.get(key, "")}
            after = {**start, **given}
            _check_lists(after)
            if before is not None and after == _fields(before):
                raise _Unchanged(_view(before))
            action = "flag.updated" if before else "flag.created"
            if after["killed"] and not start["killed"]:
                action = "flag.killed"  # however it was asked for: one action to look for
            return _write(conn, key, after, before, action, actor, version, now)
    except _Unchanged as same:
        return same.row


def kill_flag(db: Database, key: str, *, actor: Actor, now: datetime) -> Row:
    """Switch a flag off for every tenant, allow-list included, until a change sets
    `killed` false; killing a killed flag changes nothing."""
    check_key(key)
    try:
        with db.write() as conn:
            version = store.claim_version(conn, now)
            before = store.get(conn, key)
            if before is not None and before["killed"]:
                raise _Unchanged(_view(before))
            after = {**_fields(_found(key, before)), "killed": True}
            return _write(conn, key, after, before, "flag.killed", actor, version, now)
    except _Unchanged as same:
        return same.row


def delete_flag(db: Database, key: str, *, actor: Actor, now: datetime) -> None:
    """Remove a stored flag: a registered one reverts to its code default (on), any
    other to each caller's default. To keep a flag off, kill it instead."""
    check_key(key)
    with db.write() as conn:
        store.claim_version(conn, now)
        before = store.get(conn, key)
        if before is None or not store.delete(conn, key):
            raise NotFound(f"no stored flag {key!r}; `crosspost flags list` shows them")
        record(
            conn, actor, "flag.deleted", tenant_id=None, now=now, target=("flag", key),
            data={"before": _audited(before), "after": None},
        )  # fmt: skip


def _write(
    conn: Connection,
    key: str,
    after: dict[str, Any],
    before: Row | None,
    action: str,
    actor: Actor,
    version: int,
    now: datetime,
) -> Row:
    store.put(conn, key, after, version=version, now=now)
    row = store.get(conn, key)
    assert row is not None
    record(
        conn, actor, action, tenant_id=None, now=now, target=("flag", key),
        data={"before": _audited(before) if before else None, "after": _audited(row)},
    )  # fmt: skip
    return _view(row)


def _checked(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown flag field(s) {', '.join(unknown)}; a flag has {', '.join(FIELDS)}",
            code="unknown_flag_field",
        )
    given = dict(changes)
    for name in ("enabled", "killed"):
        if name in given and not isinstance(given[name], bool):
            raise InvalidInput(f"{name} must be true or false", code="invalid_flag")
    if "rollout_percent" in given:
        percent = given["rollout_percent"]
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidInput(
                f"rollout_percent must be a whole number from 0 to 100, not {percent!r}",
                code="invalid_rollout_percent",
            )
    description = given.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be text of at most {MAX_DESCRIPTION} characters",
            code="invalid_flag",
        )
    for name in ("allow_tenants", "deny_tenants"):
        if name in given:
            given[name] = _tenant_list(name, given[name])
    return given


def _tenant_list(name: str, value: Iterable[Any]) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(f"{name} must be a list of tenant ids", code="invalid_tenant_id")
    items = list(value)
    bad = [t for t in items if not isinstance(t, str) or not _TENANT_ID.fullmatch(t)]
    if bad:
        raise InvalidInput(
            f"{name}: {bad[0]!r} is not a tenant id (1 to 40 letters, digits, '.', '_' or "
            "'-', e.g. ten_01J…)",
            code="invalid_tenant_id",
        )
    tenants = sorted(set(items))
    if len(tenants) > MAX_TENANTS:
        raise InvalidInput(
            f"{name} holds {len(tenants)} tenants, more than {MAX_TENANTS}; use "
            "rollout_percent for a share of tenants",
            code="too_many_tenants",
        )
    return tenants


def _check_lists(fields: Mapping[str, Any]) -> None:
    both = sorted(set(fields["allow_tenants"]) & set(fields["deny_tenants"]))
    if both:
        raise InvalidInput(
            f"tenant(s) {', '.join(both)} on both the allow- and the deny-list; remove them "
            "from one (the deny-list would win)",
            code="tenant_allowed_and_denied",
        )


def _found(key: str, row: Row | None) -> Row:
    if row is not None:
        return _view(row)
    check_key(key)
    if key in KNOWN_FLAGS:
        return _default(key)
    raise NotFound(f"no flag {key!r}; `crosspost flags list` shows them")


def _fields(row: Row) -> dict[str, Any]:
    return {name: row[name] for name in FIELDS}


def _audited(row: Row) -> dict[str, Any]:
    # JSON-safe: no timestamps (the event has its own).
    return {**_fields(row), "version": row["version"]}


def _view(row: Row) -> Row:
    return {**row, "stored": True, "registered": row["key"] in KNOWN_FLAGS}


def _default(key: str) -> Row:
    fields = {**_NEW, "description": KNOWN_FLAGS[key]}
    return {"key": key, **fields, "version": 0, "created_at": None, "updated_at": None,
            "stored": False, "registered": True}  # fmt: skip
