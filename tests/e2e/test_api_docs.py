"""/docs and the OpenAPI document over real HTTP: the page needs nothing but this server,
its Authorize schemes work as Swagger UI uses them, and every operation's security states
what the route enforces (or the operation is one of the public ones)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from crosspost.domain.enums import Mode
from crosspost.engine.keys import ALL_SCOPES, issue_key
from crosspost.identity.operators import issue as issue_operator_key
from crosspost_sdk.signing import compute_signature, format_timestamp, new_nonce, string_to_sign
from tests.e2e.conftest import Stack

# The document and its pages are made from the code, not the store: SQLite only.
pytestmark = pytest.mark.one_database

# Operations anyone may call: what authenticates them is not an API key, if anything.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("POST", "/oauth/token"),  # the client's own id and secret
    ("POST", "/oauth/revoke"),  # the client's own id (and secret), and the token
    ("POST", "/oauth/introspect"),  # the client's own id and secret
    ("GET", "/v1/oauth/callback"),  # the single-use state
    ("GET", "/v1/media/{media_id}/content"),  # the URL's signature
    ("PUT", "/v1/uploads/{direct_upload_id}/content"),  # the upload URL's signature
    ("POST", "/v1/auth/login"),  # the person's own email and password
    ("POST", "/v1/auth/password-reset"),  # answers the same for every email
    ("POST", "/v1/auth/password-reset/confirm"),  # the mailed single-use token
    ("POST", "/v1/invitations/accept"),  # the mailed single-use token
    ("OPTIONS", "/v1/uploads/tus"),  # tus discovery: versions, extensions, limits; no data
    ("POST", "/v1/pipelines/{pipeline_id}/github-webhook"),  # GitHub's signature of the body
}
# A person's own routes: their session cookie only, never a key.
SESSION_ONLY = {
    ("GET", "/v1/auth/session"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/auth/logout-everywhere"),
    ("POST", "/v1/me/totp"),
    ("POST", "/v1/me/totp/confirm"),
    ("POST", "/v1/me/totp/disable"),
}
_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}
_ABSOLUTE = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[\w.-]", re.IGNORECASE)
_QUOTED_PATH = re.compile(r"""['"](/[^'"\s]*)['"]""")


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers: these tests only read the API."""
    return make_stack(workers=0)


@pytest.fixture
def anon(idle: Stack) -> Iterator[httpx.Client]:
    """A client with no credentials and no proxy: it reaches only the test server."""
    with httpx.Client(base_url=idle.api_url, trust_env=False, timeout=30) as client:
        yield client


def _document(anon: httpx.Client) -> dict[str, Any]:
    answer = anon.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


