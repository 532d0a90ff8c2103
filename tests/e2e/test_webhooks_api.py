"""/v1/webhooks over real HTTP: endpoint management with every bad input refused, the
secret shown once and sealed at rest, rotation with overlap, disable and enable, test
events written to the outbox, deliveries, attempts, resend and recovery, tenant and mode
isolation, and the event catalogue (GET /v1/webhooks/event-types and the OpenAPI document).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.errors import NotFound
from crosspost.ids import new_id
from crosspost.store.tables import (
    tenants,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from crosspost.webhooks import endpoints, outbox
from crosspost.webhooks.catalogue import EVENT_TYPES, validate_payload
from tests.e2e.conftest import Stack

HOOK = "http://127.0.0.1:9/hooks/crosspost"  # test mode may target loopback over http
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _client(stack: Stack, key: str) -> httpx.Client:
    # The stacks' own clients' timeout: a loaded CI machine can stall a request past 5 s.
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


@pytest.fixture
def quiet(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers on a frozen clock: nothing delivers behind the test's back."""
    return make_stack(workers=0, clock=FrozenClock(START))


@pytest.fixture
def live(quiet: Stack) -> Iterator[httpx.Client]:
    """A live-mode key of the same tenant."""
    _, key = issue_key(quiet.svc, tenant_id=quiet.tenant_id, name="live", mode=Mode.LIVE)
    with _client(quiet, key) as client:
        yield client


def _create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/webhooks", json={"url": HOOK, **body})


def _made(client: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = _create(client, **body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _refused(answer: httpx.Response, status: int = 422, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = dict(answer.json())
    if code is not None:
        assert body["code"] == code, body
    return body


def _row(stack: Stack, endpoint_id: str) -> dict[str, Any]:
    with stack.svc.db.read() as conn:
        row = (
            conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
            .mappings()
            .one()
        )
    return dict(row)


def _open(stack: Stack, endpoint_id: str, sealed: str) -> str:
    return stack.svc.keyring.decrypt(
        sealed, tenant_id=stack.tenant_id, table="webhook_endpoints", row_id=endpoint_id
    )


def _other_tenant(stack: Stack) -> str:
    other = new_id("ten")
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": other, "name": "o", "is_default": False, "created_at": stack.svc.clock.now()},
        )
    _, key = issue_key(stack.svc, tenant_id=other, name="o", mode=Mode.TEST)
    return key


def _emit(stack: Stack, event_type: str = "post.published", *, mode: str = "test") -> str:
    """An event as the engine writes it, marked fanned out: the test lays out its
    deliveries itself, so no dispatcher adds any."""
    with stack.svc.db.write() as conn:
        event_id = outbox.emit(
            conn,
            tenant_id=stack.tenant_id,
            mode=mode,
            event_type=event_type,
            data=EVENT_TYPES[event_type].example,
            now=stack.svc.clock.now(),
        )
        conn.execute(
            webhook_events.update().where(webhook_events.c.id == event_id).values(fanned_out=True)
        )
    return event_id


def _delivery(
    stack: Stack, event_id: str, endpoint_id: str, status: str, *, attempts: int = 1
) -> str:
    """A delivery row as the dispatcher leaves it (test setup, no dispatcher running)."""
    delivery_id = new_id("whd")
    now = stack.svc.clock.now()
    done = status in ("succeeded", "failed")
    with stack.svc.db.write() as conn:
        conn.execute(
            webhook_deliveries.insert(),
            {
                "id": delivery_id,
                "tenant_id": stack.tenant_id,
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "status": status,
                "attempts": attempts,
                # A pending row is not due for a day: nothing sends it during the test.
                "next_attempt_at": now + timedelta(days=1) if status == "pending" else now,
                "last_status_code": 500 if status == "failed" else None,
                "last_error": "HTTP 500" if status == "failed" else None,
                "created_at": now,
                "updated_at": now,
                "completed_at": now if done else None,
            },
        )
    return delivery_id


def _attempt(
    stack: Stack, delivery_id: str, event_id: str, endpoint_id: str, n: int, code: int | None
) -> None:
    with stack.svc.db.write() as conn:
        conn.execute(
            webhook_attempts.insert(),
            {
                "tenant_id": stack.tenant_id,
                "delivery_id": delivery_id,
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "attempt": n,
                "trigger": "scheduled",
                "status_code": code,
                "latency_ms": 12.5,
                "response_headers": {"content-type": "text/plain"} if code else None,
                "response_body": "ok" if code == 200 else None,
                "error": None if code else "connection refused",
                "created_at": stack.svc.clock.now(),
            },
        )


# --- creating, reading, secrets -------------------------------------------------------------


def test_the_secret_is_shown_once_and_sealed_at_rest(quiet: Stack) -> None:
    """201 with a `whsec_` secret of 32 random bytes; no read shows it again; a replay of
    the creation answers the same endpoint with `secret: null`; the row holds it sealed."""
    body = {
        "url": HOOK,
        "description": "orders service",
        "event_types": ["post.*", "target.failed", "post.published"],
        "headers": {"Authorization": "Bearer receiver-token", "X-Tenant": "acme"},
        "throttle_per_second": 50,
        "max_concurrency": 4,
    }
    answer = quiet.http.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "wh-1"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert made["id"].startswith("whep_") and made["mode"] == "test" and made["active"] is True
    assert made["event_types"] == ["post.*", "target.failed", "post.published"]
    # Custom headers are secrets too: masked in every answer, sealed at rest.
    assert made["headers"] == {"Authorization": "…oken", "X-Tenant": "…"}
    assert (made["throttle_per_second"], made["max_concurrency"]) == (50, 4)
    assert made["description"] == "orders service" and made["url"] == HOOK
    assert made["has_previous_secret"] is False and made["previous_expires_at"] is None
    assert made["consecutive_failures"] == 0 and made["disabled_reason"] is None

    replay = quiet.http.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "wh-1"})
    assert replay.status_code == 201 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == made["id"] and replay.json()["secret"] is None

    one = quiet.http.get(f"/v1/webhooks/{made['id']}")
    listed = quiet.http.get("/v1/webhooks")
    for read in (one, listed):
        assert read.status_code == 200 and secret not in read.text and secret[6:] not in read.text
        entries = [read.json()] if read is one else read.json()["data"]
        assert all(not {"secret", "previous_secret"} & set(e) for e in entries)
    assert [e["id"] for e in listed.json()["data"]] == [made["id"]]
    assert one.json() == {k: v for k, v in made.items() if k != "secret"}

    row = _row(quiet, made["id"])
    assert secret not in row["secret"] and secret[6:] not in row["secret"]
    assert _open(quiet, made["id"], row["secret"]) == secret
    assert "receiver-token" not in str(row) and "acme" not in str(row)
    assert json.loads(_open(quiet, made["id"], row["sealed_headers"])) == body["headers"]
    assert row["tenant_id"] == quiet.tenant_id and row["mode"] == "test"


