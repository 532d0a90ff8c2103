"""People over real HTTP: an owner invited by mail signs in, invites a developer, creates a
key with the session (CSRF), and the key works; lockout, address limits, resets, the second
factor, signing out everywhere, and the audit trail of it all."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pyotp
import pytest

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole
from crosspost.engine import tenants
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.fakes.smtp import Received, SmtpSink
from crosspost.identity import invitations
from crosspost.identity.audit import Actor
from crosspost.store import audit
from tests.e2e.conftest import Stack

PASSWORD = "correct horse battery staple"
_LINK = re.compile(r"https?://\S+\?token=([\w-]+)")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A local SMTP server that keeps what the stack mails."""
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def people(make_stack: Callable[..., Stack], sink: SmtpSink) -> Stack:
    """A stack without workers that mails through the sink."""
    return make_stack(workers=0, smtp_host=sink.host, smtp_port=sink.port)


def _token(sink: SmtpSink, to: str, subject: str) -> str:
    def wanted(m: Received) -> bool:
        return to in m.rcpt_tos and subject in m.subject

    found = _LINK.search(sink.wait_for(wanted).text)
    assert found is not None
    return found.group(1)


def _client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=30)


def _tenant_with_owner_invitation(stack: Stack, email: str) -> str:
    svc = stack.svc
    with svc.db.write() as conn:
        tenant = tenants.create(svc, conn, name="acme", actor=Actor.cli())
        link = invitations.invite(svc, conn, tenant_id=tenant["id"], email=email,
                                  role=KeyRole.OWNER, actor=Actor.cli(),
                                  inviter_role=KeyRole.OWNER)  # fmt: skip
    assert invitations.send_invitation(svc, link) is True
    provision_sandbox_accounts(svc, tenant["id"])
    return str(tenant["id"])


def _sign_in(http: httpx.Client, email: str, password: str = PASSWORD, **extra: str) -> str:
    answer = http.post("/v1/auth/login", json={"email": email, "password": password, **extra})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


