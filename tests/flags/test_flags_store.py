"""Flags managed and cached on a real database: SQLite, and PostgreSQL when configured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.clock import SystemClock
from crosspost.errors import InvalidInput, NotFound
from crosspost.flags import manage
from crosspost.flags.cache import FlagCache
from crosspost.flags.rules import KNOWN_FLAGS, Reason
from crosspost.identity.audit import Actor
from crosspost.store import audit
from crosspost.store import flags as store
from crosspost.store.db import Database

CLI = Actor.cli()
WAIT = 10.0  # seconds a refresh may take at most here, however slow the machine


def change(db: Database, key: str, **fields: object) -> dict[str, Any]:
    """Create or change a flag as the CLI does."""
    return manage.set_flag(db, key, fields, actor=CLI, now=SystemClock().now())


def flag_events(db: Database) -> list[dict[str, Any]]:
    """The server-level audit events about flags, oldest first."""
    with db.read() as conn:
        return list(reversed(audit.page(conn, None, limit=100, action="flag.")))


def version(db: Database) -> int:
    """The flags' version as stored."""
    with db.read() as conn:
        return store.current_version(conn)


@pytest.fixture
def second_db(db: Database) -> Iterator[Database]:
    """Another `Database` on the same database, as another process would have."""
    other = Database(db.url)
    try:
        yield other
    finally:
        other.dispose()


def changed_event(cache: FlagCache) -> threading.Event:
    """An event set at the cache's next reload that changes something."""
    seen = threading.Event()
    cache.on_change(lambda _keys: seen.set())
    return seen


def test_changes_are_versioned_and_audited(db: Database) -> None:
    """Create, update, kill and delete each move the version and append one audit event
    with the flag before and after, in the same transaction."""
    made = change(db, "publish.threads", rollout_percent=10, allow_tenants=["ten_b", "ten_a"])
    assert made["allow_tenants"] == ["ten_a", "ten_b"] and made["version"] == 1
    changed = change(db, "publish.threads", rollout_percent=50)
    killed = manage.kill_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
    assert (changed["version"], killed["version"], killed["killed"]) == (2, 3, True)
    manage.delete_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
    assert version(db) == 4
    events = flag_events(db)
    assert [e["action"] for e in events] == [
        "flag.created", "flag.updated", "flag.killed", "flag.deleted"
    ]  # fmt: skip
    assert all(e["target_type"] == "flag" and e["target_id"] == "publish.threads" for e in events)
    assert all(e["actor_type"] == "cli" and e["tenant_id"] is None for e in events)
    first, second, third, fourth = (e["data"] for e in events)
    assert first["before"] is None and first["after"]["rollout_percent"] == 10
    assert (second["before"]["rollout_percent"], second["after"]["rollout_percent"]) == (10, 50)
    assert (third["before"]["killed"], third["after"]["killed"]) == (False, True)
    assert fourth == {"before": third["after"], "after": None}


def test_a_change_that_changes_nothing_writes_nothing(db: Database) -> None:
    """Setting what is already set, or killing a killed flag: no version, no event."""
    change(db, "publish.threads", rollout_percent=10)
    change(db, "publish.threads", rollout_percent=10)
    manage.kill_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
    manage.kill_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
    assert version(db) == 2
    assert len(flag_events(db)) == 2


def test_a_kill_is_a_kill_however_it_is_asked(db: Database) -> None:
    """Setting `killed` through a change audits `flag.killed`, as `kill_flag` does, so one
    action answers "who killed it"; reviving is an update."""
    change(db, "publish.threads", rollout_percent=10)
    change(db, "publish.threads", killed=True, rollout_percent=20)
    change(db, "publish.threads", killed=False)
    actions = [e["action"] for e in flag_events(db)]
    assert actions == ["flag.created", "flag.killed", "flag.updated"]


