"""HMAC-signed requests over real HTTP: every tampered part refused, clock skew, nonce
replay (also across two API processes on one database and on one Redis), rotation grace,
the tenant's signing policy, tenant isolation, signed streamed uploads, the README's curl."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.ids import new_id
from crosspost.media.samples import make_video
from crosspost.store.db import Database
from crosspost.store.tables import media, request_nonces, tenants
from crosspost.usage.nonces import (
    REDIS_PREFIX,
    DatabaseNonceStore,
    NonceStoreUnavailable,
    RedisNonceStore,
)
from crosspost.vault.signing_secrets import carry_over
from crosspost_sdk import Client
from crosspost_sdk.signing import (
    BODY_SHA256,
    HmacAuth,
    compute_signature,
    format_timestamp,
    new_nonce,
    string_to_sign,
)
from tests.conftest import REDIS_ENV, service_url
from tests.e2e.conftest import Stack
from tests.unit.test_signing import README_SEND, README_SIGN

# Signatures and nonces are checked before any storage (nonces live in memory or Redis):
# SQLite only.
pytestmark = pytest.mark.one_database

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
POST_BODY = b'{"text":"signed hello","targets":["x"]}'
WRONG_SECRET = "cpsig_" + "A" * 43
POST_README_BODY = '{"text":"Hello from a signed request","targets":["x"]}'


@dataclass
class Signer:
    """An admin API key of the stack's tenant with a signing secret, and a way to send
    requests signed over one thing and sent as another."""

    stack: Stack
    key: str
    key_id: str
    secret: str
    secret_id: str
    now: Callable[[], datetime]

    def headers(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        """Authorization plus the signing headers for exactly these parts."""
        timestamp = timestamp or format_timestamp(self.now())
        nonce = nonce or new_nonce()
        string = string_to_sign(method, path, query, body, timestamp, nonce)
        return {
            "Authorization": f"Bearer {self.key}",
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": compute_signature(secret or self.secret, string),
        }

    def send(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request with a raw path and query (httpx keeps both as given)."""
        url = self.stack.api_url + path + (f"?{query}" if query else "")
        extra = {"Content-Type": "application/json"} if body else {}
        sent = headers if headers is not None else self.headers(method, path, query, body)
        return httpx.request(method, url, content=body, headers={**extra, **sent}, timeout=30)

    def signed(self, method: str, path: str, query: str = "", body: bytes = b"") -> httpx.Response:
        """A correctly signed request."""
        return self.send(method, path, query, body)


def _admin(stack: Stack, *, now: Callable[[], datetime] | None = None) -> Signer:
    key_id, key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="signer", mode=Mode.TEST)
    made = _new_secret(stack, key, key_id)
    return Signer(stack, key, key_id, made["secret"], made["id"], now or stack.svc.clock.now)


def _new_secret(stack: Stack, api_key: str, key_id: str, **headers: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{stack.api_url}/v1/keys/{key_id}/signing-secrets",
        headers={"Authorization": f"Bearer {api_key}", **headers},
        timeout=30,  # httpx's 5 s default is short on a machine running two test workers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (answer.status_code, answer.headers["content-type"]) == (
        status,
        "application/problem+json",
    ), answer.text
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    return problem


