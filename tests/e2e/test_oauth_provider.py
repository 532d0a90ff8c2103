"""The OAuth 2.0 provider driven by an independent client, authlib's OAuth2Session, against a
served crosspost: a person signs in on the consent flow's own page, grants an app fewer
scopes than it asked, the app publishes as them, refreshes (rotation), is caught replaying
a refresh token (the whole grant ends), and revokes; and every bad request on the way."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import tenants
from crosspost.engine.keys import issue_key
from crosspost.identity import invitations
from crosspost.identity.audit import Actor
from crosspost.store import audit
from tests.e2e.conftest import Stack

PASSWORD = "a long and honest passphrase"
CALLBACK = "http://127.0.0.1:9/callback"
ASKED = "posts:write posts:read usage:read admin"


class _Form(HTMLParser):
    """The inputs of a page's form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.checkboxes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag != "input" or "name" not in found:
            return
        if found.get("type") == "checkbox":
            self.checkboxes.append(found["value"])
            if "checked" in found:
                self.fields.append((found["name"], found["value"]))
        elif found.get("type") == "hidden":
            self.fields.append((found["name"], found.get("value", "")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields as httpx sends repeated names."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _form(html: str) -> _Form:
    parsed = _Form()
    parsed.feed(html)
    return parsed


def _person(stack: Stack, email: str, role: KeyRole) -> str:
    """A member of the stack's tenant with a password; their user id."""
    svc = stack.svc
    with svc.db.write() as conn:
        link = invitations.invite(svc, conn, tenant_id=stack.tenant_id, email=email, role=role,
                                  actor=Actor.cli(), inviter_role=KeyRole.OWNER)  # fmt: skip
    token = link.url.split("token=")[1]
    user = invitations.accept(svc, token=token, name=email, password=PASSWORD, ip=None)
    return str(user["id"])


def _app(stack: Stack, **overrides: Any) -> dict[str, Any]:
    scopes = ["posts:write", "posts:read", "usage:read", "admin"]
    body = {"name": "Clipper", "client_type": "confidential", "redirect_uris": [CALLBACK],
            "scopes": scopes, **overrides}  # fmt: skip
    made = stack.http.post("/v1/oauth-apps", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _client(stack: Stack, app: dict[str, Any], scope: str = ASKED) -> OAuth2Session:
    return OAuth2Session(
        client_id=app["client_id"], client_secret=app["client_secret"], scope=scope,
        redirect_uri=CALLBACK, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if app["client_secret"] else "none",
    )  # fmt: skip


def _authorize_url(stack: Stack, client: OAuth2Session, **extra: str) -> tuple[str, str, str]:
    """The authorization URL the app sends the browser to: (url, state, code_verifier)."""
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(
        f"{stack.api_url}/oauth/authorize", code_verifier=verifier, **extra
    )
    return url, state, verifier


def _sign_in(browser: httpx.Client, url: str, email: str, password: str = PASSWORD) -> str:
    """Follow the app's link signed out: the sign-in page, then the consent page's HTML."""
    page = browser.get(url)
    assert page.status_code == 200 and "Sign in" in page.text, page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    fields = dict(_form(page.text).fields)
    signed = browser.post("/oauth/sign-in", data={**fields, "email": email, "password": password})
    assert signed.status_code == 303, signed.text
    consent = browser.get(signed.headers["location"])
    assert consent.status_code == 200, consent.text
    return consent.text


def _decide(browser: httpx.Client, html: str, *, allow: bool = True,
            drop: tuple[str, ...] = ()) -> httpx.Response:  # fmt: skip
    fields = [(k, v) for k, v in _form(html).fields if not (k == "grant" and v in drop)]
    fields.append(("decision", "allow" if allow else "deny"))
    return browser.post("/oauth/authorize", data=_multi(fields))


def _code_for(
    stack: Stack, browser: httpx.Client, client: OAuth2Session, email: str
) -> tuple[str, str]:
    """The redirect back to the app after consent: (its URL, the code_verifier)."""
    url, state, verifier = _authorize_url(stack, client)
    html = (
        browser.get(url).text
        if browser.cookies.get("cp_session")
        else _sign_in(browser, url, email)
    )
    answer = _decide(browser, html)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    return location, verifier


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose workers publish what the app posts."""
    return make_stack()


@pytest.fixture
def browser(stack: Stack) -> Iterator[httpx.Client]:
    """A person's browser: cookies kept, redirects not followed (the test looks at each)."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def test_an_app_a_person_authorises_publishes_as_them_refreshes_and_is_caught_replaying(
    stack: Stack, browser: httpx.Client
) -> None:
    user_id = _person(stack, "dev@acme.test", KeyRole.DEVELOPER)
    app = _app(stack)
    token_url = f"{stack.api_url}/oauth/token"
    client = _client(stack, app)
    url, state, verifier = _authorize_url(stack, client)
    html = _sign_in(browser, url, "dev@acme.test")
    page = " ".join(_form(html).text)
    # The page names the app and the scopes in words; admin is beyond a developer's role.
    assert "Clipper" in page and "Create and cancel posts." in page
    assert "Not available" in page and set(_form(html).checkboxes) == {
        "posts:write", "posts:read", "usage:read"
    }  # fmt: skip
    # The person grants fewer scopes than asked: no usage:read.
    answer = _decide(browser, html, drop=("usage:read",))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK) and parse_qs(urlsplit(location).query)["state"] == [state]

    token = client.fetch_token(token_url, authorization_response=location, code_verifier=verifier)
    assert token["scope"] == "posts:write posts:read" and token["refresh_token"]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    me = httpx.post(f"{stack.api_url}/oauth/introspect", data={"token": token["access_token"]},
                    auth=(app["client_id"], app["client_secret"]), timeout=30)  # fmt: skip
    assert me.status_code == 200 and me.json()["active"] is True, me.text
    assert (me.json()["sub"], me.json()["client_id"]) == (user_id, app["client_id"])

    # The app publishes as the person; what they did not grant stays closed.
    post = httpx.post(f"{stack.api_url}/v1/posts", headers=bearer, timeout=30,
                      json={"text": "posted by Clipper for dev", "targets": ["x"]})  # fmt: skip
    assert post.status_code == 201, post.text
    done = stack.wait_post(post.json()["id"], lambda p: p["status"] in ("published", "failed"))
    assert done["status"] == "published", done
    usage = httpx.get(f"{stack.api_url}/v1/usage", headers=bearer, timeout=30)
    assert (usage.status_code, usage.json()["code"]) == (403, "insufficient_scope")

    # Refresh rotates: a new refresh token, the old one spent. (The session would ask for its
    # whole first scope again, more than was granted: refused as invalid_scope.)
    first_refresh = token["refresh_token"]
    with pytest.raises(OAuthError) as wider:
        client.refresh_token(token_url, refresh_token=first_refresh)
    assert wider.value.error == "invalid_scope"
    client.scope = token["scope"]
    renewed = client.refresh_token(token_url, refresh_token=first_refresh)
    assert renewed["refresh_token"] != first_refresh and renewed["access_token"]
    fresh_bearer = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert httpx.get(f"{stack.api_url}/v1/posts", headers=fresh_bearer, timeout=30).is_success

    # A replay of the spent refresh token ends the whole grant: every token of it stops.
    with pytest.raises(OAuthError) as replayed:
        client.refresh_token(token_url, refresh_token=first_refresh)
    assert replayed.value.error == "invalid_grant"
    with pytest.raises(OAuthError):
        client.refresh_token(token_url, refresh_token=renewed["refresh_token"])
    stopped = httpx.get(f"{stack.api_url}/v1/posts", headers=fresh_bearer, timeout=30)
    assert (stopped.status_code, stopped.json()["code"]) == (401, "invalid_token")

    # Authorised again (no second sign-in: the session stays), then revoked by the app.
    location, verifier = _code_for(stack, browser, client, "dev@acme.test")
    again = client.fetch_token(token_url, authorization_response=location, code_verifier=verifier)
    revoked = client.revoke_token(f"{stack.api_url}/oauth/revoke", token=again["refresh_token"])
    assert revoked.status_code == 200, revoked.text
    gone = httpx.get(f"{stack.api_url}/v1/posts", timeout=30,
                     headers={"Authorization": f"Bearer {again['access_token']}"})  # fmt: skip
    assert gone.status_code == 401
    inactive = httpx.post(f"{stack.api_url}/oauth/introspect", timeout=30,
                          data={"token": again["access_token"]},
                          auth=(app["client_id"], app["client_secret"]))  # fmt: skip
    assert inactive.json() == {"active": False}
    with stack.svc.db.read() as conn:
        actions = {e["action"] for e in audit.page(conn, stack.tenant_id, limit=100)}
    assert {"oauth_app.created", "oauth_grant.created"} <= actions, actions


def test_people_see_and_revoke_their_grants_and_an_admin_sees_all(
    stack: Stack, browser: httpx.Client
) -> None:
    _person(stack, "dev@acme.test", KeyRole.DEVELOPER)
    app = _app(stack)
    client = _client(stack, app, scope="posts:read")
    location, verifier = _code_for(stack, browser, client, "dev@acme.test")
    token = client.fetch_token(f"{stack.api_url}/oauth/token", authorization_response=location,
                               code_verifier=verifier)  # fmt: skip
    csrf = browser.get("/v1/auth/session").json()["csrf_token"]
    mine = browser.get("/v1/oauth-grants")
    assert mine.status_code == 200, mine.text
    [grant] = mine.json()["data"]
    assert (grant["app_name"], grant["scopes"], grant["user_email"]) == (
        "Clipper", ["posts:read"], "dev@acme.test"
    )  # fmt: skip
    assert [g["id"] for g in stack.http.get("/v1/oauth-grants").json()["data"]] == [grant["id"]]
    # The app's own token cannot list grants (it is neither an admin nor the person's session
    # with more than posts:read) — it reads posts only.
    assert browser.delete(f"/v1/oauth-grants/{grant['id']}").status_code == 403  # no CSRF
    ended = browser.delete(f"/v1/oauth-grants/{grant['id']}", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204, ended.text
    assert browser.get("/v1/oauth-grants").json()["data"] == []
    refused = httpx.get(f"{stack.api_url}/v1/posts", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})  # fmt: skip
    assert refused.status_code == 401
    assert browser.delete(f"/v1/oauth-grants/{grant['id']}",
                          headers={"X-CSRF-Token": csrf}).status_code == 404  # fmt: skip


def test_a_public_app_uses_pkce_alone_and_a_code_is_good_once(
    stack: Stack, browser: httpx.Client
) -> None:
    _person(stack, "dev@acme.test", KeyRole.DEVELOPER)
    app = _app(stack, client_type="public", name="Phone app")
    assert app["client_secret"] is None
    client = _client(stack, app, scope="posts:read")
    token_url = f"{stack.api_url}/oauth/token"
    location, verifier = _code_for(stack, browser, client, "dev@acme.test")
    code = parse_qs(urlsplit(location).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "client_id": app["client_id"]}  # fmt: skip
    wrong = httpx.post(token_url, data={**exchange, "code_verifier": "x" * 50}, timeout=30)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant"), wrong.text
    missing = httpx.post(token_url, data=exchange, timeout=30)
    assert missing.json()["error"] == "invalid_request", missing.text
    good = httpx.post(token_url, data={**exchange, "code_verifier": verifier}, timeout=30)
    assert good.status_code == 200, good.text
    access = {"Authorization": f"Bearer {good.json()['access_token']}"}
    assert httpx.get(f"{stack.api_url}/v1/posts", headers=access, timeout=30).is_success
    # The same code again: refused, and what it gave is revoked (RFC 6749 §4.1.2).
    replay = httpx.post(token_url, data={**exchange, "code_verifier": verifier}, timeout=30)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert httpx.get(f"{stack.api_url}/v1/posts", headers=access, timeout=30).status_code == 401


def test_bad_authorization_requests_are_refused_where_it_is_safe_to_say_so(
    stack: Stack, browser: httpx.Client
) -> None:
    _person(stack, "dev@acme.test", KeyRole.DEVELOPER)
    app = _app(stack)
    client = _client(stack, app, scope="posts:read")
    url, _, _ = _authorize_url(stack, client)
    _sign_in(browser, url, "dev@acme.test")
    base = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
            "state": "s1", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256"}  # fmt: skip
    # Not safe to redirect: an unknown app or an unregistered redirect URI. Said before
    # anyone is asked to sign in, too: a sign-in form for a request that cannot succeed
    # would only collect a password.
    for params in ({**base, "client_id": "cli_nobody"},
                   {**base, "redirect_uri": "https://evil.test/cb"}):  # fmt: skip
        page = browser.get("/oauth/authorize", params=params)
        assert page.status_code == 400 and "cannot go on" in page.text, page.text
        with httpx.Client(base_url=stack.api_url, timeout=30) as stranger:
            page = stranger.get("/oauth/authorize", params=params)
        assert page.status_code == 400 and "cannot go on" in page.text, page.text
        assert "password" not in page.text.lower(), page.text
    # Safe to redirect, with the error and the state: PKCE missing or plain, bad scope.
    for params, error in (
        ({k: v for k, v in base.items() if not k.startswith("code_")}, "invalid_request"),
        ({**base, "code_challenge_method": "plain"}, "invalid_request"),
        ({**base, "scope": "posts:read webhooks:write"}, "invalid_scope"),
        ({**base, "response_type": "token"}, "unsupported_response_type"),
    ):
        answer = browser.get("/oauth/authorize", params=params)
        assert answer.status_code == 302, (params, answer.text)
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert (query["error"], query["state"]) == ([error], ["s1"]), params
    # A decision without the session's CSRF token is refused; a denial goes back as such.
    consent = browser.get("/oauth/authorize", params=base)
    forged = [(k, v) for k, v in _form(consent.text).fields if k != "csrf_token"]
    refused = browser.post("/oauth/authorize", data=_multi([*forged, ("decision", "allow")]))
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_token_invalid")
    denied = _decide(browser, consent.text, allow=False)
    query = parse_qs(urlsplit(denied.headers["location"]).query)
    assert (query["error"], query["state"]) == (["access_denied"], ["s1"])


def test_app_registration_refuses_unsafe_redirects_and_unknown_scopes(stack: Stack) -> None:
    good = {"name": "x", "client_type": "public", "redirect_uris": [CALLBACK],
            "scopes": ["posts:read"]}  # fmt: skip
    for change, code in (
        ({"redirect_uris": ["http://app.example.com/cb"]}, "insecure_redirect_uri"),
        ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://user:pw@app.example.com/cb"]}, "invalid_redirect_uri"),
        ({"scopes": ["posts:read", "everything"]}, "unknown_scope"),
    ):
        answer = stack.http.post("/v1/oauth-apps", json={**good, **change})
        assert (answer.status_code, answer.json()["code"]) == (422, code), (change, answer.text)
    assert stack.http.post("/v1/oauth-apps", json={**good, "client_type": "x"}).status_code == 422
    ok = stack.http.post("/v1/oauth-apps", json={**good, "redirect_uris": [
        "https://app.example.com/cb", "http://localhost:8080/cb", "http://[::1]/cb"]})  # fmt: skip
    assert ok.status_code == 201, ok.text
    app_id = ok.json()["id"]
    assert stack.http.get(f"/v1/oauth-apps/{app_id}").json()["redirect_uris"][0].startswith("https")
    assert stack.http.delete(f"/v1/oauth-apps/{app_id}").status_code == 204
    assert stack.http.get("/v1/oauth-apps").json()["data"][0]["revoked_at"] is not None


def test_token_requests_are_limited_per_client_and_address(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(workers=0, token_requests_per_minute=3)
    app = _app(stack)
    guess = {"grant_type": "refresh_token", "refresh_token": "cprt_guess"}
    wrong = (app["client_id"], "cpcs_wrong")
    answers = [
        httpx.post(f"{stack.api_url}/oauth/token", data=guess, auth=wrong, timeout=30)
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429], [a.text for a in answers]
    assert answers[-1].headers["retry-after"]


def test_the_metadata_lists_what_is_supported(stack: Stack) -> None:
    document = httpx.get(f"{stack.api_url}/.well-known/oauth-authorization-server", timeout=30)
    meta = document.json()
    assert meta["authorization_endpoint"].endswith("/oauth/authorize")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code", "refresh_token", "client_credentials"
    }  # fmt: skip
    for endpoint in ("revocation_endpoint", "introspection_endpoint", "token_endpoint"):
        assert httpx.post(meta[endpoint], timeout=30).status_code in (400, 401, 415), endpoint


def test_client_and_signing_changes_are_audited_and_a_suspended_tenant_gets_no_token(
    stack: Stack,
) -> None:
    client = stack.http.post("/v1/oauth-clients", json={"name": "ci", "scopes": ["posts:read"]})
    assert client.status_code == 201, client.text
    key_id, _ = issue_key(stack.svc, tenant_id=stack.tenant_id, name="signer", mode=Mode.TEST)
    secret = stack.http.post(f"/v1/keys/{key_id}/signing-secrets")
    assert secret.status_code == 201, secret.text
    gone = stack.http.delete(f"/v1/keys/{key_id}/signing-secrets/{secret.json()['id']}")
    assert gone.status_code == 204
    audited = stack.http.get("/v1/audit", params={"action": "signing_secret."}).json()["data"]
    assert [e["action"] for e in audited] == ["signing_secret.revoked", "signing_secret.created"]
    assert {e["target_id"] for e in audited} == {secret.json()["id"]}

    credentials = (client.json()["client_id"], client.json()["client_secret"])
    form = {"grant_type": "client_credentials"}
    token_url = f"{stack.api_url}/oauth/token"
    assert httpx.post(token_url, data=form, auth=credentials, timeout=30).status_code == 200
    with stack.svc.db.write() as conn:
        tenants.suspend(stack.svc, conn, stack.tenant_id, Actor.cli())
    refused = httpx.post(token_url, data=form, auth=credentials, timeout=30)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert "suspended" in refused.json()["error_description"]
    with stack.svc.db.write() as conn:
        tenants.resume(stack.svc, conn, stack.tenant_id, Actor.cli())
    assert stack.http.delete(f"/v1/oauth-clients/{client.json()['id']}").status_code == 204
    events = stack.http.get("/v1/audit", params={"action": "oauth_client."}).json()["data"]
    assert [e["action"] for e in events] == ["oauth_client.revoked", "oauth_client.created"]