def test_defaults_and_an_empty_filter(quiet: Stack) -> None:
    """Only a URL: every event, no throttle, 16 in flight, no custom headers."""
    made = _made(quiet.http)
    assert made["event_types"] == [] and made["headers"] == {} and made["description"] == ""
    assert made["throttle_per_second"] is None and made["max_concurrency"] == 16


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://127.0.0.1/hook", "https://"),
        ("127.0.0.1/hook", ""),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://user:pw@127.0.0.1/hook", "user name or password"),
        ("http://exa mple.com/hook", "spaces"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http:///hook", ""),
        ("http://169.254.169.254./latest/meta-data", "link-local"),
        ("http://0./hook", "unspecified"),
        ("http://1.2.3.4.5/hook", "ends in a number"),
    ],
)
def test_test_mode_urls_that_are_refused(quiet: Stack, url: str, says: str) -> None:
    """Test mode allows http and private networks, but never metadata, multicast,
    credentials in the URL or a malformed URL."""
    body = _refused(_create(quiet.http, url=url), code="invalid_webhook_url")
    assert says in body["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:3000/hook",
        "http://10.1.2.3/hook",
        "http://[::1]:8000/hook",
        "https://hooks.example.com/crosspost?tenant=acme",
    ],
)
def test_test_mode_urls_that_are_allowed(quiet: Stack, url: str) -> None:
    """Loopback, private networks and plain http are fine in test mode (the sandbox)."""
    assert _made(quiet.http, url=url)["url"] == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/crosspost", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://api.localhost/hook", "loopback"),
        ("https://10.0.0.5/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/hook", "CGNAT"),
        ("https://169.254.169.254/hook", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[fd00::1]/hook", "unique-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped"),
        ("https://2130706433/hook", "loopback"),
        ("https://127.0.0.1.:8443/hook", "127.0.0.1. means 127.0.0.1"),
        ("https://2130706433./hook", "loopback"),
        ("https://0x7f.1./hook", "loopback"),
        ("https://0177.0.0.1./hook", "loopback"),
        ("https://10.0.0.5./hook", "private"),
        ("https://[::ffff:7f00:1]/hook", "IPv4-mapped"),
        ("https://LOCALHOST./hook", "loopback"),
    ],
)
def test_live_mode_urls_must_be_https_and_public(live: httpx.Client, url: str, says: str) -> None:
    """Live endpoints: https only, and no literal address in a non-public range."""
    body = _refused(_create(live, url=url), code="invalid_webhook_url")
    assert says in body["detail"], body["detail"]


def test_live_mode_accepts_public_https_and_the_operator_allow_list(
    make_stack: Callable[..., Stack],
) -> None:
    """A public https URL is fine; a private network named in `webhook_allow_cidrs` too."""
    stack = make_stack(workers=0, webhook_allow_cidrs=["10.20.0.0/16"])
    _, key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="live", mode=Mode.LIVE)
    with _client(stack, key) as live:
        assert _made(live, url="https://hooks.example.com/x")["mode"] == "live"
        assert _made(live, url="https://10.20.3.4/hook")["url"] == "https://10.20.3.4/hook"
        _refused(_create(live, url="https://10.21.0.1/hook"), code="invalid_webhook_url")
        changed = live.patch(
            f"/v1/webhooks/{_made(live, url='https://hooks.example.com/y')['id']}",
            json={"url": "https://10.20.9.9/hook"},
        )
        assert changed.status_code == 200, changed.text


def test_url_length_limit(quiet: Stack) -> None:
    """2048 characters at most."""
    base = "http://127.0.0.1/"
    assert _made(quiet.http, url=base + "a" * (2048 - len(base)))
    _refused(_create(quiet.http, url=base + "a" * (2049 - len(base))))