def test_owner_invites_a_developer_who_creates_a_working_key(people: Stack, sink: SmtpSink) -> None:
    """The issue's path: tenant → owner invitation by mail → sign-in → a developer invited
    and signed in → a key created with the session, which then publishes as that tenant."""
    tenant_id = _tenant_with_owner_invitation(people, "Owner@Acme.test")
    with _client(people) as owner, _client(people) as dev:
        token = _token(sink, "owner@acme.test", "invitation")
        joined = owner.post(
            "/v1/invitations/accept", json={"token": token, "name": "Olga", "password": PASSWORD}
        )
        assert joined.status_code == 200, joined.text
        again = owner.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        assert (again.status_code, again.json()["code"]) == (410, "link_used")
        csrf = _sign_in(owner, "owner@acme.test")
        cookie = owner.cookies.jar
        assert any(c.name == "cp_session" and c.has_nonstandard_attr("HttpOnly") for c in cookie)
        session = owner.get("/v1/auth/session").json()
        assert (session["tenant_id"], session["role"]) == (tenant_id, "owner")
        # A change without the CSRF token is refused; with it, it passes.
        refused = owner.post("/v1/invitations", json={"email": "dev@acme.test"})
        assert (refused.status_code, refused.json()["code"]) == (403, "csrf_token_invalid")
        invited = owner.post("/v1/invitations", json={"email": "dev@acme.test"},
                             headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert invited.status_code == 201, invited.text
        assert invited.json()["role"] == "developer" and invited.json()["url"]
        dev_token = _token(sink, "dev@acme.test", "invitation")
        accepted = dev.post(
            "/v1/invitations/accept", json={"token": dev_token, "password": PASSWORD}
        )
        assert accepted.status_code == 200
        dev_csrf = _sign_in(dev, "dev@acme.test")
        # A developer cannot manage keys; the owner can, with the session.
        assert dev.get("/v1/keys").status_code == 403
        made = owner.post("/v1/keys", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        post = httpx.post(
            f"{people.api_url}/v1/posts", json={"text": "hello", "targets": ["x"]},
            headers={"Authorization": f"Bearer {key}"}, timeout=30,
        )  # fmt: skip
        assert post.status_code == 201, post.text
        members = owner.get("/v1/users").json()["data"]
        assert [(m["email"], m["role"]) for m in members] == [
            ("dev@acme.test", "developer"), ("owner@acme.test", "owner")
        ]  # fmt: skip
        assert dev.post("/v1/auth/logout", headers={"X-CSRF-Token": dev_csrf}).status_code == 204
        assert dev.get("/v1/auth/session").status_code == 401
    with people.svc.db.read() as conn:
        actions = [e["action"] for e in reversed(audit.page(conn, tenant_id, limit=50))]
    for expected in ("tenant.created", "user.invited", "invitation.accepted", "user.signed_in",
                     "key.created", "user.signed_out"):  # fmt: skip
        assert expected in actions, actions


def test_repeated_failures_lock_the_account_and_a_reset_unlocks_it(
    people: Stack, sink: SmtpSink
) -> None:
    """Five wrong passwords lock the account (even the right one is refused then); an
    unknown email answers like a wrong password; a reset link works once and unlocks."""
    _tenant_with_owner_invitation(people, "lock@acme.test")
    with _client(people) as http:
        token = _token(sink, "lock@acme.test", "invitation")
        http.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        unknown = http.post("/v1/auth/login", json={"email": "nobody@acme.test",
                                                     "password": PASSWORD})  # fmt: skip
        wrong = http.post("/v1/auth/login", json={"email": "lock@acme.test", "password": "x"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json()["code"] == wrong.json()["code"] == "invalid_credentials"
        for _ in range(4):
            http.post("/v1/auth/login", json={"email": "lock@acme.test", "password": "x"})
        locked = http.post("/v1/auth/login", json={"email": "lock@acme.test",
                                                    "password": PASSWORD})  # fmt: skip
        assert (locked.status_code, locked.json()["code"]) == (403, "account_locked")
        assert http.post("/v1/auth/password-reset",
                         json={"email": "nobody@acme.test"}).status_code == 202  # fmt: skip
        assert http.post("/v1/auth/password-reset",
                         json={"email": "lock@acme.test"}).status_code == 202  # fmt: skip
        reset = _token(sink, "lock@acme.test", "Reset")
        weak = http.post(
            "/v1/auth/password-reset/confirm", json={"token": reset, "password": "short"}
        )
        assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
        new = "another long passphrase"
        done = http.post("/v1/auth/password-reset/confirm", json={"token": reset, "password": new})
        assert done.status_code == 204, done.text
        reused = http.post(
            "/v1/auth/password-reset/confirm", json={"token": reset, "password": new}
        )
        assert (reused.status_code, reused.json()["code"]) == (410, "link_used")
        _sign_in(http, "lock@acme.test", new)
    assert not [m for m in sink.messages if "nobody@acme.test" in m.rcpt_tos]


def test_sign_in_attempts_are_limited_per_address(make_stack: Callable[..., Stack]) -> None:
    """Past the per-minute budget of one address, sign-in answers 429 with Retry-After."""
    stack = make_stack(workers=0, login_attempts_per_minute=3)
    with _client(stack) as http:
        codes = [http.post("/v1/auth/login", json={"email": "a@b.test", "password": "x"})
                 for _ in range(4)]  # fmt: skip
    assert [c.status_code for c in codes] == [401, 401, 401, 429]
    assert codes[-1].headers.get("Retry-After")


def test_second_factor_and_signing_out_everywhere(people: Stack, sink: SmtpSink) -> None:
    """With TOTP on, sign-in needs a current code; logout-everywhere ends every session."""
    _tenant_with_owner_invitation(people, "totp@acme.test")
    with _client(people) as phone, _client(people) as laptop:
        token = _token(sink, "totp@acme.test", "invitation")
        phone.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        csrf = _sign_in(phone, "totp@acme.test")
        setup = phone.post("/v1/me/totp", headers={"X-CSRF-Token": csrf}).json()
        assert setup["otpauth_uri"].startswith("otpauth://totp/")
        totp = pyotp.TOTP(setup["secret"])
        bad = phone.post("/v1/me/totp/confirm", json={"code": "000000"},
                         headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert bad.status_code == 422 or totp.now() == "000000"
        assert phone.post("/v1/me/totp/confirm", json={"code": totp.now()},
                          headers={"X-CSRF-Token": csrf}).status_code == 204  # fmt: skip
        needs = laptop.post("/v1/auth/login", json={"email": "totp@acme.test",
                                                     "password": PASSWORD})  # fmt: skip
        assert (needs.status_code, needs.json()["code"]) == (401, "totp_required")
        _sign_in(laptop, "totp@acme.test", totp_code=totp.now())
        assert phone.post("/v1/auth/logout-everywhere",
                          headers={"X-CSRF-Token": csrf}).status_code == 204  # fmt: skip
        assert phone.get("/v1/auth/session").status_code == 401
        assert laptop.get("/v1/auth/session").status_code == 401


def test_the_last_owner_stays_and_only_owners_make_owners(people: Stack, sink: SmtpSink) -> None:
    """An admin cannot invite an owner or demote one; the last owner cannot be demoted."""
    tenant_id = _tenant_with_owner_invitation(people, "boss@acme.test")
    with _client(people) as http:
        token = _token(sink, "boss@acme.test", "invitation")
        user = http.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        csrf = _sign_in(http, "boss@acme.test")
        last = http.patch(f"/v1/users/{user.json()['id']}", json={"role": "admin"},
                          headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert (last.status_code, last.json()["code"]) == (409, "last_owner")
    assert tenant_id


def test_a_session_ends_when_idle(make_stack: Callable[..., Stack], sink: SmtpSink) -> None:
    """A session used within the idle limit lives on; unused past it, it ends."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(workers=0, clock=clock, smtp_host=sink.host, smtp_port=sink.port)
    _tenant_with_owner_invitation(stack, "idle@acme.test")
    with _client(stack) as http:
        token = _token(sink, "idle@acme.test", "invitation")
        http.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        _sign_in(http, "idle@acme.test")
        clock.advance(stack.svc.settings.session_idle_minutes * 60 - 5)
        assert http.get("/v1/auth/session").status_code == 200
        clock.advance(stack.svc.settings.session_idle_minutes * 60 + 5)
        ended = http.get("/v1/auth/session")
        assert (ended.status_code, ended.json()["code"]) == (401, "session_expired")


def test_a_person_is_rate_limited_as_the_tenants_keys_are(people: Stack, sink: SmtpSink) -> None:
    """A session in a tenant whose default tier is `free` carries that tier's limits."""
    svc = people.svc
    with svc.db.write() as conn:
        tenant = tenants.create(svc, conn, name="metered", actor=Actor.cli(), default_tier="free")
        link = invitations.invite(svc, conn, tenant_id=tenant["id"], email="m@acme.test",
                                  role=KeyRole.VIEWER, actor=Actor.cli(),
                                  inviter_role=KeyRole.OWNER)  # fmt: skip
    with _client(people) as http:
        token = link.url.split("token=")[1]
        http.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
        _sign_in(http, "m@acme.test")
        answer = http.get("/v1/posts")
    assert answer.status_code == 200, answer.text
    burst = svc.settings.rate_limit_tiers["free"]["burst"]
    assert answer.headers["X-RateLimit-Limit"] == str(burst)
