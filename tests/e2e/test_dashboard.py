"""The dashboard over real HTTP, as a browser speaks to it: signing in through the API's own
sign-in, pages that carry their security headers and no inline script, changes that need the
session's CSRF token and a same-origin form, a role that the API refuses refused on the page
too, and a key's secret shown once."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx
import pytest

from crosspost.identity.passwords import hash_password
from crosspost.identity.sandbox_owner import SANDBOX_EMAIL, ensure_sandbox_owner
from crosspost.store import people
from tests.e2e.conftest import Stack

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
_ISSUED = re.compile(r'name="issued" value="([^"]+)"')
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _browser(stack: Stack) -> httpx.Client:
    """A client that sends what a browser sends with a form of the page's own origin."""
    return httpx.Client(base_url=stack.api_url, headers={"Origin": stack.api_url}, timeout=30)


def _sign_in(stack: Stack, email: str = SANDBOX_EMAIL) -> httpx.Client:
    browser = _browser(stack)
    answer = browser.post("/app/sign-in", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/app"
    return browser


def _csrf(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def _member(stack: Stack, email: str, role: str) -> None:
    now = stack.svc.clock.now()
    with stack.svc.db.write() as conn:
        user = people.insert_user(
            conn, email=email, name=email, password_hash=hash_password(PASSWORD), now=now
        )
        people.put_membership(conn, stack.tenant_id, user["id"], role, now)


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers whose tenant has the sandbox's owner."""
    made = make_stack(workers=0)
    ensure_sandbox_owner(made.svc, made.tenant_id, PASSWORD)
    return made


def test_a_page_needs_a_session_and_signing_in_comes_back_to_it(stack: Stack) -> None:
    browser = _browser(stack)
    answer = browser.get("/app/developers/keys")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/sign-in?next=%2Fapp%2Fdevelopers%2Fkeys"
    form = browser.get(answer.headers["location"])
    assert form.status_code == 200
    assert 'name="next" value="/app/developers/keys"' in form.text
    signed = browser.post(
        "/app/sign-in",
        data={"email": SANDBOX_EMAIL, "password": PASSWORD, "next": "/app/developers/keys"},
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/app/developers/keys"
    assert "cp_session" in browser.cookies
    # Only a page of this dashboard, never another site, is where a sign-in leads.
    elsewhere = _browser(stack).post(
        "/app/sign-in",
        data={"email": SANDBOX_EMAIL, "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert elsewhere.headers["location"] == "/app"


def test_wrong_credentials_and_forged_sign_ins_are_refused_with_the_reason(stack: Stack) -> None:
    wrong = _browser(stack).post(
        "/app/sign-in", data={"email": SANDBOX_EMAIL, "password": "not it at all"}
    )
    assert wrong.status_code == 401
    assert "the email or the password is wrong" in unescape(wrong.text)
    assert "cp_session" not in wrong.cookies
    # A page on another site posting a sign-in (login CSRF) is refused before any check.
    forged = httpx.post(
        f"{stack.api_url}/app/sign-in",
        data={"email": SANDBOX_EMAIL, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "cp_session" not in forged.cookies
    # A body that is not a form is the edge's problem, as for every form endpoint.
    as_json = _browser(stack).post("/app/sign-in", json={"email": SANDBOX_EMAIL})
    assert as_json.status_code == 415
    assert as_json.json()["code"] == "form_required"


def test_pages_allow_no_inline_script_no_framing_and_no_caching(stack: Stack) -> None:
    browser = _sign_in(stack)
    for path in ("/app/sign-in", "/app/posts", "/app/developers/keys"):
        page = browser.get(path, follow_redirects=True)
        assert page.status_code == 200, (path, page.text)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert _INLINE_SCRIPT.search(page.text) is None, path
        assert re.search(r"<[^>]*\son[a-z]+=", page.text) is None, path  # no inline handler
    script = browser.get("/app/static/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text


def test_a_key_is_created_once_shown_once_and_revoked_with_the_csrf_token(stack: Stack) -> None:
    browser = _sign_in(stack)
    page = browser.get("/app/developers/keys")
    token, form_key, issued = _csrf(page), _FORM_KEY.search(page.text), _ISSUED.search(page.text)
    assert form_key is not None and issued is not None
    form = {"csrf_token": token, "form_key": form_key.group(1), "issued": issued.group(1),
            "name": "from the dashboard",
            "role": "developer", "tier": "", "expires_in_days": "30"}  # fmt: skip
    made = browser.post("/app/developers/keys", data=form)
    assert made.status_code == 201, made.text
    secret = re.search(r'value="(cp_test_[^"]+)"', made.text)
    assert secret is not None, made.text
    # The key works, with the role asked for.
    me = httpx.get(f"{stack.api_url}/v1/me", headers={"Authorization": f"Bearer {secret[1]}"})
    assert me.status_code == 200 and me.json()["role"] == "developer"
    # The same form sent twice (a double click) is the same request: one key, no secret again.
    again = browser.post("/app/developers/keys", data=form)
    assert again.status_code == 201
    assert secret[1] not in again.text and "shown then" in again.text
    listed = browser.get("/app/developers/keys")
    assert secret[1] not in listed.text
    keys = stack.http.get("/v1/keys").json()["data"]
    made_here = [k for k in keys if k["name"] == "from the dashboard"]
    assert len(made_here) == 1
    key_id = made_here[0]["id"]
    # Without the session's CSRF token the API refuses the change, and the page says so.
    forged = browser.post(f"/app/developers/keys/{key_id}/revoke", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert "csrf_token_invalid" in forged.text
    assert stack.http.get(f"/v1/keys/{key_id}").json()["revoked_at"] is None
    revoked = browser.post(f"/app/developers/keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert stack.http.get(f"/v1/keys/{key_id}").json()["revoked_at"] is not None


def test_bad_key_input_is_explained_and_nothing_is_made(stack: Stack) -> None:
    browser = _sign_in(stack)
    token = _csrf(browser.get("/app/developers/keys"))
    before = len(stack.http.get("/v1/keys").json()["data"])
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "", "role": "developer"}, 422, "name"),
        ({"name": "k", "role": "emperor"}, 422, "role"),
        ({"name": "k", "role": "developer", "tier": "platinum"}, 422, "platinum"),
        ({"name": "k", "role": "developer", "expires_in_days": "soon"}, 422, "whole number"),
    ]
    for fields, status, said in cases:
        answer = browser.post("/app/developers/keys", data={"csrf_token": token, **fields})
        assert answer.status_code == status, (fields, answer.text)
        assert said in unescape(answer.text), (fields, answer.text)
    assert len(stack.http.get("/v1/keys").json()["data"]) == before


def test_a_role_the_api_refuses_is_refused_on_the_page(stack: Stack) -> None:
    _member(stack, "dev@acme.test", "developer")
    browser = _sign_in(stack, "dev@acme.test")
    keys = browser.get("/app/developers/keys")
    assert keys.status_code == 403
    assert "insufficient_scope" in keys.text
    assert browser.get("/app/posts").status_code == 200


def test_posts_are_listed_filtered_and_shown_with_their_targets(stack: Stack) -> None:
    later = stack.http.post(
        "/v1/posts",
        json={"text": "next year's post", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"},
    ).json()
    browser = _sign_in(stack)
    listed = browser.get("/app/posts")
    assert "next year&#39;s post" in listed.text and f"/app/posts/{later['id']}" in listed.text
    assert later["id"] not in browser.get("/app/posts", params={"status": "published"}).text
    # An unknown status is no filter at all (never a 500).
    assert browser.get("/app/posts", params={"status": "nonsense"}).status_code == 200
    shown = browser.get(f"/app/posts/{later['id']}")
    assert shown.status_code == 200
    target = later["targets"][0]
    assert f'id="target-{target["id"]}"' in shown.text and "scheduled" in shown.text
    missing = browser.get("/app/posts/post_nope")
    assert missing.status_code == 404 and "/docs/errors#" in missing.text
    token = _csrf(shown)
    cancelled = browser.post(f"/app/posts/{later['id']}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert stack.http.get(f"/v1/posts/{later['id']}").json()["status"] == "cancelled"


def test_signing_out_ends_the_session(stack: Stack) -> None:
    browser = _sign_in(stack)
    token = _csrf(browser.get("/app/posts"))
    out = browser.post("/app/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/app/sign-in"
    assert browser.get("/app/posts").status_code == 303