@pytest.mark.parametrize(
    ("headers", "code", "says"),
    [
        ({f"X-H{i}": "v" for i in range(21)}, "invalid_webhook_headers", "at most 20"),
        ({"X Bad": "v"}, "invalid_webhook_headers", "letters, digits and hyphens"),
        ({"X_Under": "v"}, "invalid_webhook_headers", "letters, digits and hyphens"),
        ({"": "v"}, "invalid_webhook_headers", "not valid"),
        ({"X-A": "1", "x-a": "2"}, "invalid_webhook_headers", "twice"),
        ({"X-Long": "v" * 1025}, "invalid_webhook_headers", "limit is 1024"),
        ({"X-Split": "a\r\nX-Injected: 1"}, "invalid_webhook_headers", "printable ASCII"),
        ({"X-Accent": "café"}, "invalid_webhook_headers", "printable ASCII"),
        ({"webhook-id": "msg_1"}, "reserved_webhook_header", "cannot be overridden"),
        ({"Webhook-Signature": "v1,x"}, "reserved_webhook_header", "cannot be overridden"),
        ({"webhook-timestamp": "1"}, "reserved_webhook_header", "cannot be overridden"),
        ({"svix-id": "msg_1"}, "reserved_webhook_header", "cannot be overridden"),
        ({"X-Webhook-ID": "x"}, "reserved_webhook_header", "cannot be overridden"),
        ({"X-Event": "x"}, "reserved_webhook_header", "cannot be overridden"),
        ({"User-Agent": "me"}, "reserved_webhook_header", "cannot be overridden"),
        ({"Content-Type": "text/plain"}, "reserved_webhook_header", "cannot be overridden"),
        ({"content-length": "1"}, "reserved_webhook_header", "cannot be overridden"),
        ({"Host": "evil.example"}, "reserved_webhook_header", "cannot be overridden"),
        ({"Transfer-Encoding": "chunked"}, "reserved_webhook_header", "cannot be overridden"),
    ],
)
def test_bad_custom_headers(quiet: Stack, headers: dict[str, str], code: str, says: str) -> None:
    """Header rules say what to change, on create and on update alike."""
    body = _refused(_create(quiet.http, headers=headers), code=code)
    assert says in body["detail"], body["detail"]
    endpoint = _made(quiet.http)
    patched = quiet.http.patch(f"/v1/webhooks/{endpoint['id']}", json={"headers": headers})
    assert _refused(patched)["code"] == code


def test_allowed_custom_headers(quiet: Stack) -> None:
    """Authorization and twenty headers of up to 1024 printable characters are fine;
    surrounding blanks are trimmed."""
    headers = {f"X-H{i}": "v" * 1024 for i in range(19)}
    headers["Authorization"] = "  Basic dXNlcjpwYXNz "
    made = _made(quiet.http, headers=headers)
    assert made["headers"]["Authorization"] == "…YXNz"
    assert made["headers"]["X-H0"] == "…vvvv" and len(made["headers"]) == 20
    sealed = json.loads(_open(quiet, made["id"], _row(quiet, made["id"])["sealed_headers"]))
    assert sealed["Authorization"] == "Basic dXNlcjpwYXNz" and sealed["X-H3"] == "v" * 1024


def test_changing_headers_reseals_them_and_empty_clears_them(quiet: Stack) -> None:
    """A PATCH of `headers` replaces the whole set, sealed anew; `{}` leaves none."""
    made = _made(quiet.http, headers={"Authorization": "Bearer first-token-value"})
    patched = quiet.http.patch(
        f"/v1/webhooks/{made['id']}", json={"headers": {"X-Key": "second-key-value"}}
    )
    assert patched.status_code == 200 and patched.json()["headers"] == {"X-Key": "…alue"}
    row = _row(quiet, made["id"])
    assert json.loads(_open(quiet, made["id"], row["sealed_headers"])) == {
        "X-Key": "second-key-value"
    }
    unrelated = quiet.http.patch(f"/v1/webhooks/{made['id']}", json={"description": "d"})
    assert unrelated.json()["headers"] == {"X-Key": "…alue"}
    assert _row(quiet, made["id"])["sealed_headers"] == row["sealed_headers"]
    cleared = quiet.http.patch(f"/v1/webhooks/{made['id']}", json={"headers": {}})
    assert cleared.json()["headers"] == {}
    row = _row(quiet, made["id"])
    assert row["headers"] == {} and row["sealed_headers"] is None


def test_headers_left_plain_by_an_older_version_are_sealed_at_upgrade(quiet: Stack) -> None:
    """A row written before revision 0007 (plain headers, nothing sealed) is sealed by the
    upgrade every process runs at start; other rows are left as they are."""
    plain = _made(quiet.http)
    bare = _made(quiet.http)
    with quiet.svc.db.write() as conn:
        conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == plain["id"])
            .values(headers={"Authorization": "Bearer legacy-token"}, sealed_headers=None)
        )
    quiet.svc.upgrade_database()
    row = _row(quiet, plain["id"])
    assert row["headers"] == {"Authorization": "…oken"}
    assert json.loads(_open(quiet, plain["id"], row["sealed_headers"])) == {
        "Authorization": "Bearer legacy-token"
    }
    assert _row(quiet, bare["id"])["sealed_headers"] is None
    assert quiet.http.get(f"/v1/webhooks/{plain['id']}").json()["headers"] == {
        "Authorization": "…oken"
    }


@pytest.mark.parametrize(
    ("patterns", "says"),
    [
        (["post.publish"], "'post.publish' is not an event type"),
        (["export.done"], "'export.done' is not an event type"),
        (["exports.*"], "matches no event type"),
        (["*.failed"], "not a supported wildcard"),
        (["post*"], "not a supported wildcard"),
        ([""], "not a non-empty string"),
    ],
)
def test_bad_event_type_filters_list_the_valid_types(
    quiet: Stack, patterns: list[str], says: str
) -> None:
    """Unknown names and wildcards that match nothing are refused, with every valid type."""
    body = _refused(_create(quiet.http, event_types=patterns), code="invalid_event_types")
    assert says in body["detail"]
    assert body["valid_event_types"] == sorted(EVENT_TYPES)
    endpoint = _made(quiet.http)
    patched = quiet.http.patch(f"/v1/webhooks/{endpoint['id']}", json={"event_types": patterns})
    assert _refused(patched)["code"] == "invalid_event_types"