class _References(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


def test_the_docs_page_loads_only_what_this_server_serves(anon: httpx.Client) -> None:
    """/docs names no other origin; each file it loads (script, style, icon, document)
    comes from this server with its content type, so the page works with no network."""
    page = anon.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert _ABSOLUTE.findall(page.text) == [], "the page must load nothing from elsewhere"
    parser = _References()
    parser.feed(page.text)
    scripted = _QUOTED_PATH.findall(page.text)  # the document and OAuth redirect URLs
    urls = set(parser.urls) | set(scripted)
    assert "/openapi.json" in urls and any(u.endswith(".js") for u in parser.urls), urls
    assert any(u.endswith(".css") for u in parser.urls), urls
    for url in sorted(urls):
        assert urlsplit(url).netloc == "" and url.startswith("/"), url
        answer = anon.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        suffix = next((s for s in _CONTENT_TYPES if url.endswith(s)), None)
        if suffix is not None:
            assert answer.headers["content-type"].startswith(_CONTENT_TYPES[suffix]), url
            assert len(answer.content) > 0, url
    bundle = next(u for u in parser.urls if u.endswith(".js"))
    assert b"SwaggerUIBundle" in anon.get(bundle).content


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _required_scopes(operation: dict[str, Any], scheme: str) -> list[str]:
    return next(list(r[scheme]) for r in operation["security"] if set(r) == {scheme})


def test_authorize_with_each_declared_scheme_reaches_an_authenticated_route(
    idle: Stack, anon: httpx.Client
) -> None:
    """As Swagger UI does after Authorize: the bearer scheme's `Bearer <key>`, the signing
    schemes' headers, and a token from the OAuth 2.0 flow's tokenUrl each get a 200."""
    document = _document(anon)
    schemes = document["components"]["securitySchemes"]
    operation = document["paths"]["/v1/posts"]["get"]
    scopes = _required_scopes(operation, "bearer")
    assert scopes == ["posts:read"]

    bearer = schemes["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    header = {"Authorization": f"Bearer {idle.key}"}
    assert anon.get("/v1/posts", headers=header).status_code == 200
    assert anon.get("/v1/posts").status_code == 401

    signed = next(r for r in operation["security"] if "signature" in r and len(r) == 4)
    names = {schemes[name]["name"]: name for name in signed if name != "bearer"}
    assert all(
        schemes[n]["type"] == "apiKey" and schemes[n]["in"] == "header" for n in names.values()
    )
    made = anon.post(f"/v1/keys/{_key_id(idle)}/signing-secrets", headers=header)
    assert made.status_code == 201, made.text
    timestamp, nonce = format_timestamp(idle.svc.clock.now()), new_nonce()
    signature = compute_signature(
        made.json()["secret"], string_to_sign("GET", "/v1/posts", "", b"", timestamp, nonce)
    )
    values = {"signature": signature, "signatureTimestamp": timestamp, "signatureNonce": nonce}
    sent = {**header, **{header_name: values[n] for header_name, n in names.items()}}
    assert anon.get("/v1/posts", headers=sent).status_code == 200
    forged = {**sent, schemes["signature"]["name"]: "0" * 64, "X-Nonce": new_nonce()}
    assert anon.get("/v1/posts", headers=forged).json()["code"] == "invalid_signature"

    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert set(flow["scopes"]) == set(ALL_SCOPES)
    client = anon.post(
        "/v1/oauth-clients", headers=header, json={"name": "docs", "scopes": scopes}
    ).json()
    token_url = urljoin(f"{idle.api_url}/openapi.json", flow["tokenUrl"])
    issued = httpx.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
        auth=(client["client_id"], client["client_secret"]),
        trust_env=False,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    oauth = anon.get("/v1/posts", headers={"Authorization": f"Bearer {token}"})
    assert oauth.status_code == 200, oauth.text


def _key_id(stack: Stack) -> str:
    answer = stack.http.get("/v1/keys")
    return str(next(k["id"] for k in answer.json()["data"] if k["name"] == "test"))


def test_every_operation_is_public_or_declares_the_scopes_its_route_enforces(
    idle: Stack, anon: httpx.Client
) -> None:
    """Each operation is a listed public one, a person's own (session only), or has the six
    ways to authenticate with
    the same scopes; without credentials it answers 401, without those scopes 403
    `insufficient_scope`, and with exactly those scopes it gets past the check. The
    operator's `/v1/admin` operations take an operator key and refuse every tenant key."""
    keys: dict[tuple[str, ...], str] = {}
    _, operator_key = issue_operator_key(idle.svc, name="docs")

    def key(scopes: tuple[str, ...]) -> str:
        if scopes not in keys:
            _, keys[scopes] = issue_key(
                idle.svc, tenant_id=idle.tenant_id, name="s", mode=Mode.TEST, scopes=scopes
            )
        return keys[scopes]

    def call(method: str, path: str, api_key: str | None) -> httpx.Response:
        url = re.sub(r"\{[^}]+\}", "nothing_here", path)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
        with anon.stream(method, url, headers=headers, **body) as answer:
            # An event stream that got past the check never ends: its head is the answer.
            if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                answer.read()
            return answer

    def gets_past_the_check(answer: httpx.Response) -> bool:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return answer.status_code == 200
        code = answer.json().get("code") if answer.content.startswith(b"{") else None
        return answer.status_code != 401 and code != "insufficient_scope"

    seen: set[tuple[str, str]] = set()
    for method, path, operation in _operations(_document(anon)):
        seen.add((method, path))
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            anonymous = call(method, path, None)
            assert anonymous.status_code != 401, (method, path, anonymous.text)
            continue
        assert operation.get("security"), f"{method} {path} is neither public nor secured"
        if (method, path) in SESSION_ONLY:
            assert operation["security"] == [{"sessionCookie": []}], (method, path)
            refused = call(method, path, key(tuple(ALL_SCOPES)))
            assert (refused.status_code, refused.json()["code"]) == (401, "session_required")
            continue
        if path.startswith("/v1/admin/"):
            assert operation["security"] == [{"operatorKey": []}], (method, path)
            assert call(method, path, None).status_code == 401, (method, path)
            tenant_key = call(method, path, key(tuple(ALL_SCOPES)))
            assert (tenant_key.status_code, tenant_key.json()["code"]) == (
                403, "operator_key_required"
            ), (method, path)  # fmt: skip
            assert gets_past_the_check(call(method, path, operator_key)), (method, path)
            continue
        scopes = _required_scopes(operation, "bearer")
        signed = {"bearer": scopes, "signature": [], "signatureTimestamp": [], "signatureNonce": []}
        assert operation["security"] == [
            {"bearer": scopes},
            {"apiKeyHeader": scopes},
            {"sessionCookie": scopes},
            signed,
            {**signed, "signatureKeyId": []},
            {"oauth2": scopes},
        ], (method, path)
        assert call(method, path, None).status_code == 401, (method, path)
        if scopes:
            lacking = tuple(s for s in ALL_SCOPES if s not in scopes and s != "admin")
            refused = call(method, path, key(lacking))
            assert (refused.status_code, refused.json()["code"]) == (
                403,
                "insufficient_scope",
            ), (method, path, refused.text)
            holding = [tuple(scopes)]
        else:
            # Any key at all: two with nothing in common, so no undeclared scope passes.
            holding = [("posts:read",), ("usage:read",)]
        for granted in holding:
            answer = call(method, path, key(granted))
            assert gets_past_the_check(answer), (method, path, granted, answer.text)
    assert seen >= PUBLIC, f"public operations missing from the document: {PUBLIC - seen}"