def test_refused_changes_leave_no_trace(db: Database) -> None:
    """Each refusal has its own code and message; none moves the version or audits."""
    change(db, "publish.threads", allow_tenants=["ten_a"])
    refused: dict[str, tuple[str, dict[str, Any]]] = {
        "invalid_flag_key": ("Bad Key", {}),
        "invalid_rollout_percent": ("x", {"rollout_percent": 101}),
        "unknown_flag_field": ("x", {"colour": "red"}),
        "invalid_tenant_id": ("x", {"deny_tenants": ["ten a"]}),
        "tenant_allowed_and_denied": ("publish.threads", {"deny_tenants": ["ten_a"]}),
        "invalid_flag": ("x", {"enabled": "yes"}),
    }
    for code, (key, fields) in refused.items():
        with pytest.raises(InvalidInput) as caught:
            manage.set_flag(db, key, fields, actor=CLI, now=SystemClock().now())
        assert caught.value.code == code, caught.value.detail
    with pytest.raises(InvalidInput):
        change(db, "x", rollout_percent=True)
    with pytest.raises(NotFound):
        manage.kill_flag(db, "no.such.flag", actor=CLI, now=SystemClock().now())
    with pytest.raises(NotFound):
        manage.delete_flag(db, "no.such.flag", actor=CLI, now=SystemClock().now())
    assert version(db) == 1 and len(flag_events(db)) == 1


def test_registered_flags_read_as_on_until_stored(db: Database) -> None:
    """A registered flag not stored is listed on at 100 %; killing it stores it killed;
    deleting it brings the default back."""
    key = next(iter(KNOWN_FLAGS))
    listed = {f["key"]: f for f in manage.list_flags(db)}
    assert listed[key]["stored"] is False and listed[key]["enabled"] is True
    assert manage.check(db, key, "ten_a")[1].reason is Reason.DEFAULT
    killed = manage.kill_flag(db, key, actor=CLI, now=SystemClock().now())
    assert killed["stored"] and killed["killed"] and killed["description"] == KNOWN_FLAGS[key]
    assert manage.check(db, key, "ten_a")[1].on is False
    manage.delete_flag(db, key, actor=CLI, now=SystemClock().now())
    assert manage.check(db, key, "ten_a")[1].on is True


def test_concurrent_changes_get_distinct_versions(db: Database) -> None:
    """Changes from many threads at once are serialised by the version claim: every version
    is used once, and the last one is the count of changes."""

    def work(n: int) -> None:
        for step in range(5):
            change(db, f"flag.{n}", rollout_percent=step * 10 + n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = [e["data"]["after"]["version"] for e in flag_events(db)]
    assert sorted(versions) == list(range(1, 31))
    assert version(db) == 30


def test_a_cache_answers_from_memory_and_follows_changes(db: Database) -> None:
    """A change made through the same `Database` wakes its cache at once (no poll needed),
    deletions included."""
    with FlagCache(db, poll_seconds=60) as cache:
        assert cache.is_on("publish.threads", "ten_a", default=False) is False
        seen = changed_event(cache)
        change(db, "publish.threads", allow_tenants=["ten_a"], enabled=False)
        assert seen.wait(WAIT)
        assert cache.is_on("publish.threads", "ten_a") and not cache.is_on("publish.threads", "b")
        seen.clear()
        manage.delete_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
        assert seen.wait(WAIT)
        assert cache.evaluate("publish.threads", "ten_a").reason is Reason.UNKNOWN


def test_a_kill_reaches_another_process_within_its_refresh(
    db: Database, second_db: Database
) -> None:
    """A kill made elsewhere is seen by a cache on its own connection within one refresh:
    by polling (SQLite), or by LISTEN/NOTIFY well before the poll (PostgreSQL)."""
    poll = 60.0 if db.dialect == "postgresql" else 0.2
    change(db, "publish.threads", allow_tenants=["ten_a"])
    with FlagCache(second_db, poll_seconds=poll) as cache:
        assert cache.is_on("publish.threads", "ten_a")
        seen = changed_event(cache)
        manage.kill_flag(db, "publish.threads", actor=CLI, now=SystemClock().now())
        assert seen.wait(WAIT), f"the kill was not seen within {WAIT} s (poll {poll} s)"
        decision = cache.evaluate("publish.threads", "ten_a")
        assert (decision.on, decision.reason) == (False, Reason.KILLED)
        assert cache.version == version(db)


def test_a_cache_keeps_its_snapshot_when_a_reload_fails(db: Database) -> None:
    """A reload that fails (here: the table is gone) raises from `refresh`, and the cache
    keeps answering from the flags it last loaded."""
    change(db, "publish.threads", enabled=False)
    with FlagCache(db, poll_seconds=60) as cache:
        with db.write() as conn:
            conn.execute(sa.text("DROP TABLE feature_flags"))
        with pytest.raises(sa.exc.DBAPIError):
            cache.refresh()
        assert cache.evaluate("publish.threads", "ten_a").reason is Reason.DISABLED