@pytest.mark.parametrize(
    "body",
    [
        {"throttle_per_second": 0},
        {"throttle_per_second": 10_001},
        {"throttle_per_second": -5},
        {"max_concurrency": 0},
        {"max_concurrency": 101},
        {"max_concurrency": None},
        {"description": "d" * 501},
        {"event_types": "post.*"},
        {"event_types": ["post.published"] * 65},
        {"headers": ["Authorization"]},
        {"headers": {"X-A": 1}},
        {"secret": "whsec_mine"},
        {"active": False},
    ],
)
def test_bad_settings_on_create(quiet: Stack, body: dict[str, Any]) -> None:
    """Out-of-range numbers, over-long text, wrong types, unknown members: 422."""
    _refused(_create(quiet.http, **body))


def test_description_without_control_characters(quiet: Stack) -> None:
    """Newlines are fine in a description; other control characters are not."""
    assert _made(quiet.http, description="line one\nline two\tend")["description"]
    body = _refused(_create(quiet.http, description="bell\x07"), code="invalid_description")
    assert "control characters" in body["detail"]


def test_ranges_accept_their_bounds(quiet: Stack) -> None:
    """1 and 10,000 deliveries/s; 1 and 100 in flight; a 500-character description."""
    low = _made(quiet.http, throttle_per_second=1, max_concurrency=1, description="d" * 500)
    high = _made(quiet.http, throttle_per_second=10_000, max_concurrency=100)
    assert (low["throttle_per_second"], low["max_concurrency"]) == (1, 1)
    assert (high["throttle_per_second"], high["max_concurrency"]) == (10_000, 100)


# --- listing, updating, deleting ------------------------------------------------------------


