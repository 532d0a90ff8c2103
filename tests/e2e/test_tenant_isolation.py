"""Tenant isolation for every route that takes an id, over real HTTP on SQLite and PostgreSQL.

The operations are read from the stack's own `/openapi.json`, so a route added later is
checked without anyone listing it here: its path parameter must name a kind of id the test
knows (`_ids` below), or the test fails and says which kind to add.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import tenants
from crosspost.engine.keys import issue_key
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.identity.audit import Actor
from crosspost.ids import new_id
from crosspost.store import content_items, oauth_grants
from crosspost.store.tables import metadata
from tests.e2e.conftest import Stack
from tests.e2e.music import release_body, wav
from tests.e2e.music import upload as upload_media

_PARAM = re.compile(r"\{([^}]+)\}")
_WRITES = {"POST", "PUT", "PATCH"}
# Operations that take an id yet no credentials: what authorises them is not an API key
# (the media URL's own signature), so there is no tenant to tell apart.
PUBLIC_WITH_IDS = {
    ("GET", "/v1/media/{media_id}/content"),
    ("PUT", "/v1/uploads/{direct_upload_id}/content"),
    # GitHub's deliveries: the body's signature under the pipeline's own secret.
    ("POST", "/v1/pipelines/{pipeline_id}/github-webhook"),
}
# Path parameters that are not ids of a tenant's resources but values every tenant has:
# a route with nothing else in its path answers the caller's own (a kind of post's
# template), so there is nothing of A's to reach.
NOT_IDS = {"content_type": "daily_recap", "part": "transcript"}
# The smallest valid body of a write whose body is required: with `{}` these would answer
# 422 for the body before looking the id up, which proves nothing about isolation.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/keys/{key_id}"): {"name": "taken over"},
    ("PATCH", "/v1/webhooks/{endpoint_id}"): {"description": "taken over"},
    ("POST", "/v1/webhooks/{endpoint_id}/recover"): {"since": "2020-01-01T00:00:00Z"},
    ("PATCH", "/v1/users/{user_id}"): {"role": "owner"},
    ("POST", "/v1/projects/{project_id}/sources"): {"media_id": "med_x"},
    ("POST", "/v1/projects/{project_id}/clips"): {
        "media_id": "med_x",
        "start_seconds": 0,
        "end_seconds": 1,
    },
    ("POST", "/v1/content-items/{item_id}/review"): {"review": "approved"},
    ("PUT", "/v1/releases/{release_id}"): release_body(["med_x"], None),
    ("PUT", "/v1/releases/{release_id}/artwork"): {"media_id": "med_x"},
    ("POST", "/v1/releases/{release_id}/distributions"): {"channels": ["ddex"]},
}
# Routes that need a query to get past validation to the look-up.
QUERIES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/releases/{release_id}/distributions/estimate"): {"channels": "ddex"},
}
# Rows that change on their own while the test runs (request analytics and call counters
# flushed in the background; a key's last use).
_VOLATILE_TABLES = {"api_analytics", "usage_counters"}
_VOLATILE_COLUMNS = {"last_used_at"}


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """Tenant A: a stack without workers, so nothing changes A's rows behind the test."""
    return make_stack(workers=0)