def _post_count(stack: Stack) -> int:
    listed = stack.http.get("/v1/posts", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    return len(listed.json()["data"])


def test_signed_requests_verify_and_each_tampered_part_is_refused(
    make_stack: Callable[..., Stack],
) -> None:
    """Method, path, query, body, timestamp, nonce and secret are all bound."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    assert signer.secret.startswith("cpsig_") and len(signer.secret) == len("cpsig_") + 43
    assert signer.signed("GET", "/v1/posts", "limit=5").status_code == 200
    created = signer.signed("POST", "/v1/posts", body=POST_BODY)
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]

    def sign(method: str, path: str, query: str = "", body: bytes = b"") -> dict[str, str]:
        return signer.headers(method, path, query, body)

    ts, nonce = format_timestamp(stack.svc.clock.now()), new_nonce()
    tampered = [
        ("GET", "/v1/posts", "", b"", sign("POST", "/v1/posts")),
        ("GET", f"/v1/posts/{post_id}", "", b"", sign("GET", "/v1/posts/post_other")),
        ("GET", "/v1/post%73", "", b"", sign("GET", "/v1/posts")),  # same route, other bytes
        ("GET", "/v1/posts", "limit=6", b"", sign("GET", "/v1/posts", "limit=5")),
        ("GET", "/v1/posts", "limit=5&limit=6", b"", sign("GET", "/v1/posts", "limit=5")),
        ("POST", "/v1/posts", "", POST_BODY + b" ", sign("POST", "/v1/posts", "", POST_BODY)),
        (
            "GET", "/v1/posts", "", b"",
            {**signer.headers("GET", "/v1/posts", timestamp=ts, nonce=nonce),
             "X-Timestamp": format_timestamp(stack.svc.clock.now() + timedelta(seconds=1))},
        ),
        (
            "GET", "/v1/posts", "", b"",
            {**signer.headers("GET", "/v1/posts", nonce=nonce), "X-Nonce": new_nonce()},
        ),
        ("GET", "/v1/posts", "", b"", signer.headers("GET", "/v1/posts", secret=WRONG_SECRET)),
    ]  # fmt: skip
    before = _post_count(stack)
    for method, path, query, body, headers in tampered:
        problem = _refused(
            signer.send(method, path, query, body, headers=headers), 401, "invalid_signature"
        )
        assert problem["detail"].startswith("Invalid signature")
        assert problem["string_to_sign"].split("\n")[:2] == [method, path]
        assert signer.secret not in json.dumps(problem)
    assert _post_count(stack) == before, "a tampered body must not create anything"
    # What a proxy may change without changing the meaning still verifies.
    reordered = signer.headers("GET", "/v1/posts", "status=published&limit=5")
    assert signer.send("GET", "/v1/posts", "limit=5&status=published", headers=reordered).is_success
    encoded = signer.headers("GET", "/v1/posts", "status=published")
    assert signer.send("GET", "/v1/posts", "status=publishe%64", headers=encoded).is_success


def test_malformed_or_missing_signing_headers_say_which_header(
    make_stack: Callable[..., Stack],
) -> None:
    """400 for a missing or malformed header (named), 401 for an unknown X-Key-Id or a key
    without a signing secret."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    good = signer.headers("GET", "/v1/posts")
    cases: list[tuple[dict[str, str], str, str]] = [
        ({k: v for k, v in good.items() if k != "X-Nonce"}, "missing_signature_header", "X-Nonce"),
        ({k: v for k, v in good.items() if k != "X-Timestamp"}, "missing_signature_header",
         "X-Timestamp"),
        ({**good, "X-Signature": "xyz"}, "invalid_signature_header", "X-Signature"),
        ({**good, "X-Nonce": "short"}, "invalid_signature_header", "X-Nonce"),
        ({**good, "X-Nonce": "n" * 20 + "!"}, "invalid_signature_header", "X-Nonce"),
        ({**good, "X-Timestamp": good["X-Timestamp"].replace("Z", ".5Z")},
         "invalid_signature_header", "X-Timestamp"),
        ({**good, "X-Timestamp": good["X-Timestamp"].replace("Z", "+00:00")},
         "invalid_signature_header", "X-Timestamp"),
    ]  # fmt: skip
    for headers, code, header in cases:
        problem = _refused(signer.send("GET", "/v1/posts", headers=headers), 400, code)
        assert problem["header"] == header and header in problem["detail"]
    unknown = {**signer.headers("GET", "/v1/posts"), "X-Key-Id": "sig_nope"}
    problem = _refused(signer.send("GET", "/v1/posts", headers=unknown), 401, "invalid_signing_key")
    assert problem["detail"].startswith("Invalid API key")
    named = {**signer.headers("GET", "/v1/posts"), "X-Key-Id": signer.secret_id}
    assert signer.send("GET", "/v1/posts", headers=named).status_code == 200
    # The stack's own key has no signing secret: a signature it sends cannot verify.
    bare = {**signer.headers("GET", "/v1/posts"), "Authorization": f"Bearer {stack.key}"}
    problem = _refused(signer.send("GET", "/v1/posts", headers=bare), 401, "no_signing_secret")
    assert "signing-secrets" in problem["detail"]


def test_clock_skew_beyond_300_seconds_is_refused(make_stack: Callable[..., Stack]) -> None:
    """|server time - X-Timestamp| ≤ 300 s passes; 301 s either way is 401 clock_skew."""
    clock = FrozenClock(START)
    stack = make_stack(workers=0, clock=clock)
    signer = _admin(stack)

    def at(offset: int) -> httpx.Response:
        stamp = format_timestamp(clock.now() + timedelta(seconds=offset))
        return signer.send(
            "GET", "/v1/posts", headers=signer.headers("GET", "/v1/posts", timestamp=stamp)
        )

    for offset in (-300, -299, 299, 300):
        answer = at(offset)
        assert answer.status_code == 200, (offset, answer.text)
    for offset in (-301, 301):
        answer = at(offset)
        problem = _refused(answer, 401, "clock_skew")
        assert problem["detail"].startswith("Clock skew too large")
        assert "301 s" in problem["detail"]
        assert problem["server_time"] == "2026-05-01T12:00:00Z"
        dates = answer.headers.get_list("date")
        assert len(dates) == 1 and parsedate_to_datetime(dates[0]).tzinfo is not None


def test_a_nonce_is_accepted_once_per_key_and_forgeries_do_not_burn_it(
    make_stack: Callable[..., Stack],
) -> None:
    """Replaying a request is 401 nonce_reused; a bad signature never records the nonce."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    nonce = new_nonce()
    forged = signer.headers("GET", "/v1/posts", nonce=nonce, secret="cpsig_" + "B" * 43)
    _refused(signer.send("GET", "/v1/posts", headers=forged), 401, "invalid_signature")
    headers = signer.headers("GET", "/v1/posts", nonce=nonce)
    assert signer.send("GET", "/v1/posts", headers=headers).status_code == 200
    problem = _refused(signer.send("GET", "/v1/posts", headers=headers), 401, "nonce_reused")
    assert problem["detail"].startswith("Nonce already used")
    fresh = signer.headers("GET", "/v1/posts", nonce=nonce)  # new timestamp, same nonce
    _refused(signer.send("GET", "/v1/posts", headers=fresh), 401, "nonce_reused")
    other = _admin(stack)  # nonces are per API key
    reused = other.send("GET", "/v1/posts", headers=other.headers("GET", "/v1/posts", nonce=nonce))
    assert reused.status_code == 200, reused.text


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(
    make_stack: Callable[..., Stack],
) -> None:
    """After a rotation both secrets verify for 24 h; then only the new one; a revoked
    secret stops at once."""
    clock = FrozenClock(START)
    stack = make_stack(workers=0, clock=clock)
    signer = _admin(stack)
    old_id, old = signer.secret_id, signer.secret
    rotated = _new_secret(stack, signer.key, signer.key_id)
    assert rotated["id"] != old_id and rotated["secret"] != old
    assert rotated["previous_expires_at"] == "2026-05-02T12:00:00Z"

    def status(secret: str, key_id: str | None = None) -> int:
        headers = signer.headers("GET", "/v1/posts", secret=secret)
        if key_id:
            headers["X-Key-Id"] = key_id
        return signer.send("GET", "/v1/posts", headers=headers).status_code

    assert (status(old), status(old, old_id), status(rotated["secret"])) == (200, 200, 200)
    clock.advance(24 * 3600 - 1)
    assert status(old) == 200
    clock.advance(2)
    assert status(old) == 401 and status(old, old_id) == 401
    assert status(rotated["secret"], rotated["id"]) == 200
    listed = httpx.get(
        f"{stack.api_url}/v1/keys/{signer.key_id}/signing-secrets",
        headers=signer.headers("GET", f"/v1/keys/{signer.key_id}/signing-secrets",
                               secret=rotated["secret"]),
    ).json()["data"]  # fmt: skip
    assert [(s["id"], s["active"]) for s in listed] == [(rotated["id"], True), (old_id, False)]
    assert all("secret" not in s for s in listed)
    path = f"/v1/keys/{signer.key_id}/signing-secrets/{rotated['id']}"
    revoking = signer.headers("DELETE", path, secret=rotated["secret"])
    gone = signer.send("DELETE", path, headers=revoking)
    assert gone.status_code == 204, gone.text
    assert status(rotated["secret"]) == 401
    missing = stack.http.delete(f"/v1/keys/{signer.key_id}/signing-secrets/sig_nope")
    _refused(missing, 404, "not_found")


def test_a_tenant_can_require_signed_requests(make_stack: Callable[..., Stack]) -> None:
    """With the policy on, an unsigned request is 400 naming X-Signature, for every key; a
    key cannot turn it on for itself without a secret; off again, unsigned passes."""
    stack = make_stack(workers=0)
    unsigned_admin_id, unsigned_admin = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="plain", mode=Mode.TEST
    )
    refused = httpx.put(
        f"{stack.api_url}/v1/signing-policy",
        json={"required": True},
        headers={"Authorization": f"Bearer {unsigned_admin}"},
    )
    _refused(refused, 409, "signing_secret_required")
    signer = _admin(stack)
    body = b'{"required":true}'
    turned_on = signer.signed("PUT", "/v1/signing-policy", body=body)
    assert turned_on.status_code == 200, turned_on.text
    policy = turned_on.json()
    assert policy["required"] is True and unsigned_admin_id in policy["keys_without_signing_secret"]
    assert signer.key_id not in policy["keys_without_signing_secret"]
    for key in (signer.key, unsigned_admin, stack.key):
        answer = httpx.get(f"{stack.api_url}/v1/posts", headers={"Authorization": f"Bearer {key}"})
        problem = _refused(answer, 400, "missing_signature_header")
        assert problem["header"] == "X-Signature" and "X-Signature" in problem["detail"]
    assert signer.signed("GET", "/v1/posts").status_code == 200
    assert signer.signed("GET", "/v1/signing-policy").json()["required"] is True
    assert signer.signed("PUT", "/v1/signing-policy", body=b'{"required":false}').is_success
    assert stack.http.get("/v1/posts").status_code == 200


def test_signing_secrets_are_admin_only_and_tenant_scoped(make_stack: Callable[..., Stack]) -> None:
    """Another tenant's key id answers 404; a viewer gets 403; a replayed creation answers
    the same secret id without the secret and creates nothing more."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    other = new_id("ten")
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": other, "name": "o", "is_default": False, "created_at": stack.svc.clock.now()},
        )
    _, theirs = issue_key(stack.svc, tenant_id=other, name="o", mode=Mode.TEST)
    base = f"{stack.api_url}/v1/keys/{signer.key_id}/signing-secrets"
    with httpx.Client(headers={"Authorization": f"Bearer {theirs}"}) as them:
        assert them.post(base).status_code == 404
        assert them.get(base).status_code == 404
        assert them.delete(f"{base}/{signer.secret_id}").status_code == 404
        # Our secret does not sign for their key.
        headers = {**signer.headers("GET", "/v1/posts"), "Authorization": f"Bearer {theirs}"}
        _refused(signer.send("GET", "/v1/posts", headers=headers), 401, "no_signing_secret")
    _, viewer = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="v", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    with httpx.Client(headers={"Authorization": f"Bearer {viewer}"}) as view:
        _refused(view.get(base), 403, "insufficient_scope")
        _refused(view.get(f"{stack.api_url}/v1/signing-policy"), 403, "insufficient_scope")
    key_id, key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="idem", mode=Mode.TEST)
    first = _new_secret(stack, key, key_id, **{"Idempotency-Key": "sig-1"})
    again = httpx.post(
        f"{stack.api_url}/v1/keys/{key_id}/signing-secrets",
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "sig-1"},
    )
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first["id"] and again.json()["secret"] is None
    listed = httpx.get(
        f"{stack.api_url}/v1/keys/{key_id}/signing-secrets",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["data"]
    assert [s["id"] for s in listed] == [first["id"]]


def test_a_rolled_keys_replacement_keeps_the_signing_secrets(
    make_stack: Callable[..., Stack],
) -> None:
    """`carry_over` (called when a key is rolled) re-seals the live secrets for the new key:
    the client signs with the secret it holds; a secret already in its grace keeps its end."""
    clock = FrozenClock(START)
    stack = make_stack(workers=0, clock=clock)
    signer = _admin(stack)
    rotated = _new_secret(stack, signer.key, signer.key_id)
    new_id_, new_key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="n", mode=Mode.TEST)
    with stack.svc.db.write() as conn:
        copied = carry_over(
            conn,
            stack.svc.keyring,
            tenant_id=stack.tenant_id,
            from_key_id=signer.key_id,
            to_key_id=new_id_,
            now=clock.now(),
        )
    assert copied == 2
    successor = Signer(stack, new_key, new_id_, rotated["secret"], "", clock.now)
    assert successor.signed("GET", "/v1/posts").status_code == 200
    old = Signer(stack, new_key, new_id_, signer.secret, "", clock.now)
    assert old.signed("GET", "/v1/posts").status_code == 200
    clock.advance(24 * 3600 + 1)
    _refused(old.signed("GET", "/v1/posts"), 401, "invalid_signature")
    assert successor.signed("GET", "/v1/posts").status_code == 200