def test_list_pages_with_a_cursor(quiet: Stack) -> None:
    """Newest first; `next_cursor` and the Link header lead to the next page."""
    ids = [_made(quiet.http, description=str(i))["id"] for i in range(3)]
    first = quiet.http.get("/v1/webhooks", params={"limit": 2})
    page = first.json()
    assert [e["id"] for e in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True and 'rel="next"' in first.headers["link"]
    second = quiet.http.get("/v1/webhooks", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [e["id"] for e in second.json()["data"]] == [ids[0]]
    assert second.json()["has_more"] is False and second.json()["next_cursor"] is None
    _refused(quiet.http.get("/v1/webhooks", params={"cursor": "garbage"}), code="invalid_cursor")
    _refused(quiet.http.get("/v1/webhooks", params={"limit": 0}))
    _refused(quiet.http.get("/v1/webhooks", params={"limit": 101}))


def test_update_changes_only_what_is_given(quiet: Stack) -> None:
    """PATCH replaces the members given; null removes the throttle; the secret stays."""
    made = _made(quiet.http, event_types=["post.*"], headers={"X-A": "1"}, throttle_per_second=5)
    sealed = _row(quiet, made["id"])["secret"]
    quiet.svc.clock.advance(60)  # type: ignore[attr-defined]
    changed = quiet.http.patch(
        f"/v1/webhooks/{made['id']}",
        json={
            "url": "http://127.0.0.1:9/v2",
            "event_types": ["target.*"],
            "headers": {"X-B": "2"},
            "description": "v2",
            "max_concurrency": 2,
        },
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["url"] == "http://127.0.0.1:9/v2" and after["event_types"] == ["target.*"]
    assert after["headers"] == {"X-B": "…"} and after["description"] == "v2"
    assert after["max_concurrency"] == 2 and after["throttle_per_second"] == 5
    assert after["updated_at"] > made["updated_at"] and after["created_at"] == made["created_at"]
    cleared = quiet.http.patch(
        f"/v1/webhooks/{made['id']}", json={"throttle_per_second": None, "description": None}
    ).json()
    assert cleared["throttle_per_second"] is None and cleared["description"] == ""
    assert quiet.http.get(f"/v1/webhooks/{made['id']}").json() == cleared
    assert _row(quiet, made["id"])["secret"] == sealed
    assert quiet.http.patch(f"/v1/webhooks/{made['id']}", json={}).json() == cleared


@pytest.mark.parametrize(
    "body",
    [
        {"url": None},
        {"url": "ftp://x/y"},
        {"active": None},
        {"max_concurrency": 0},
        {"throttle_per_second": 0},
        {"mode": "live"},
        {"id": "whep_x"},
        {"description": "\x00"},
    ],
)
def test_bad_updates(quiet: Stack, body: dict[str, Any]) -> None:
    """Every rule of creation holds on update; id, mode and secret cannot be set."""
    made = _made(quiet.http)
    _refused(quiet.http.patch(f"/v1/webhooks/{made['id']}", json=body))
    assert quiet.http.get(f"/v1/webhooks/{made['id']}").json()["url"] == HOOK


def test_a_live_endpoint_stays_https(live: httpx.Client) -> None:
    """Changing a live endpoint's URL to http or a private address is refused, however the
    address is written (a trailing dot, hex)."""
    made = _made(live, url="https://hooks.example.com/a")
    for url in (
        "http://hooks.example.com/a",
        "https://192.168.0.10/a",
        "https://127.0.0.1.:8443/a",
        "https://0x7f.1./a",
    ):
        answer = live.patch(f"/v1/webhooks/{made['id']}", json={"url": url})
        _refused(answer, code="invalid_webhook_url")
    assert live.get(f"/v1/webhooks/{made['id']}").json()["url"] == "https://hooks.example.com/a"


def test_delete_stops_pending_deliveries_and_keeps_the_attempt_log(quiet: Stack) -> None:
    """204; then 404 everywhere; its deliveries are gone, its attempts still readable."""
    made = _made(quiet.http)
    kept = _made(quiet.http)
    event_id = _emit(quiet)
    failed = _delivery(quiet, event_id, made["id"], "failed")
    _attempt(quiet, failed, event_id, made["id"], 1, 500)
    _delivery(quiet, _emit(quiet), made["id"], "pending", attempts=0)
    _delivery(quiet, event_id, kept["id"], "succeeded")
    assert quiet.http.delete(f"/v1/webhooks/{made['id']}").status_code == 204
    _refused(quiet.http.get(f"/v1/webhooks/{made['id']}"), 404, "webhook_not_found")
    _refused(quiet.http.delete(f"/v1/webhooks/{made['id']}"), 404)
    _refused(quiet.http.get(f"/v1/webhooks/{made['id']}/deliveries"), 404)
    with quiet.svc.db.read() as conn:
        left: Sequence[str] = (
            conn.execute(sa.select(webhook_deliveries.c.endpoint_id)).scalars().all()
        )
    assert left == [kept["id"]]
    attempts = quiet.http.get(f"/v1/events/{event_id}/attempts").json()["data"]
    assert [(a["endpoint_id"], a["status_code"]) for a in attempts] == [(made["id"], 500)]
    assert [e["id"] for e in quiet.http.get("/v1/webhooks").json()["data"]] == [kept["id"]]


# --- rotation, disabling ----------------------------------------------------------------


def test_rotation_keeps_the_previous_secret_for_24_hours(quiet: Stack) -> None:
    """The new secret is shown once; the old one moves to `previous_secret` until now +
    24 h; a replay does not rotate again; a second rotation replaces the previous one."""
    made = _made(quiet.http)
    path = f"/v1/webhooks/{made['id']}/rotate-secret"
    rotated = quiet.http.post(path, headers={"Idempotency-Key": "rot-1"})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"].startswith("whsec_") and new["secret"] != made["secret"]
    expires = START + timedelta(hours=24)
    assert datetime.fromisoformat(new["previous_expires_at"]) == expires
    replay = quiet.http.post(path, headers={"Idempotency-Key": "rot-1"})
    assert replay.json() == {**new, "secret": None}

    row = _row(quiet, made["id"])
    assert _open(quiet, made["id"], row["secret"]) == new["secret"]
    assert _open(quiet, made["id"], row["previous_secret"]) == made["secret"]
    shown = quiet.http.get(f"/v1/webhooks/{made['id']}")
    assert shown.json()["has_previous_secret"] is True
    assert datetime.fromisoformat(shown.json()["previous_expires_at"]) == expires
    assert new["secret"] not in shown.text and made["secret"] not in shown.text

    quiet.svc.clock.advance(24 * 3600 + 1)  # type: ignore[attr-defined]
    after = quiet.http.get(f"/v1/webhooks/{made['id']}").json()
    assert after["has_previous_secret"] is False and after["previous_expires_at"] is None

    third = quiet.http.post(path).json()
    row = _row(quiet, made["id"])
    assert _open(quiet, made["id"], row["previous_secret"]) == new["secret"]
    assert _open(quiet, made["id"], row["secret"]) == third["secret"]


def test_disable_and_enable(quiet: Stack) -> None:
    """Disabling records the reason and refuses test events; enabling clears the reason
    and the failure record."""
    made = _made(quiet.http)
    path = f"/v1/webhooks/{made['id']}"
    off = quiet.http.post(f"{path}/disable", json={"reason": "maintenance until Monday"})
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    assert off.json()["disabled_reason"] == "maintenance until Monday"
    refused = _refused(quiet.http.post(f"{path}/test"), 409, "webhook_disabled")
    assert "enable it" in refused["detail"]
    # As the dispatcher leaves an endpoint it disabled after failures.
    with quiet.svc.db.write() as conn:
        conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == made["id"])
            .values(failing_since=START - timedelta(days=5), consecutive_failures=42)
        )
    failing = quiet.http.get(path).json()
    assert failing["consecutive_failures"] == 42 and failing["failing_since"] is not None
    on = quiet.http.post(f"{path}/enable")
    assert on.status_code == 200, on.text
    state = on.json()
    assert state["active"] is True and state["disabled_reason"] is None
    assert state["failing_since"] is None and state["consecutive_failures"] == 0
    assert quiet.http.get(path).json() == state
    plain = quiet.http.post(f"{path}/disable").json()
    assert plain["disabled_reason"] == "disabled by the customer"
    _refused(quiet.http.post(f"{path}/disable", json={"reason": "x" * 501}))
    _refused(quiet.http.post(f"{path}/disable", json={"reason": "a\x1bb"}), code="invalid_reason")


def test_patch_active_acts_as_disable_and_enable(quiet: Stack) -> None:
    """`active: false` disables with a reason; `active: true` enables and clears it."""
    made = _made(quiet.http)
    path = f"/v1/webhooks/{made['id']}"
    off = quiet.http.patch(path, json={"active": False}).json()
    assert off["active"] is False and off["disabled_reason"] == "disabled by the customer"
    on = quiet.http.patch(path, json={"active": True}).json()
    assert on["active"] is True and on["disabled_reason"] is None


# --- test events, deliveries, attempts, resend, recover -------------------------------------


def test_a_test_event_is_written_to_the_outbox(quiet: Stack) -> None:
    """202 with the event id; the outbox row is a `webhook.test` of this tenant and mode
    whose body names the endpoint; a replayed request writes no second event."""
    made = _made(quiet.http)
    path = f"/v1/webhooks/{made['id']}/test"
    sent = quiet.http.post(path, headers={"Idempotency-Key": "t-1"})
    assert sent.status_code == 202, sent.text
    event_id = sent.json()["event_id"]
    assert event_id.startswith("msg_")
    again = quiet.http.post(path, headers={"Idempotency-Key": "t-1"})
    assert again.json() == {"event_id": event_id}
    custom = quiet.http.post(path, json={"message": "hello from the runbook"})
    assert custom.status_code == 202
    with quiet.svc.db.read() as conn:
        rows = (
            conn.execute(
                sa.select(webhook_events)
                .where(webhook_events.c.event_type == "webhook.test")
                .order_by(webhook_events.c.id)
            )
            .mappings()
            .all()
        )
    assert [r["id"] for r in rows] == [event_id, custom.json()["event_id"]]
    first, second = rows
    assert (first["tenant_id"], first["mode"], first["event_type"]) == (
        quiet.tenant_id,
        "test",
        "webhook.test",
    )
    assert first["payload_expired"] is False and first["payload"] is not None
    event = validate_payload(first["payload"]).model_dump(mode="json")
    assert event["type"] == "webhook.test"
    assert event["data"] == {
        "endpoint_id": made["id"],
        "message": "This is a test event from crosspost.",
    }
    assert datetime.fromisoformat(event["timestamp"]) == START
    assert validate_payload(second["payload"]).model_dump(mode="json")["data"] == {
        "endpoint_id": made["id"],
        "message": "hello from the runbook",
    }
    _refused(quiet.http.post(path, json={"message": "m" * 501}))
    _refused(quiet.http.post("/v1/webhooks/whep_nope/test"), 404, "webhook_not_found")


def test_deliveries_list_filters_and_pages(quiet: Stack) -> None:
    """Newest first, by status, with a cursor; only this endpoint's."""
    made = _made(quiet.http)
    other = _made(quiet.http)
    ids = [
        _delivery(quiet, _emit(quiet), made["id"], status)
        for status in ("succeeded", "failed", "pending", "failed")
    ]
    _delivery(quiet, _emit(quiet), other["id"], "failed")
    path = f"/v1/webhooks/{made['id']}/deliveries"
    everything = quiet.http.get(path).json()
    assert [d["id"] for d in everything["data"]] == ids[::-1]
    first = everything["data"][0]
    assert first["status"] == "failed" and first["endpoint_id"] == made["id"]
    assert first["last_status_code"] == 500 and first["attempts"] == 1
    failed = quiet.http.get(path, params={"status": "failed"}).json()["data"]
    assert [d["id"] for d in failed] == [ids[3], ids[1]]
    page = quiet.http.get(path, params={"limit": 3}).json()
    assert page["has_more"] is True
    rest = quiet.http.get(path, params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [d["id"] for d in page["data"] + rest["data"]] == ids[::-1]
    _refused(quiet.http.get(path, params={"status": "lost"}))
    _refused(quiet.http.get(path, params={"limit": 0}))


def test_attempts_of_an_event_across_endpoints(quiet: Stack) -> None:
    """Every attempt of the event, each endpoint's, with status, latency and body."""
    first = _made(quiet.http)
    second = _made(quiet.http)
    event_id = _emit(quiet, "target.failed")
    one = _delivery(quiet, event_id, first["id"], "failed", attempts=2)
    two = _delivery(quiet, event_id, second["id"], "succeeded")
    _attempt(quiet, one, event_id, first["id"], 1, None)
    _attempt(quiet, one, event_id, first["id"], 2, 503)
    _attempt(quiet, two, event_id, second["id"], 1, 200)
    _attempt(quiet, two, _emit(quiet), second["id"], 1, 200)  # another event's
    answer = quiet.http.get(f"/v1/events/{event_id}/attempts")
    assert answer.status_code == 200, answer.text
    attempts = answer.json()["data"]
    seen = sorted((a["endpoint_id"], a["attempt"], a["status_code"]) for a in attempts)
    assert seen == sorted([(first["id"], 1, None), (first["id"], 2, 503), (second["id"], 1, 200)])
    refused = next(a for a in attempts if a["status_code"] is None)
    assert refused["error"] == "connection refused" and refused["latency_ms"] == 12.5
    ok = next(a for a in attempts if a["status_code"] == 200)
    assert ok["response_body"] == "ok" and ok["response_headers"] == {"content-type": "text/plain"}
    assert ok["trigger"] == "scheduled" and ok["delivery_id"] == two
    _refused(quiet.http.get("/v1/events/msg_nope/attempts"), 404, "event_not_found")


def test_resend_queues_the_event_again(quiet: Stack) -> None:
    """202 for an event the endpoint got; 409 `event_payload_expired` once retention removed
    its body; 404 for an unknown event or endpoint."""
    made = _made(quiet.http)
    event_id = _emit(quiet)
    delivery_id = _delivery(quiet, event_id, made["id"], "failed", attempts=8)
    path = f"/v1/webhooks/{made['id']}/events/{event_id}/resend"
    answer = quiet.http.post(path)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "event_id": event_id,
        "endpoint_id": made["id"],
        "delivery_id": delivery_id,
        "status": "pending",
    }
    with quiet.svc.db.read() as conn:
        row = (
            conn.execute(
                sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
            )
            .mappings()
            .one()
        )
    assert row["status"] == "pending" and row["next_attempt_at"] <= quiet.svc.clock.now()

    # An event the endpoint never got (e.g. emitted before it existed) is sent all the same.
    unsent = _emit(quiet, "target.failed")
    fresh = quiet.http.post(f"/v1/webhooks/{made['id']}/events/{unsent}/resend")
    assert fresh.status_code == 202, fresh.text
    assert fresh.json()["status"] == "pending" and fresh.json()["delivery_id"] != delivery_id

    expired = _emit(quiet)
    _delivery(quiet, expired, made["id"], "failed")
    with quiet.svc.db.write() as conn:
        conn.execute(
            webhook_events.update()
            .where(webhook_events.c.id == expired)
            .values(payload_expired=True, payload=None)
        )
    gone = _refused(
        quiet.http.post(f"/v1/webhooks/{made['id']}/events/{expired}/resend"),
        409,
        "event_payload_expired",
    )
    assert "retention" in gone["detail"] or "expired" in gone["detail"]
    _refused(quiet.http.post(f"/v1/webhooks/{made['id']}/events/msg_nope/resend"), 404)
    _refused(quiet.http.post(f"/v1/webhooks/whep_nope/events/{event_id}/resend"), 404)


def test_recover_requeues_failures_in_the_window(quiet: Stack) -> None:
    """Every failed delivery of the endpoint since the time given, plus the events in the
    window its filter matches but it never got (here: one that only another endpoint had a
    delivery for); the count answered."""
    made = _made(quiet.http)
    for status in ("failed", "failed", "succeeded", "pending"):
        _delivery(quiet, _emit(quiet), made["id"], status)
    other = _made(quiet.http)
    _delivery(quiet, _emit(quiet), other["id"], "failed")
    quiet.svc.clock.advance(3600)  # type: ignore[attr-defined]
    path = f"/v1/webhooks/{made['id']}/recover"
    since = (START - timedelta(minutes=1)).isoformat()
    answer = quiet.http.post(path, json={"since": since})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"recovered": 3}
    with quiet.svc.db.read() as conn:
        statuses: Sequence[str] = (
            conn.execute(
                sa.select(webhook_deliveries.c.status).where(
                    webhook_deliveries.c.endpoint_id == made["id"]
                )
            )
            .scalars()
            .all()
        )
    assert sorted(statuses) == ["pending", "pending", "pending", "pending", "succeeded"]
    later = (START + timedelta(minutes=1)).isoformat()
    assert quiet.http.post(path, json={"since": later}).json() == {"recovered": 0}