def _document(stack: Stack) -> dict[str, Any]:
    answer = httpx.get(f"{stack.api_url}/openapi.json", trust_env=False, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _ids(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """One real resource of every kind in tenant A, made through A's API: path parameter
    name → the id of A's resource."""
    http = stack.http
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = http.post(
        "/v1/posts",
        json={
            "text": "tenant A's",
            "targets": ["x"],
            "publish_at": "2099-01-01T00:00:00Z",
        },
    )
    assert post.status_code == 201, post.text
    accounts = http.get("/v1/accounts")
    assert accounts.status_code == 200 and accounts.json(), accounts.text
    # Not the stack's own key: if a route let B revoke it, A could still check the damage.
    key_id, _ = issue_key(stack.svc, tenant_id=stack.tenant_id, name="victim", mode=Mode.TEST)
    secret = http.post(f"/v1/keys/{key_id}/signing-secrets")
    assert secret.status_code == 201, secret.text
    client = http.post("/v1/oauth-clients", json={"name": "A's app", "scopes": ["posts:read"]})
    assert client.status_code == 201, client.text
    export = http.post("/v1/exports", json={"kind": "posts"})
    assert export.status_code == 202, export.text
    kit = http.post("/v1/brand-kits", json={"name": "A's kit", "intro_media_id": media["id"]})
    assert kit.status_code == 201, kit.text
    endpoint = http.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "description": "A's"}
    )
    assert endpoint.status_code == 201, endpoint.text
    event = http.post(f"/v1/webhooks/{endpoint.json()['id']}/test")
    assert event.status_code == 202, event.text
    pending = http.post("/v1/invitations", json={"email": "pending@a.test"})
    assert pending.status_code == 201, pending.text
    joining = http.post("/v1/invitations", json={"email": "member@a.test"}).json()
    member = http.post(
        "/v1/invitations/accept",
        json={"token": joining["url"].split("token=")[1], "password": "a long passphrase"},
    )
    assert member.status_code == 200, member.text
    app = http.post(
        "/v1/oauth-apps",
        json={
            "name": "A's third-party app",
            "client_type": "public",
            "redirect_uris": ["https://a.test/cb"],
            "scopes": ["posts:read"],
        },
    )
    assert app.status_code == 201, app.text
    # A grant as the consent screen makes one (the flow itself: test_oauth_provider.py).
    grant_id, now = new_id("grt"), stack.svc.clock.now()
    with stack.svc.db.write() as conn:
        oauth_grants.insert_grant(
            conn,
            {
                "id": grant_id,
                "tenant_id": stack.tenant_id,
                "client_id": app.json()["id"],
                "user_id": member.json()["id"],
                "scopes": ["posts:read"],
                "created_at": now,
                "last_used_at": now,
            },
        )
    tus_headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "10"}
    upload = http.post("/v1/uploads/tus", headers=tus_headers)
    assert upload.status_code == 201, upload.text
    direct = http.post(
        "/v1/uploads", json={"filename": "a.mp4", "content_type": "video/mp4", "size": 10}
    )
    assert direct.status_code == 201, direct.text
    project = http.post("/v1/projects", json={"name": "A's", "source_media_ids": [media["id"]]})
    assert project.status_code == 201, project.text
    clip = http.post(
        f"/v1/projects/{project.json()['id']}/clips",
        json={"media_id": media["id"], "start_seconds": 0, "end_seconds": 1},
    )
    assert clip.status_code == 201, clip.text
    job = http.post(f"/v1/projects/{project.json()['id']}/highlights", json={})
    assert job.status_code == 202, job.text
    render = http.post(f"/v1/clips/{clip.json()['id']}/renders", json={})
    assert render.status_code == 202, render.text
    pipeline = http.post(
        "/v1/pipelines",
        json={"name": "A's", "twitch_login": "sandbox_streamer", "repositories": ["a/app"]},
    )
    assert pipeline.status_code == 201, pipeline.text
    item_id = _content_item(stack, pipeline.json()["id"])
    master = upload_media(stack, wav(), "audio/wav", "a.wav")
    release = http.post("/v1/releases", json=release_body([master], None))
    assert release.status_code == 201, release.text
    distributed = http.post(
        f"/v1/releases/{release.json()['id']}/distributions", json={"channels": ["ddex"]}
    )
    assert distributed.status_code == 202, distributed.text
    return {
        **NOT_IDS,
        "release_id": release.json()["id"],
        "distribution_id": distributed.json()["data"][0]["id"],
        "pipeline_id": pipeline.json()["id"],
        "item_id": item_id,
        "render_id": render.json()["id"],
        "project_id": project.json()["id"],
        "clip_id": clip.json()["id"],
        "job_id": job.json()["id"],
        "upload_id": upload.headers["Location"].rsplit("/", 1)[-1],
        "direct_upload_id": direct.json()["id"],
        "media_id": media["id"],
        "post_id": post.json()["id"],
        "target_id": post.json()["targets"][0]["id"],
        "account_id": accounts.json()[0]["id"],
        "key_id": key_id,
        "secret_id": secret.json()["id"],
        "client_id": client.json()["id"],
        "export_id": export.json()["id"],
        "brand_kit_id": kit.json()["id"],
        "endpoint_id": endpoint.json()["id"],
        "event_id": event.json()["event_id"],
        "invitation_id": pending.json()["id"],
        "user_id": member.json()["id"],
        "app_id": app.json()["id"],
        "grant_id": grant_id,
    }