def test_a_nonce_replayed_to_another_api_process_is_refused(
    make_stack: Callable[..., Stack],
) -> None:
    """Two API servers with their own services on one database share what they have seen."""
    first = make_stack(workers=0)
    second = make_stack(workers=0)
    signer = _admin(first)
    headers = signer.headers("GET", "/v1/posts")
    assert signer.send("GET", "/v1/posts", headers=headers).status_code == 200
    replay = httpx.get(f"{second.api_url}/v1/posts", headers=headers)
    _refused(replay, 401, "nonce_reused")


@pytest.fixture
def redis_url() -> str:
    """The test Redis. Nothing is cleaned up: each test's nonces are under key ids of its
    own and expire with their window, and a sweep would delete the nonces of a test running
    beside it (pytest-xdist), letting a replay through there."""
    return service_url(REDIS_ENV)


def test_a_nonce_replayed_to_another_api_process_is_refused_on_redis(
    make_stack: Callable[..., Stack], redis_url: str
) -> None:
    """With Redis configured, two API servers share nonces through it (not the table)."""
    first = make_stack(workers=0, redis_url=redis_url)
    second = make_stack(workers=0, redis_url=redis_url)
    signer = _admin(first)
    headers = signer.headers("GET", "/v1/posts")
    assert signer.send("GET", "/v1/posts", headers=headers).status_code == 200
    _refused(httpx.get(f"{second.api_url}/v1/posts", headers=headers), 401, "nonce_reused")

    async def ttl() -> int:
        store = RedisNonceStore.from_url(redis_url)
        left = int(await store.redis.ttl(f"{REDIS_PREFIX}{signer.key_id}:{headers['X-Nonce']}"))
        await store.close()
        return left

    assert 590 < asyncio.run(ttl()) <= 600
    with first.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(request_nonces)).scalar() == 0