def test_recover_stops_at_until(quiet: Stack) -> None:
    """Only events created in [since, until) are sent again."""
    made = _made(quiet.http)
    early = _delivery(quiet, _emit(quiet), made["id"], "failed")
    quiet.svc.clock.advance(2 * 3600)  # type: ignore[attr-defined]
    late = _delivery(quiet, _emit(quiet), made["id"], "failed")
    quiet.svc.clock.advance(3600)  # type: ignore[attr-defined]
    window = {
        "since": (START - timedelta(minutes=1)).isoformat(),
        "until": (START + timedelta(hours=1)).isoformat(),
    }
    answer = quiet.http.post(f"/v1/webhooks/{made['id']}/recover", json=window)
    assert (answer.status_code, answer.json()) == (202, {"recovered": 1})
    with quiet.svc.db.read() as conn:
        statuses: dict[str, str] = dict(
            conn.execute(sa.select(webhook_deliveries.c.id, webhook_deliveries.c.status)).all()
        )
    assert statuses[early] == "pending" and statuses[late] == "failed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"since": "2026-03-01T11:00:00"}, "invalid_recover_window"),
        ({"since": "2026-03-02T00:00:00Z"}, "invalid_recover_window"),
        ({"since": "2026-03-01T11:00:00Z", "until": "2026-03-01T10:00:00Z"},
         "invalid_recover_window"),
        ({"since": "2026-03-01T11:00:00Z", "until": "2026-03-01T11:30:00"},
         "invalid_recover_window"),
        ({"since": "yesterday"}, "validation_error"),
        ({}, "validation_error"),
        ({"since": "2026-03-01T11:00:00Z", "extra": 1}, "validation_error"),
    ],
)  # fmt: skip
def test_bad_recover_windows(quiet: Stack, body: dict[str, Any], code: str) -> None:
    """A time without offset, in the future, or an empty window is refused."""
    made = _made(quiet.http)
    _refused(quiet.http.post(f"/v1/webhooks/{made['id']}/recover", json=body), code=code)


