"""crosspost's flags through the OpenFeature API, as application code asks for them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from crosspost.clock import SystemClock
from crosspost.flags import manage
from crosspost.flags.cache import FlagCache
from crosspost.flags.openfeature import CrosspostProvider
from crosspost.flags.rules import KNOWN_FLAGS
from crosspost.identity.audit import Actor
from crosspost.store import migrate
from crosspost.store.db import Database

WAIT = 10.0


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    """A migrated SQLite database (the provider does not depend on the backend)."""
    database = Database(sqlite_url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def provider(db: Database) -> Iterator[CrosspostProvider]:
    """Our provider as the process-wide default, removed after the test."""
    made = CrosspostProvider(FlagCache(db, poll_seconds=60), owns_cache=True)
    api.set_provider_and_wait(made)
    try:
        yield made
    finally:
        api.clear_providers()


def put(db: Database, key: str, **fields: object) -> None:
    """Create or change a flag."""
    manage.set_flag(db, key, fields, actor=Actor.cli(), now=SystemClock().now())


def tenant(tenant_id: str) -> EvaluationContext:
    """The evaluation context of one tenant: the targeting key is the tenant id."""
    return EvaluationContext(targeting_key=tenant_id)


def changes() -> threading.Event:
    """An event set whenever the provider reports changed flags."""
    seen = threading.Event()
    api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, lambda _details: seen.set())
    return seen


def test_boolean_flags_by_tenant(db: Database, provider: CrosspostProvider) -> None:
    """The client answers per tenant with OpenFeature's reasons, and follows a kill."""
    changed = changes()
    put(db, "publish.threads", rollout_percent=10, allow_tenants=["ten_a"], deny_tenants=["ten_d"])
    assert changed.wait(WAIT)
    client = api.get_client()
    allowed = client.get_boolean_details("publish.threads", False, tenant("ten_a"))
    assert (allowed.value, allowed.reason, allowed.variant) == (True, Reason.TARGETING_MATCH, "on")
    assert allowed.flag_metadata["reason"] == "allowed"
    denied = client.get_boolean_details("publish.threads", True, tenant("ten_d"))
    assert (denied.value, denied.reason) == (False, Reason.TARGETING_MATCH)
    split = client.get_boolean_details("publish.threads", True, tenant("ten_b"))
    assert (split.value, split.reason) == (False, Reason.SPLIT)  # its bucket: 42.54 % ≥ 10 %
    changed.clear()
    manage.kill_flag(db, "publish.threads", actor=Actor.cli(), now=SystemClock().now())
    assert changed.wait(WAIT)
    killed = client.get_boolean_details("publish.threads", True, tenant("ten_a"))
    assert (killed.value, killed.reason) == (False, Reason.DISABLED)
    assert client.get_boolean_value("publish.threads", True, tenant("ten_a")) is False


def test_defaults_and_errors(db: Database, provider: CrosspostProvider) -> None:
    """A registered flag not stored is on; an unknown one answers the caller's default
    with FLAG_NOT_FOUND; a partial rollout without a tenant, TARGETING_KEY_MISSING; other
    types, TYPE_MISMATCH."""
    client = api.get_client()
    registered = client.get_boolean_details(next(iter(KNOWN_FLAGS)), False, tenant("ten_a"))
    assert (registered.value, registered.reason, registered.error_code) == (
        True, Reason.DEFAULT, None
    )  # fmt: skip
    unknown = client.get_boolean_details("no.such.flag", True, tenant("ten_a"))
    assert (unknown.value, unknown.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    changed = changes()
    put(db, "publish.threads", rollout_percent=50)
    assert changed.wait(WAIT)
    anonymous = client.get_boolean_details("publish.threads", True)
    assert (anonymous.value, anonymous.error_code) == (True, ErrorCode.TARGETING_KEY_MISSING)
    assert client.get_string_value("publish.threads", "plain", tenant("ten_a")) == "plain"
    typed = client.get_integer_details("publish.threads", 7, tenant("ten_a"))
    assert (typed.value, typed.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_set_provider_initialises_in_the_background(db: Database) -> None:
    """`api.set_provider` starts the cache on OpenFeature's own thread and reports READY;
    shutting down stops the cache it owns."""
    put(db, "publish.threads", enabled=False)
    cache = FlagCache(db, poll_seconds=60)
    ready = threading.Event()
    try:
        api.set_provider(CrosspostProvider(cache, owns_cache=True))
        # Added after: the provider replaced is READY already, and would set it at once.
        api.add_handler(ProviderEvent.PROVIDER_READY, lambda _details: ready.set())
        assert ready.wait(WAIT)
        assert api.get_client().get_boolean_value("publish.threads", True, tenant("t")) is False
    finally:
        api.shutdown()
        api.clear_providers()
    assert cache.version == 1
    assert not [t for t in threading.enumerate() if t.name == "flags-poll"]
