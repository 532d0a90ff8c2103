"""Malformed requests over real HTTP, on SQLite and PostgreSQL: each is a 4xx problem that
says what is wrong and where (the parameter, the field, the offset, the limit) and what to
send instead; none is a 500 or FastAPI's "There was an error parsing the body"."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.api.wellformed import MAX_JSON_DEPTH
from crosspost.store.tables import posts
from tests.e2e.conftest import Stack

# The edge refuses these before any handler or store runs: SQLite only.
pytestmark = pytest.mark.one_database

_JSON = {"Content-Type": "application/json"}
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_GONE = "client closed the connection before the body arrived"
_DEEP = b'{"text": "x", "targets": ["x"], "overrides": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}"


def _post(text: bytes) -> bytes:
    return b'{"text": "' + text + b'", "targets": ["x"]}'


CASES: list[tuple[str, str, bytes | None, dict[str, str], int, str, list[str]]] = [
    # (method, url, body, headers, status, code, words the detail must hold)
    ("GET", "/v1/posts?cursor=%ff%00x", None, {}, 400, "nul_character", ["`cursor`"]),
    ("GET", "/v1/posts?limit=5&cursor=%FFx", None, {}, 400, "invalid_encoding",
     ["`cursor`", "0xFF", "offset 15", "UTF-8"]),
    ("GET", "/v1/posts?cursor=100%", None, {}, 400, "invalid_encoding", ["`cursor`", "%25"]),
    ("GET", "/v1/posts/post_%00", None, {}, 400, "nul_character", ["the path"]),
    ("GET", "/v1/posts/caf%E9", None, {}, 400, "invalid_encoding", ["the path", "UTF-8"]),
    # The raw-body upload route skips the body checks, never the URL's.
    ("POST", "/v1/media?name=%00", b"x", {"Content-Type": "video/mp4"}, 400, "nul_character",
     ["`name`"]),
    ("POST", "/v1/posts", b"[" * 5000 + b"]" * 5000, _JSON, 400, "json_too_deep",
     [f"at most {MAX_JSON_DEPTH} levels"]),
    ("POST", "/v1/posts", _DEEP, _JSON, 400, "json_too_deep", ["42 levels deep"]),
    ("POST", "/v1/posts", _post(b"caf\xe9"), _JSON, 400, "invalid_encoding",
     ["offset 13", "UTF-8"]),
    ("POST", "/v1/posts", '{"text": "x", "targets": ["x"]}'.encode("utf-16"), _JSON, 400,
     "invalid_encoding", ["UTF-8"]),
    ("POST", "/v1/posts", b'{"text": "x",\n "targets": ["x"],}', _JSON, 400, "invalid_json",
     ["line 2, column 19"]),
    ("POST", "/v1/posts", _post(b"a\\ud800"), _JSON, 400, "invalid_encoding",
     ["body field `text`", "surrogate"]),
    ("POST", "/v1/posts", _post(b"a\\u0000"), _JSON, 422, "nul_character", ["body field `text`"]),
    ("POST", "/v1/posts", b'{"text": "x", "targets": ["x"], "overrides": {"x": {"n": NaN}}}',
     _JSON, 400, "invalid_json", ["NaN"]),
    ("POST", "/oauth/token", b"grant_type=client_credentials&client_id=c%00&client_secret=s",
     _FORM, 400, "nul_character", ["form field `client_id`"]),
    ("POST", "/oauth/token", b"grant_type=client_credentials&client_id=%FF&client_secret=s",
     _FORM, 400, "invalid_encoding", ["form field `client_id`"]),
    ("POST", "/oauth/token?scope=%00", b"grant_type=client_credentials", _FORM, 400,
     "nul_character", ["query parameter `scope`"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "body", "headers", "status", "code", "words"),
    CASES,
    ids=[f"{c[0]} {c[1][:30]} {c[5]}" for c in CASES],
)
def test_malformed_requests_are_explained(
    stack: Stack,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    code: str,
    words: list[str],
) -> None:
    """The problem names the parameter or field, where, and what to send; it carries the
    security headers like every answer; and nothing is written."""
    before = _posts(stack)
    response = stack.http.request(method, url, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code and problem["status"] == status, problem
    for word in words:
        assert word in problem["detail"], problem["detail"]
    assert "error parsing the body" not in problem["detail"]
    if url.startswith("/oauth/token"):  # RFC 6749 clients read `error`
        assert problem["error"] == "invalid_request", problem
    assert _posts(stack) == before


def _posts(stack: Stack) -> int:
    with stack.svc.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(posts)).scalar_one())


def test_well_formed_escapes_still_work(stack: Stack) -> None:
    """Percent-encoded UTF-8 in the path and query, and non-ASCII JSON text, are served."""
    assert stack.http.get("/v1/posts/post_caf%C3%A9").status_code == 404
    assert stack.http.get("/v1/posts", params={"cursor": "é"}).json()["code"] == "invalid_cursor"
    created = stack.http.post(
        "/v1/posts", content=_post("café \\ud83d\\ude00".encode()), headers=_JSON
    )
    assert created.status_code == 201, created.text
    assert created.json()["text"] == "café \U0001f600"
    assert httpx.get(f"{stack.api_url}/openapi.json", timeout=30).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/webhooks/{id}/test", "/v1/keys/{id}/roll", "/v1/keys/{id}/signing-secrets"],
)
def test_an_idempotent_request_on_an_overlong_path_is_answered(stack: Stack, path: str) -> None:
    """The idempotency record keeps the request's path in a 500-character column: an id
    of 600 characters was a 500 on PostgreSQL; it is the 404 of an unknown id."""
    response = stack.http.post(
        path.format(id="w" * 600), json={}, headers={"Idempotency-Key": "long-path"}
    )
    assert response.status_code == 404, response.text


# The upload route reads its body itself (the edge reads every other body whole first).
CUT_OFF = [("/v1/media", "video/mp4"), ("/v1/media", "multipart/form-data; boundary=X")]


@pytest.mark.parametrize(("path", "content_type"), CUT_OFF)
def test_a_body_cut_off_by_the_client_is_no_500(
    make_stack: Callable[..., Stack],
    caplog: pytest.LogCaptureFixture,
    path: str,
    content_type: str,
) -> None:
    """A client that closes the connection mid-upload (a killed process, a cancelled upload)
    is logged as such, without a traceback and not as an unhandled error; the API goes on."""
    stack = make_stack(workers=0)
    port = int(stack.api_url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n"
    )
    with caplog.at_level(logging.DEBUG):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head.encode() + b"--X\r\nContent-Disposition: form-data; name=")
        deadline = time.monotonic() + 10
        while not any(r.getMessage().startswith(_GONE) for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)
        assert stack.http.get("/v1/posts").status_code == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