# --- isolation and scopes -----------------------------------------------------------------


def test_another_tenant_sees_nothing(quiet: Stack) -> None:
    """Every route answers 404 for another tenant's endpoint or event."""
    made = _made(quiet.http)
    event_id = _emit(quiet)
    _delivery(quiet, event_id, made["id"], "failed")
    with _client(quiet, _other_tenant(quiet)) as them:
        _assert_not_found(them, made["id"], event_id)
        assert them.get("/v1/webhooks").json()["data"] == []
        theirs = _made(them)
        assert theirs["id"] not in quiet.http.get("/v1/webhooks").text
    assert quiet.http.get(f"/v1/webhooks/{made['id']}").json()["active"] is True


def test_a_key_sees_only_endpoints_of_its_mode(quiet: Stack, live: httpx.Client) -> None:
    """A live key does not see test endpoints or events, and the reverse."""
    test_endpoint = _made(quiet.http)
    live_endpoint = _made(live, url="https://hooks.example.com/live")
    assert live_endpoint["mode"] == "live"
    event_id = _emit(quiet)
    _assert_not_found(live, test_endpoint["id"], event_id)
    _assert_not_found(quiet.http, live_endpoint["id"], _emit(quiet, mode="live"))
    assert [e["id"] for e in live.get("/v1/webhooks").json()["data"]] == [live_endpoint["id"]]
    assert [e["id"] for e in quiet.http.get("/v1/webhooks").json()["data"]] == [test_endpoint["id"]]