def test_a_limited_signed_request_costs_one_redis_round_trip(
    make_stack: Callable[..., Stack], redis_url: str
) -> None:
    """With nonces and limits both in Redis, a signed request of a rate-limited key records
    its nonce and counts itself in one script; a replay is refused without being counted."""
    stack = make_stack(workers=0, redis_url=redis_url)
    key_id, key = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="limited", mode=Mode.TEST, tier="free"
    )
    signer = Signer(stack, key, key_id, _new_secret(stack, key, key_id)["secret"], "",
                    stack.svc.clock.now)  # fmt: skip
    signer.signed("GET", "/v1/posts")  # loads the scripts

    async def commands_during(
        send: Callable[[], httpx.Response],
    ) -> tuple[httpx.Response, list[str]]:
        seen: list[str] = []
        client = RedisNonceStore.from_url(redis_url).redis
        async with client.monitor() as monitor:
            await client.ping()  # MONITOR is on once it answers something
            answer = await asyncio.to_thread(send)
            marker = f"done-{key_id}"
            await client.get(marker)
            async for command in monitor.listen():
                text = str(command["command"])
                if marker in text:
                    break
                # Only this test's keys, and not the commands a script runs inside Redis.
                if key_id in text and command.get("client_type") != "lua":
                    seen.append(text.split(maxsplit=1)[0].upper())
        await client.aclose()
        return answer, seen

    headers = signer.headers("GET", "/v1/posts")
    answer, seen = asyncio.run(
        commands_during(lambda: signer.send("GET", "/v1/posts", headers=headers))
    )
    assert answer.status_code == 200 and answer.headers["RateLimit-Policy"]
    assert seen == ["EVALSHA"], seen
    remaining = int(answer.headers["X-RateLimit-Remaining"])
    replay, seen = asyncio.run(
        commands_during(lambda: signer.send("GET", "/v1/posts", headers=headers))
    )
    _refused(replay, 401, "nonce_reused")
    assert seen == ["EVALSHA"], seen
    after = signer.signed("GET", "/v1/posts")
    assert after.status_code == 200
    # The replay was not counted: one request later, one unit fewer than before.
    assert int(after.headers["X-RateLimit-Remaining"]) == remaining - 1


