"""The Python SDK (sdks/python, `crosspost_sdk`) against a served crosspost, over real HTTP:
every endpoint has a method, a clip is published through it (sync and async), lists page
themselves, refusals become typed errors, retries resend the same idempotency key, and
requests sign themselves or authenticate as an OAuth client."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.api.document import openapi_document
from crosspost.fakes.server import serve_in_thread
from crosspost.media.samples import make_video
from crosspost.webhooks.dispatcher import WebhookDispatcher
from crosspost_sdk import (
    APIConnectionError,
    AsyncClient,
    BadRequest,
    Client,
    InvalidInput,
    NotFound,
    Retries,
    ServiceUnavailable,
    Unauthorized,
    Webhook,
    WebhookVerificationError,
    models,
)
from crosspost_sdk._resource import AsyncResource, SyncResource
from tests.e2e.conftest import Stack
from tests.relay import relay

# What this tests (a page, a client library) does not depend on the store: SQLite only.
pytestmark = pytest.mark.one_database

# Hand-written methods cover what is not generated: the live event stream.
HAND_WRITTEN = {"GET /v1/events/stream": "events.stream"}
FAST = Retries(max_retries=3, initial_delay=0.01, max_delay=0.05)


def _operations(resource: object, prefix: str = "") -> dict[str, str]:
    """`METHOD path` → dotted method name, for every generated method under `resource`."""
    found: dict[str, str] = {}
    for name, member in vars(type(resource)).items():
        if name.startswith("_") or not callable(member):
            continue
        doc = inspect.getdoc(member) or ""
        last = doc.strip().splitlines()[-1] if doc.strip() else ""
        if last.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
            found[last] = prefix + name
    for name, child in vars(resource).items():
        if isinstance(child, SyncResource | AsyncResource) and not name.startswith("_"):
            found.update(_operations(child, f"{prefix}{name}."))
    return found


def test_every_operation_of_the_document_has_a_method_in_both_clients() -> None:
    """Each operation of the OpenAPI document is a method of Client and of AsyncClient."""
    document = openapi_document()
    wanted = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for client in (Client("k"), AsyncClient("k")):
        covered = _operations(client)
        missing = wanted - set(covered) - set(HAND_WRITTEN)
        assert not missing, f"{type(client).__name__} lacks {sorted(missing)}"
        assert set(covered) <= wanted, set(covered) - wanted
    assert len(wanted) > 150
    assert callable(Client("k").events.stream)


def _client(stack: Stack, **kwargs: Any) -> Client:
    return Client(stack.key, base_url=stack.api_url, retries=FAST, **kwargs)


def test_a_clip_is_uploaded_with_progress_published_and_followed(
    stack: Stack, tmp_path: Path
) -> None:
    """upload → create → wait: models all the way, progress up to the file's size."""
    clip = tmp_path / "clip.mp4"
    make_video(clip, seconds=1.0)
    seen: list[tuple[int, int]] = []
    with _client(stack) as client:
        media = client.media.upload(clip, progress=lambda sent, total: seen.append((sent, total)))
        assert isinstance(media, models.MediaItem)
        assert seen[-1] == (clip.stat().st_size, clip.stat().st_size)
        body = models.PostCreate(
            media_id=media.id, text="via the SDK", targets=["youtube", "tiktok"]
        )
        post = client.posts.create(body)
        assert isinstance(post, models.PostPublic)
        final = client.posts.wait(post.id, timeout=60)
        assert final.status == "published", final
        assert {t.platform for t in final.targets} == {"youtube", "tiktok"}
        assert all(t.external_id for t in final.targets)
        ledger = client.posts.ledger(post.id)
        assert ledger and all(isinstance(e, models.LedgerEventPublic) for e in ledger)
        assert client.me.get().tenant.id == stack.tenant_id


