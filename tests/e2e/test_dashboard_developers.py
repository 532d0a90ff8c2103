"""The dashboard's credentials beyond API keys, over real HTTP: an OAuth app registered once
however often its form is sent, its secret shown once and working, a grant a person gave it
revoked, the app revoked; a client-credentials client likewise; a key's signing secret made
on the page that signs requests, the signing policy switched on and off; and every refusal
explained with the API's own words, with nothing made."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crosspost.flags.manage import kill_flag
from crosspost.identity.audit import Actor
from crosspost_sdk.signing import HmacAuth
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.dashboard import FORM_KEY, Browser, with_owner

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database

APPS, SIGNING = "/app/developers/apps", "/app/developers/signing"
CALLBACK = "http://127.0.0.1:9/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def _shown(page: httpx.Response, input_id: str) -> str:
    """The value of the page's readonly input `input_id` (a secret shown once)."""
    found = re.search(rf'id="{input_id}" class="key" readonly value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def _form_key(page: httpx.Response, suffix: str = "") -> str:
    keys = [str(k) for k in FORM_KEY.findall(page.text) if k.endswith(suffix)]
    assert keys, page.text
    return keys[0]


def _grant(stack: Stack, browser: Browser, client_id: str, secret: str) -> None:
    """The signed-in person authorises the app (authorization code with PKCE), and the app
    redeems the code: a grant."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    consent = browser.http.get("/oauth/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
        "scope": "posts:read", "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256",
    })  # fmt: skip
    assert consent.status_code == 200, consent.text
    fields: dict[str, list[str]] = {"grant": ["posts:read"], "decision": ["allow"]}
    for name, value in _HIDDEN.findall(consent.text):
        fields.setdefault(name, []).append(unescape(value))
    decided = browser.http.post("/oauth/authorize", data=fields)
    assert decided.status_code == 302, decided.text
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    token = httpx.post(f"{stack.api_url}/oauth/token", auth=(client_id, secret), timeout=30,
                       data={"grant_type": "authorization_code", "code": code,
                             "redirect_uri": CALLBACK, "code_verifier": verifier})  # fmt: skip
    assert token.status_code == 200, token.text


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers: nothing here publishes."""
    return with_owner(make_stack(workers=0))


def test_apps_clients_and_signing_secrets_are_shown_once_made_once_and_revoked(
    stack: Stack,
) -> None:
    browser = Browser(stack)
    api = stack.http

    # An OAuth app: refusals explained in the API's words, and nothing made.
    page = browser.http.get(APPS)
    assert page.status_code == 200 and _INLINE.search(page.text) is None
    assert f'href="{SIGNING}"' in page.text
    app_form = {"name": "Clipper", "client_type": "confidential", "scopes": "posts:read",
                "redirect_uris": f"{CALLBACK}\nhttps://clipper.example/back"}  # fmt: skip
    insecure = browser.post(APPS, {**app_form, "redirect_uris": "http://clipper.example/back"})
    assert insecure.status_code == 422
    assert "must use https" in unescape(insecure.text), insecure.text
    assert ">http://clipper.example/back</textarea>" in insecure.text  # kept to correct
    nameless = browser.post(APPS, {**app_form, "name": " "})
    assert nameless.status_code == 422 and "name" in unescape(nameless.text)
    assert api.get("/v1/oauth-apps").json()["data"] == []
    # Registered once, however often the form is sent; its secret on the answer page only.
    form = {**app_form, "form_key": _form_key(page)}
    made = browser.post(APPS, form)
    assert made.status_code == 201, made.text
    app_secret = _shown(made, "new-app-secret")
    again = browser.post(APPS, form)
    assert again.status_code == 201
    assert app_secret not in again.text and "shown then" in again.text
    [app] = api.get("/v1/oauth-apps").json()["data"]
    assert (app["name"], app["client_type"], app["scopes"]) == ("Clipper", "confidential",
                                                                ["posts:read"])  # fmt: skip
    assert app["redirect_uris"] == [CALLBACK, "https://clipper.example/back"]
    assert app["client_id"] in made.text
    # The secret works (the app redeems a code with it) and appears on no later page.
    _grant(stack, browser, app["client_id"], app_secret)
    listed = browser.http.get(APPS)
    assert app_secret not in listed.text and app["client_id"] in listed.text
    [grant] = api.get("/v1/oauth-grants").json()["data"]
    assert grant["id"] in listed.text
    revoked = browser.post(f"{APPS}/grants/{grant['id']}/revoke", {})
    assert revoked.status_code == 303 and revoked.headers["location"] == APPS
    assert api.get("/v1/oauth-grants").json()["data"] == []
    gone = browser.post(f"{APPS}/grants/{grant['id']}/revoke", {})
    assert gone.status_code == 404 and "no such authorization" in unescape(gone.text)
    deleted = browser.post(f"{APPS}/{app['id']}/delete", {})
    assert deleted.status_code == 303
    assert api.get(f"/v1/oauth-apps/{app['id']}").json()["revoked_at"] is not None

    # A client-credentials client: the same, and its secret buys a token.
    page = browser.http.get(APPS)
    scopeless = browser.post(f"{APPS}/clients", {"name": "Partner"})
    assert scopeless.status_code == 422 and "scopes" in unescape(scopeless.text)
    assert api.get("/v1/oauth-clients").json()["data"] == []
    form = {"name": "Partner", "scopes": "posts:read", "tier": "",
            "form_key": _form_key(page, "-client")}  # fmt: skip
    made = browser.post(f"{APPS}/clients", form)
    assert made.status_code == 201, made.text
    client_secret = _shown(made, "new-client-secret")
    again = browser.post(f"{APPS}/clients", form)
    assert client_secret not in again.text and "shown then" in again.text
    [client] = api.get("/v1/oauth-clients").json()["data"]
    token = httpx.post(f"{stack.api_url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(client["client_id"], client_secret), timeout=30)  # fmt: skip
    assert token.status_code == 200, token.text
    assert client_secret not in browser.http.get(APPS).text
    deleted = browser.post(f"{APPS}/clients/{client['id']}/delete", {})
    assert deleted.status_code == 303
    assert api.get(f"/v1/oauth-clients/{client['id']}").json()["revoked_at"] is not None

    # A signing secret for the test's own key, made on the page; it signs requests.
    [key] = [k for k in api.get("/v1/keys").json()["data"] if k["name"] == "test"]
    page = browser.http.get(SIGNING, params={"key": key["id"]})
    assert page.status_code == 200 and _INLINE.search(page.text) is None
    assert f'href="{APPS}"' in page.text and "This key has no signing secret" in page.text
    unknown = browser.post(f"{SIGNING}/keys/key_nope/secrets", {"form_key": "x"})
    assert unknown.status_code == 404 and "no API key" in unescape(unknown.text)
    form = {"form_key": _form_key(page)}
    made = browser.post(f"{SIGNING}/keys/{key['id']}/secrets", form)
    assert made.status_code == 201, made.text
    signing_secret = _shown(made, "new-signing-secret")
    again = browser.post(f"{SIGNING}/keys/{key['id']}/secrets", form)
    assert signing_secret not in again.text and "shown then" in again.text
    [listed_secret] = api.get(f"/v1/keys/{key['id']}/signing-secrets").json()["data"]
    assert listed_secret["active"] and listed_secret["id"] in made.text
    later = browser.http.get(SIGNING, params={"key": key["id"]})
    assert signing_secret not in later.text and listed_secret["id"] in later.text
    # Signing required: unsigned requests of the key are refused, signed ones answered.
    required = browser.post(f"{SIGNING}/policy", {"required": "true"})
    assert required.status_code == 303
    unsigned = api.get("/v1/signing-policy")
    assert unsigned.json()["code"] == "missing_signature_header", unsigned.text
    auth = HmacAuth(stack.key, signing_secret, listed_secret["id"])
    with httpx.Client(base_url=stack.api_url, auth=auth, timeout=30) as signed:
        policy = signed.get("/v1/signing-policy")
        assert policy.status_code == 200 and policy.json()["required"] is True
        dropped = browser.post(f"{SIGNING}/keys/{key['id']}/secrets/{listed_secret['id']}/delete",
                               {})  # fmt: skip
        assert dropped.status_code == 303
        assert dropped.headers["location"] == f"{SIGNING}?key={key['id']}"
        assert signed.get("/v1/signing-policy").status_code == 401
    assert "selected>yes</option>" in browser.http.get(SIGNING).text
    unclear = browser.post(f"{SIGNING}/policy", {"required": "maybe"})
    assert unclear.status_code == 422 and "required" in unescape(unclear.text)
    relaxed = browser.post(f"{SIGNING}/policy", {"required": "false"})
    assert relaxed.status_code == 303
    assert api.get("/v1/signing-policy").json()["required"] is False

    # Apps switched off by the operator: the page says so and still serves the clients.
    kill_flag(stack.svc.db, "oauth.apps", actor=Actor.cli(), now=stack.svc.clock.now())
    wait_until("the flag to switch apps off", lambda: "switched off" in browser.http.get(APPS).text)
    off = browser.http.get(APPS)
    assert off.status_code == 200 and client["client_id"] in off.text
    assert "Register an app" not in off.text