def test_database_nonce_store_is_exact_under_racing_processes(db: Database) -> None:
    """Eight threads on two engines (two processes' worth) race one nonce: one wins; it can
    be used again only after its time is up."""
    clock = FrozenClock(START)
    twin = Database(db.url)
    stores = [DatabaseNonceStore(db, clock), DatabaseNonceStore(twin, clock)]
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def race(i: int) -> None:
        barrier.wait(timeout=10)
        won = asyncio.run(stores[i % 2].remember("key_race", "n" * 24, 600))
        with lock:
            results.append(won)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * 7 + [True]
    assert asyncio.run(stores[1].remember("key_other", "n" * 24, 600)) is True
    clock.advance(600)
    assert asyncio.run(stores[0].remember("key_race", "n" * 24, 600)) is True
    assert asyncio.run(stores[1].remember("key_race", "n" * 24, 600)) is False
    twin.dispose()


def test_database_nonce_store_purges_expired_rows(db: Database) -> None:
    """Rows past their time are deleted by a later call (not kept forever)."""
    clock = FrozenClock(START)
    store = DatabaseNonceStore(db, clock, purge_every=0)
    for i in range(3):
        assert asyncio.run(store.remember("key_p", f"nonce-{i:012d}", 600))
    clock.advance(601)
    assert asyncio.run(store.remember("key_p", "nonce-fresh-00000", 600))
    with db.read() as conn:
        left: list[str] = list(conn.execute(sa.select(request_nonces.c.nonce)).scalars())
    assert left == ["nonce-fresh-00000"]