def test_a_resumable_upload_is_finished_after_the_connection_drops(
    stack: Stack, tmp_path: Path
) -> None:
    """tus pieces: a lost answer mid-upload is resumed at the offset the API reports."""
    clip = tmp_path / "clip.mp4"
    make_video(clip, seconds=2.0)
    size = clip.stat().st_size
    with relay(stack.api_url) as hop, Client(stack.key, base_url=hop.url, retries=FAST) as client:
        url = client.media.start_resumable(_file(clip))
        # The HEAD passes; the first piece is stored but its answer lost; the SDK asks
        # where the upload stands and goes on from there.
        hop.faults = [("pass", 0), ("after", 503)]
        media = client.media.upload(clip, upload_url=url, chunk_size=size // 3 + 1)
        assert media.size_bytes == size
        # Three pieces, none sent twice: the one whose answer was lost was already stored,
        # which the second HEAD told.
        assert (hop.count("PATCH"), hop.count("HEAD")) == (3, 2)
    assert stack.stored_bytes(media.id) == clip.read_bytes()


def _file(path: Path) -> Any:
    from crosspost_sdk._extras import _File

    return _File.of(path, None, None)


def test_lists_walk_every_page(stack: Stack) -> None:
    """Iterating a page fetches the next ones; `.data` is one page; cursors end."""
    with _client(stack) as client:
        made = [
            client.webhooks.create(
                {"url": f"https://example.com/hook/{n}", "event_types": ["post.*"]}
            )
            for n in range(5)
        ]
        page = client.webhooks.list(limit=2)
        assert len(page.data) == 2 and page.has_more
        every = [endpoint.id for endpoint in page]
        assert sorted(every) == sorted(m.id for m in made)
        assert len(list(page.pages())) == 3


def test_refusals_are_typed_errors_with_code_detail_and_request_id(stack: Stack) -> None:
    """404, 422 and 401 each raise their class, carrying what the problem said."""
    with _client(stack) as client:
        with pytest.raises(NotFound) as missing:
            client.posts.get("post_nope")
        assert missing.value.status == 404 and missing.value.code
        assert missing.value.request_id and missing.value.request_id.startswith("req_")
        with pytest.raises(InvalidInput) as invalid:
            client.posts.create({"text": "no targets"})
        assert invalid.value.code and invalid.value.detail
        assert invalid.value.errors, invalid.value.problem
    with Client("cp_test_not_a_key", base_url=stack.api_url) as stranger:
        with pytest.raises(Unauthorized) as refused:
            stranger.me.get()
        assert refused.value.code == "invalid_api_key" and refused.value.status == 401


def test_a_lost_answer_is_retried_with_the_same_idempotency_key(stack: Stack) -> None:
    """The API creates the post, its answer is lost (503), the SDK resends with the same
    key, and the API replays the first answer: one post, not two."""
    with relay(stack.api_url) as hop, Client(stack.key, base_url=hop.url, retries=FAST) as client:
        before = len(client.posts.list(limit=100).data)
        hop.faults = [("after", 503), ("before", 429)]
        post = client.posts.create({"text": "exactly once", "targets": ["x"]})
        keys = [k for (m, p), k in zip(hop.requests, hop.idempotency_keys, strict=True)
                if m == "POST" and p == "/v1/posts"]  # fmt: skip
        assert len(keys) == 3 and len(set(keys)) == 1 and keys[0]
        assert len(client.posts.list(limit=100).data) == before + 1
        assert client.posts.get(post.id).text == "exactly once"
        # Out of retries: the last refusal is raised, typed.
        hop.faults = [("before", 503)] * 4
        with pytest.raises(ServiceUnavailable):
            client.me.get()


def test_requests_sign_themselves_when_the_tenant_requires_it(stack: Stack) -> None:
    """With a signing secret every request is signed; once signing is required, an unsigned
    client is refused and the signed one is not."""
    with _client(stack) as plain:
        caller = plain.me.get()
        assert caller.key is not None
        key_id = caller.key.id
        secret = plain.keys.signing_secrets.create(key_id)
    with _client(stack, signing_secret=secret.secret, signing_key_id=secret.id) as signed:
        signed.signing_policy.replace({"required": True})
        assert signed.me.get().tenant.id == stack.tenant_id
        assert signed.posts.create({"text": "signed", "targets": ["x"]}).id
        with _client(stack) as plain, pytest.raises(BadRequest) as unsigned:
            plain.me.get()
        assert unsigned.value.code == "missing_signature_header"
        signed.signing_policy.replace({"required": False})


def test_an_oauth_client_authenticates_with_client_credentials(stack: Stack) -> None:
    """client_id + client_secret: a token is fetched once and reused."""
    with _client(stack) as owner:
        made = owner.oauth_clients.create({"name": "partner", "scopes": ["posts:read"]})
    with relay(stack.api_url) as hop:
        partner = Client(
            base_url=hop.url, client_id=made.client_id, client_secret=made.client_secret
        )
        with partner:
            assert partner.posts.list().data is not None
            assert partner.posts.list().data is not None
        assert hop.count("POST", "/oauth/token") == 1
        assert made.client_secret and made.client_secret not in repr(partner._t.config.auth)


def test_webhook_deliveries_verify_and_a_tampered_one_does_not(stack: Stack) -> None:
    """A real delivery checks out with `Webhook(secret).verify`; changed bytes do not."""
    received: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((await request.body(), dict(request.headers)))
        return JSONResponse({})

    receiver = serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    dispatcher = WebhookDispatcher(stack.svc, poll_seconds=0.05)
    dispatcher.start()
    try:
        with _client(stack) as client:
            endpoint = client.webhooks.create(
                {"url": f"{receiver.url}/hook", "event_types": ["post.*"]}
            )
            client.webhooks.test(endpoint.id)
            deadline = time.monotonic() + 30
            while not received:
                assert time.monotonic() < deadline, "no delivery arrived"
                time.sleep(0.05)
        body, headers = received[0]
        event = Webhook(endpoint.secret).verify(body, headers)
        assert event["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError, match="no matching signature"):
            Webhook(endpoint.secret).verify(body.replace(b"test", b"tset", 1), headers)
        assert endpoint.secret not in repr(Webhook(endpoint.secret))
    finally:
        dispatcher.stop(timeout=10)
        receiver.stop()


def test_the_async_client_has_the_same_surface(stack: Stack, tmp_path: Path) -> None:
    """Upload, create, wait and walk a list with AsyncClient."""
    clip = tmp_path / "clip.mp4"
    make_video(clip, seconds=1.0)

    async def run() -> tuple[str, list[str]]:
        async with AsyncClient(stack.key, base_url=stack.api_url, retries=FAST) as client:
            media = await client.media.upload(clip)
            post = await client.posts.create(
                {"media_id": media.id, "text": "async", "targets": ["youtube"]}
            )
            final = await client.posts.wait(post.id, timeout=60)
            first = await client.posts.list(limit=1)
            ids = [p.id async for p in client.posts.list(limit=1)]
            assert len(first.data) == 1
            with pytest.raises(NotFound):
                await client.posts.get("post_nope")
            return str(final.status), ids

    status, ids = asyncio.run(run())
    assert status == "published"
    assert len(ids) >= 1 and len(ids) == len(set(ids))


def test_an_unreachable_api_is_a_connection_error_after_the_retries() -> None:
    """Nothing listening: APIConnectionError, after max_retries more attempts."""
    client = Client("k", base_url="http://127.0.0.1:9", retries=FAST)
    with pytest.raises(APIConnectionError, match="after 4 attempts"):
        client.me.get()