def _content_item(stack: Stack, pipeline_id: str) -> str:
    """A content item of A's with a stored transcript, as a pipeline run leaves one (runs
    need workers, which this stack has none of; test_pipeline_run.py runs them)."""
    item_id, now = new_id("ci"), stack.svc.clock.now()
    key = f"pipeline/{stack.tenant_id}/{item_id}/transcript.json"
    with stack.svc.storage.begin_write(key) as pending:
        pending.write(b'{"language": "en", "segments": []}')
        pending.commit()
    with stack.svc.db.write() as conn:
        content_items.add_item(
            conn,
            {
                "id": item_id,
                "tenant_id": stack.tenant_id,
                "pipeline_id": pipeline_id,
                "platform": "twitch",
                "clip_id": "A-clip",
                "clip_title": "A's clip",
                "clip_url": "https://clips.twitch.tv/a",
                "clip_embed_url": "https://clips.twitch.tv/embed?clip=a",
                "clip_thumbnail_url": "https://a.test/a.jpg",
                "clip_duration": 10.0,
                "clip_view_count": 1,
                "clip_created_at": now,
                "broadcaster_name": "a",
                "creator_name": "a",
                "processing_status": "ready_for_content",
                "transcript_key": key,
                "review": "pending",
                "stored_at": now,
                "updated_at": now,
            },
        )
    return item_id


def _tenant_b(stack: Stack) -> str:
    """Tenant B with an owner key (every scope): the key's secret."""
    with stack.svc.db.write() as conn:
        row = tenants.create(stack.svc, conn, name="tenant B", actor=Actor.cli())
    _, key = issue_key(
        stack.svc, tenant_id=row["id"], name="b-owner", mode=Mode.TEST, role=KeyRole.OWNER
    )
    return key


def _tenant_of(stack: Stack, key: str) -> str:
    answer = httpx.get(f"{stack.api_url}/v1/me", headers={"X-API-Key": key}, trust_env=False)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["tenant"]["id"])


def _url(path: str, ids: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: ids[m.group(1)], path)