def test_redis_nonce_store_is_exact_under_racing_clients(redis_url: str) -> None:
    """Two clients (two processes' worth) race one nonce: exactly one wins."""

    async def race() -> list[bool]:
        stores = [RedisNonceStore.from_url(redis_url), RedisNonceStore.from_url(redis_url)]
        key_id = new_id("key")
        results = await asyncio.gather(
            *(stores[i % 2].remember(key_id, "r" * 24, 600) for i in range(10))
        )
        again = await stores[0].remember(key_id, "s" * 24, 600)
        for store in stores:
            await store.close()
        return [*results, again]

    results = asyncio.run(race())
    assert sorted(results[:10]) == [False] * 9 + [True] and results[10] is True


def test_unreachable_redis_refuses_rather_than_skipping_the_check() -> None:
    """No Redis: 503 nonce_store_unavailable, never an unchecked request."""

    async def attempt() -> None:
        store = RedisNonceStore.from_url("redis://127.0.0.1:9/0")
        try:
            await store.remember("key_x", "n" * 24, 600)
        finally:
            await store.close()

    with pytest.raises(NonceStoreUnavailable) as caught:
        asyncio.run(attempt())
    assert caught.value.status == 503 and caught.value.code == "nonce_store_unavailable"


def _media_count(stack: Stack) -> int:
    with stack.svc.db.read() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(media)
            .where(media.c.tenant_id == stack.tenant_id)
        ).scalar()
    return int(count or 0)


