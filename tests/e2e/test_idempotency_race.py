"""The same `Idempotency-Key` sent by racing clients creates one post, and every answer is
that post: the key is claimed in the transaction that writes the post."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import sqlalchemy as sa

from crosspost.store.tables import idempotency_keys, posts
from tests.e2e.conftest import Stack


def test_racing_requests_with_one_key_create_one_post(make_stack: Callable[..., Stack]) -> None:
    """Eight clients at once, one key and body: one post, eight 201s naming it, seven of
    them replays; then a request with the key and another body is refused."""
    stack = make_stack(workers=0)
    body = {"text": "once #clip", "targets": ["x", "linkedin"], "publish_at": "2099-01-01T00:00Z"}
    headers = {"Authorization": f"Bearer {stack.key}", "Idempotency-Key": "race-1"}
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=stack.api_url, timeout=30) as client:
            start.wait(timeout=10)
            answers.append(client.post("/v1/posts", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 8
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    replayed = [a.headers.get("Idempotent-Replayed") for a in answers]
    assert replayed.count("true") == 7, replayed
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(posts)).scalar() == 1
        kept = conn.execute(sa.select(idempotency_keys.c.response_status)).scalars().all()
    assert kept == [201]

    other = stack.http.post("/v1/posts", json=body | {"text": "another"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