def _call(
    client: httpx.Client, method: str, path: str, url: str, headers: dict[str, str]
) -> httpx.Response:
    body: dict[str, Any] = {"json": BODIES.get((method, path), {})} if method in _WRITES else {}
    if (method, path) in QUERIES:
        body["params"] = QUERIES[(method, path)]
    if path.startswith("/v1/uploads/tus/"):
        # A tus request proper (its version, and for PATCH its bytes and offset).
        headers = {**headers, "Tus-Resumable": "1.0.0"}
        if method == "PATCH":
            headers |= {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
            body = {"content": b"x"}
    return client.request(method, url, headers=headers, **body)


def _rows_of(stack: Stack, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant in every table that has a tenant_id (volatile ones left out)."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    with stack.svc.db.read() as conn:
        for table in metadata.sorted_tables:
            if "tenant_id" not in table.c or table.name in _VOLATILE_TABLES:
                continue
            columns = [c for c in table.c if c.name not in _VOLATILE_COLUMNS]
            rows = conn.execute(sa.select(*columns).where(table.c.tenant_id == tenant_id))
            snapshot[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


def _reads(stack: Stack, document: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """What A's own key reads at every GET that takes an id (status and body)."""
    seen: dict[str, Any] = {}
    for method, path, operation in _operations(document):
        if method != "GET" or not _PARAM.search(path) or "security" not in operation:
            continue
        if path.startswith("/v1/admin/"):
            continue
        answer = stack.http.get(_url(path, ids))
        seen[path] = (answer.status_code, answer.text)
    return seen


def test_another_tenants_ids_answer_404_on_every_route_that_takes_one(
    idle: Stack, tmp_path: Path
) -> None:
    """Every operation of the OpenAPI document with a path parameter answers 404 problem+json
    to tenant B's owner key (as Bearer and as X-API-Key) for tenant A's ids, and A's rows and
    reads are unchanged afterwards; /v1/admin refuses B's key with 403."""
    document = _document(idle)
    ids = _ids(idle, tmp_path)
    operations = [
        (method, path, operation)
        for method, path, operation in _operations(document)
        if _PARAM.search(path)
    ]
    public = {(m, p) for m, p, op in operations if not op.get("security")}
    assert public == PUBLIC_WITH_IDS, (
        "operations taking an id without credentials changed; a new one must say here what "
        f"authorises it instead of an API key: {sorted(public ^ PUBLIC_WITH_IDS)}"
    )
    admin = [(m, p) for m, p, _ in operations if p.startswith("/v1/admin/")]
    assert admin, "the operator's /v1/admin routes are missing from the document"
    tenant_routes = [
        (m, p)
        for m, p, _ in operations
        if (m, p) not in public
        and not p.startswith("/v1/admin/")
        and not set(_PARAM.findall(p)) <= set(NOT_IDS)
    ]
    # DELETEs last: a delete that wrongly succeeded would hide what the others do.
    tenant_routes.sort(key=lambda op: op[0] == "DELETE")
    params = {name for _, path in tenant_routes for name in _PARAM.findall(path)}
    missing = sorted(params - set(ids))
    if missing:
        pytest.fail(
            f"path parameter(s) {missing} name a kind of id this test does not know: create "
            "one such resource in tenant A in `_ids` (tests/e2e/test_tenant_isolation.py) so "
            "the new routes are checked for tenant isolation"
        )
    # The ids are real: A's own key finds every one of them.
    before = _reads(idle, document, ids)
    assert all(status != 404 for status, _ in before.values()), before
    rows_before = _rows_of(idle, idle.tenant_id)
    assert all(rows_before[t] for t in ("posts", "targets", "media", "webhook_endpoints")), (
        rows_before
    )

    key_b = _tenant_b(idle)
    admin_ids = _Anything({**ids, "tenant_id": idle.tenant_id})
    wrong: list[str] = []
    with httpx.Client(base_url=idle.api_url, trust_env=False, timeout=30) as client:
        for headers in ({"Authorization": f"Bearer {key_b}"}, {"X-API-Key": key_b}):
            via = next(iter(headers))
            for method, path in tenant_routes:
                answer = _call(client, method, path, _url(path, ids), headers)
                problem = answer.headers.get("content-type") == "application/problem+json"
                if answer.status_code != 404 or not problem:
                    wrong.append(f"{method} {path} via {via}: {answer.status_code} {answer.text}")
            for method, path in admin:
                answer = _call(client, method, path, _url(path, admin_ids), headers)
                code = answer.json().get("code") if answer.content.startswith(b"{") else None
                if (answer.status_code, code) != (403, "operator_key_required"):
                    wrong.append(f"{method} {path} via {via}: {answer.status_code} {answer.text}")
    assert not wrong, "tenant B reached tenant A's resources:\n" + "\n".join(wrong)
    assert _rows_of(idle, idle.tenant_id) == rows_before
    assert _reads(idle, document, ids) == before
    victim = idle.http.get(f"/v1/keys/{ids['key_id']}").json()
    assert (victim["name"], victim["revoked_at"]) == ("victim", None)
    post = idle.http.get(f"/v1/posts/{ids['post_id']}").json()
    assert post["status"] == "scheduled", post


class _Anything(dict[str, str]):
    """The ids for /v1/admin paths: A's where known, any text otherwise (the key is
    refused before the id is looked at)."""

    def __missing__(self, name: str) -> str:
        return "anything"


def test_another_tenants_ids_in_bodies_and_queries_reach_nothing(
    idle: Stack, tmp_path: Path
) -> None:
    """Tenant A's ids given by tenant B in a body or a query (media and accounts of a post,
    a satellite's main account, a quota's key, feed and audit filters) are refused or match
    nothing: B neither uses nor sees A's resources."""
    ids = _ids(idle, tmp_path)
    key_b = _tenant_b(idle)
    tenant_b = _tenant_of(idle, key_b)
    # B has sandbox accounts of its own: a refusal is about A's id, not a missing account.
    provision_sandbox_accounts(idle.svc, tenant_b)
    rows_before = _rows_of(idle, idle.tenant_id)
    with httpx.Client(
        base_url=idle.api_url, headers={"X-API-Key": key_b}, trust_env=False, timeout=30
    ) as b:
        refused = {
            "post with A's media": b.post(
                "/v1/posts", json={"text": "mine", "targets": ["x"], "media_id": ids["media_id"]}
            ),
            "post to A's account": b.post(
                "/v1/posts", json={"text": "mine", "targets": [ids["account_id"]]}
            ),
            "validate A's media": b.post(
                "/v1/posts/validate",
                json={"text": "mine", "targets": ["x"], "media_id": ids["media_id"]},
            ),
            "satellite of A's account": b.post(
                "/v1/accounts",
                json={
                    "platform": "instagram",
                    "external_id": "b-1",
                    "handle": "b",
                    "access_token": "t",
                    "role": "satellite",
                    "parent_id": ids["account_id"],
                },
            ),
            "quota on A's key": b.put(
                "/v1/usage/quotas",
                json={"metric": "posts", "key_id": ids["key_id"], "hard_limit": 1},
            ),
            "brand kit with A's media": b.post(
                "/v1/brand-kits", json={"name": "mine", "intro_media_id": ids["media_id"]}
            ),
            "feed after A's event": b.get("/v1/events", params={"after": ids["event_id"]}),
        }
        expected = {
            "post with A's media": (422, "media_not_found"),
            "post to A's account": (422, "account_not_found"),
            "validate A's media": (422, "media_not_found"),
            "satellite of A's account": (422, "invalid_parent"),
            "quota on A's key": (404, "not_found"),
            "brand kit with A's media": (422, "media_not_found"),
            "feed after A's event": (422, "unknown_event"),
        }
        got = {what: (a.status_code, a.json().get("code")) for what, a in refused.items()}
        assert got == expected, {w: refused[w].text for w in got if got[w] != expected[w]}
        feed = b.get("/v1/events", params={"post_id": ids["post_id"]})
        assert feed.status_code == 200 and feed.json()["data"] == [], feed.text
        audit = b.get("/v1/audit", params={"target_id": ids["key_id"]})
        assert audit.status_code == 200 and audit.json()["data"] == [], audit.text
        assert b.get("/v1/posts").json()["data"] == []
        assert b.get("/v1/webhooks").json()["data"] == []
        assert b.get("/v1/exports").json()["data"] == []
        assert b.get("/v1/brand-kits").json()["data"] == []
        theirs = {a["id"] for a in b.get("/v1/accounts").json()}
        assert theirs and ids["account_id"] not in theirs
        assert {k["name"] for k in b.get("/v1/keys").json()["data"]} == {"b-owner"}
    assert _rows_of(idle, idle.tenant_id) == rows_before