def test_signed_streamed_uploads_verify_before_the_file_is_kept(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A chunked upload (no Content-Length) is hashed as it arrives and handed to the route
    only if the signature holds; the SDK signs uploads without buffering the file."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    video = make_video(tmp_path / "clip.mp4", seconds=1.0)
    data = video.read_bytes()
    digest = hashlib.sha256(data).hexdigest()

    def upload(claimed: str) -> httpx.Response:
        pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        with httpx.Client(base_url=stack.api_url, auth=HmacAuth(signer.key, signer.secret)) as c:
            return c.post(
                "/v1/media",
                content=iter(pieces),
                headers={"Content-Type": "video/mp4", "X-Filename": "clip.mp4"},
                extensions={BODY_SHA256: claimed},
            )

    _refused(upload(hashlib.sha256(data + b"x").hexdigest()), 401, "invalid_signature")
    assert _media_count(stack) == 0
    stored = upload(digest)
    assert stored.status_code == 201, stored.text
    assert (stored.json()["sha256"], stored.json()["size_bytes"]) == (digest, len(data))
    sdk = Client(signer.key, base_url=stack.api_url, signing_secret=signer.secret)
    try:
        uploaded = sdk.media.upload(video, content_type="video/mp4")
        assert uploaded.model_dump()["sha256"] == digest
        post = sdk.posts.create({"text": "from the SDK", "targets": ["x"]})
        assert post.id.startswith("post_")
    finally:
        sdk.close()
    assert _media_count(stack) == 2


def test_the_readme_curl_example_works_against_the_api(make_stack: Callable[..., Stack]) -> None:
    """The README's openssl + curl lines, run as written, create a post on a tenant that
    requires signing."""
    stack = make_stack(workers=0)
    signer = _admin(stack)
    assert signer.signed("PUT", "/v1/signing-policy", body=b'{"required":true}').is_success
    env = {
        **os.environ,
        "CROSSPOST_API_URL": stack.api_url,
        "CROSSPOST_API_KEY": signer.key,
        "CROSSPOST_SIGNING_SECRET": signer.secret,
    }

    def run(script: str) -> Any:
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    post = run(README_SIGN + README_SEND)
    assert post["id"].startswith("post_") and post["text"] == "Hello from a signed request"
    # The README's note for a GET: the same lines with METHOD, BODY and QUERY changed.
    get = (
        README_SIGN.replace("METHOD=POST", "METHOD=GET")
        .replace("QUERY=  ", f"QUERY='limit=1&status={post['status']}'")
        .replace("BODY='" + POST_README_BODY + "'", "BODY=''")
    )
    assert "METHOD=GET" in get and "QUERY='limit" in get and "BODY=''" in get
    listed = run(get + README_SEND)
    assert [p["id"] for p in listed["data"]] == [post["id"]]