def _assert_not_found(client: httpx.Client, endpoint_id: str, event_id: str) -> None:
    path = f"/v1/webhooks/{endpoint_id}"
    since = {"since": "2026-03-01T00:00:00Z"}
    answers = [
        client.get(path),
        client.patch(path, json={"description": "mine now"}),
        client.post(f"{path}/rotate-secret"),
        client.post(f"{path}/disable"),
        client.post(f"{path}/enable"),
        client.post(f"{path}/test"),
        client.get(f"{path}/deliveries"),
        client.post(f"{path}/events/{event_id}/resend"),
        client.post(f"{path}/recover", json=since),
        client.get(f"/v1/events/{event_id}/attempts"),
        client.delete(path),
    ]
    for answer in answers:
        assert answer.status_code == 404, (answer.request.method, answer.request.url, answer.text)


def test_scopes(quiet: Stack) -> None:
    """Managing and reading endpoints needs `webhooks:write`; the catalogue only a key."""
    made = _made(quiet.http)
    _, viewer_key = issue_key(
        quiet.svc, tenant_id=quiet.tenant_id, name="v", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    with _client(quiet, viewer_key) as viewer:
        for answer in (
            viewer.get("/v1/webhooks"),
            viewer.get(f"/v1/webhooks/{made['id']}"),
            _create(viewer),
            viewer.post(f"/v1/webhooks/{made['id']}/test"),
            viewer.get(f"/v1/webhooks/{made['id']}/deliveries"),
        ):
            _refused(answer, 403, "insufficient_scope")
        assert viewer.get("/v1/webhooks/event-types").status_code == 200
    _refused(httpx.get(f"{quiet.api_url}/v1/webhooks/event-types"), 401, "missing_api_key")
    _refused(httpx.get(f"{quiet.api_url}/v1/webhooks"), 401)


# --- the catalogue ------------------------------------------------------------------------


def test_event_types_publish_a_schema_and_a_valid_example_for_each(quiet: Stack) -> None:
    """Every type of the catalogue, none other; each example parses with
    the catalogue's model; each schema is the catalogue's."""
    answer = quiet.http.get("/v1/webhooks/event-types")
    assert answer.status_code == 200, answer.text
    listed = answer.json()["data"]
    assert [t["type"] for t in listed] == list(EVENT_TYPES)
    assert "export.ready" in EVENT_TYPES
    for entry in listed:
        event_type = EVENT_TYPES[entry["type"]]
        assert entry["description"] == event_type.description
        assert entry["schema"] == event_type.json_schema()
        assert entry["schema"]["properties"]["type"]["const"] == entry["type"]
        assert entry["example"]["type"] == entry["type"]
        parsed = validate_payload(entry["example"]).model_dump(mode="json")
        assert parsed["data"] == entry["example"]["data"]


def test_the_openapi_document_lists_routes_and_events(quiet: Stack) -> None:
    """The routes and one `webhooks` entry per event type, with its body and example."""
    document = httpx.get(f"{quiet.api_url}/openapi.json", timeout=30).json()
    paths = document["paths"]
    for path in (
        "/v1/webhooks",
        "/v1/webhooks/event-types",
        "/v1/webhooks/{endpoint_id}",
        "/v1/webhooks/{endpoint_id}/rotate-secret",
        "/v1/webhooks/{endpoint_id}/test",
        "/v1/webhooks/{endpoint_id}/deliveries",
        "/v1/webhooks/{endpoint_id}/events/{event_id}/resend",
        "/v1/webhooks/{endpoint_id}/recover",
        "/v1/events/{event_id}/attempts",
    ):
        assert path in paths, path
    hooks = document["webhooks"]
    assert set(hooks) == set(EVENT_TYPES)
    example = hooks["post.published"]["post"]["requestBody"]["content"]["application/json"]
    assert (
        example["examples"]["example"]["value"] == EVENT_TYPES["post.published"].example_payload()
    )


def test_operator_tools_reach_endpoints_of_either_mode(quiet: Stack, live: httpx.Client) -> None:
    """What the CLI calls (`mode=None`): list both modes, test, rotate, disable and enable
    an endpoint whatever its mode; the test event takes the endpoint's mode."""
    test_endpoint = _made(quiet.http)
    live_endpoint = _made(live, url="https://hooks.example.com/live")
    svc, tenant = quiet.svc, quiet.tenant_id
    now = svc.clock.now()
    with svc.db.write() as conn:
        listed = endpoints.list_endpoints(conn, tenant_id=tenant, mode=None, limit=10)
        event_id = endpoints.send_test(
            conn, tenant_id=tenant, mode=None, endpoint_id=live_endpoint["id"], now=now
        )
        rotated = endpoints.rotate_secret(
            conn, svc.keyring, tenant_id=tenant, mode=None, endpoint_id=live_endpoint["id"], now=now
        )
        off = endpoints.disable_endpoint(
            conn, tenant_id=tenant, mode=None, endpoint_id=test_endpoint["id"], now=now
        )
        with pytest.raises(NotFound):
            endpoints.enable_endpoint(
                conn, tenant_id=tenant, mode="live", endpoint_id=test_endpoint["id"], now=now
            )
        on = endpoints.enable_endpoint(
            conn, tenant_id=tenant, mode=None, endpoint_id=test_endpoint["id"], now=now
        )
        mode = conn.execute(
            sa.select(webhook_events.c.mode).where(webhook_events.c.id == event_id)
        ).scalar()
    assert {r["id"] for r in listed} == {test_endpoint["id"], live_endpoint["id"]}
    assert mode == "live"
    assert rotated.secret.startswith("whsec_") and rotated.secret != live_endpoint["secret"]
    assert rotated.previous_expires_at == now + timedelta(hours=24)
    assert off["active"] is False and on["active"] is True
    assert live.get(f"/v1/webhooks/{live_endpoint['id']}").json()["has_previous_secret"] is True
