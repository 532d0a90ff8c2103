"""JWT signing keys on SQLite and PostgreSQL: rotation by age, the JWKS window of a retired
key, agreement of racing processes, and refusal of every token we did not issue as is."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, KeySetSerialization, OctKey
from sqlalchemy import event

from crosspost.clock import FrozenClock
from crosspost.store import oauth_clients as store
from crosspost.store.db import Database
from crosspost.store.tables_identity import jwt_keys
from crosspost.vault.jwt_keys import (
    PUBLISH_GRACE,
    ExpiredAccessToken,
    InvalidAccessToken,
    SigningKeys,
)
from crosspost.vault.keyring import Keyring, VaultError, parse_master_keys

KEYRING = parse_master_keys(f"k1:{base64.b64encode(b'k' * 32).decode()}")
ROTATE = timedelta(days=30)
TTL = timedelta(minutes=15)
ISS = "https://api.example.test"
CHECKS: dict[str, Any] = {
    "iss": {"essential": True, "value": ISS},
    "aud": {"essential": True, "value": "crosspost"},
}


class StillMonotonic:
    """A monotonic clock that stands still: the key cache never ages unless told to."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def _keys(db: Database, keyring: Keyring = KEYRING, **kwargs: Any) -> SigningKeys:
    return SigningKeys(db, keyring, rotate_after=ROTATE, token_ttl=TTL, **kwargs)


def _claims(clock: FrozenClock, **over: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims = {"iss": ISS, "aud": "crosspost", "sub": "cli_1", "iat": now, "exp": now + 900}
    claims.update(over)
    return claims


def _kid(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    return str(header["kid"])


def _rows(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return store.list_jwt_keys(conn)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def test_first_token_creates_a_sealed_key_published_in_the_jwks(
    db: Database, clock: FrozenClock
) -> None:
    keys = _keys(db)
    assert keys.jwks(clock.now()) == {"keys": []}
    token = keys.sign(_claims(clock), clock.now())
    (row,) = _rows(db)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": row["id"], "typ": "at+jwt"}
    assert row["private_key"].startswith("v1.k1.") and "PRIVATE" not in row["private_key"]
    (jwk,) = keys.jwks(clock.now())["keys"]
    assert jwk["kid"] == row["id"] and jwk["use"] == "sig" and jwk["alg"] == "ES256"
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    # An independent verifier with only the published JWKS accepts the token.
    key_set = KeySet.import_key_set(cast(KeySetSerialization, keys.jwks(clock.now())))
    decoded = jwt.decode(token, key_set, algorithms=["ES256"])
    assert decoded.claims["sub"] == "cli_1"
    assert keys.verify(token, clock.now(), **CHECKS)["sub"] == "cli_1"


def test_the_sealed_private_key_opens_only_for_its_own_row(
    db: Database, clock: FrozenClock
) -> None:
    keys = _keys(db)
    keys.sign(_claims(clock), clock.now())
    (row,) = _rows(db)
    with pytest.raises(VaultError):
        KEYRING.decrypt(row["private_key"], tenant_id="-", table="jwt_keys", row_id="jwk_other")
    # Another process without the master key cannot sign with it.
    other = parse_master_keys(f"k2:{base64.b64encode(b'z' * 32).decode()}")
    with pytest.raises(VaultError):
        _keys(db, other).sign(_claims(clock), clock.now())


def test_key_rotates_by_age_and_the_retired_key_verifies_until_its_tokens_expire(
    db: Database, clock: FrozenClock
) -> None:
    keys = _keys(db)
    first = keys.sign(_claims(clock), clock.now())
    clock.advance(ROTATE.total_seconds() - 1)
    old_token = keys.sign(_claims(clock), clock.now())
    assert _kid(old_token) == _kid(first)  # not yet due

    clock.advance(1)
    new_token = keys.sign(_claims(clock), clock.now())
    rotated_at = clock.now()
    assert _kid(new_token) != _kid(first)
    by_kid = {r["id"]: r for r in _rows(db)}
    assert by_kid[_kid(first)]["retired_at"] == rotated_at
    assert by_kid[_kid(new_token)]["retired_at"] is None
    published = {k["kid"] for k in keys.jwks(clock.now())["keys"]}
    assert published == {_kid(first), _kid(new_token)}

    # The token the old key signed one second before rotation lives to its `exp`.
    clock.advance(TTL.total_seconds() - 2)
    assert keys.verify(old_token, clock.now(), **CHECKS)["sub"] == "cli_1"
    clock.advance(1)
    with pytest.raises(ExpiredAccessToken) as expired:
        keys.verify(old_token, clock.now(), **CHECKS)
    assert expired.value.code == "token_expired" and "POST /oauth/token" in expired.value.detail

    # The old key leaves the JWKS once every token it could have signed has expired...
    remaining = rotated_at + TTL + PUBLISH_GRACE - clock.now()
    clock.advance(remaining.total_seconds() - 1)
    assert _kid(first) in {k["kid"] for k in keys.jwks(clock.now())["keys"]}
    clock.advance(1)
    assert {k["kid"] for k in keys.jwks(clock.now())["keys"]} == {_kid(new_token)}
    with pytest.raises(InvalidAccessToken, match="unknown or retired key"):
        keys.verify(old_token, clock.now(), **CHECKS)

    # ...and the next rotation deletes it (its private half with it).
    clock.advance(ROTATE.total_seconds())
    third = keys.sign(_claims(clock), clock.now())
    assert {r["id"] for r in _rows(db)} == {_kid(new_token), _kid(third)}


def test_racing_processes_agree_on_one_successor(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    _keys(db).sign(_claims(clock), clock.now())
    clock.advance(ROTATE.total_seconds())
    processes = [Database(database_url) for _ in range(6)]
    signers = [_keys(d) for d in processes]
    barrier = threading.Barrier(len(signers))
    kids: list[str] = []
    errors: list[BaseException] = []

    def race(signer: SigningKeys) -> None:
        try:
            barrier.wait(timeout=10)
            kids.append(_kid(signer.sign(_claims(clock), clock.now())))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in signers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for d in processes:
        d.dispose()
    assert not errors, errors
    assert len(kids) == len(signers) and len(set(kids)) == 1
    rows = _rows(db)
    assert len(rows) == 2 and [r["id"] for r in rows if r["retired_at"] is None] == kids[:1]


def test_a_key_made_by_another_process_is_found_by_one_reload(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    still = StillMonotonic()
    verifier = _keys(db, monotonic=still)
    assert verifier.jwks(clock.now()) == {"keys": []}  # cached: no key yet, never ageing
    other = Database(database_url)
    try:
        token = _keys(other).sign(_claims(clock), clock.now())
    finally:
        other.dispose()
    assert verifier.verify(token, clock.now(), **CHECKS)["sub"] == "cli_1"


def test_verifying_reads_the_database_only_when_the_cache_ages(
    db: Database, clock: FrozenClock
) -> None:
    still = StillMonotonic()
    keys = _keys(db, monotonic=still, cache_seconds=5.0)
    token = keys.sign(_claims(clock), clock.now())
    with _count_statements(db) as statements:
        for _ in range(50):
            keys.verify(token, clock.now(), **CHECKS)
        assert statements == []
        still.value += 5.0
        keys.verify(token, clock.now(), **CHECKS)
        assert [s for s in statements if "FROM jwt_keys" in s] != []
        assert len([s for s in statements if s.startswith("SELECT")]) == 1


@pytest.fixture
def signed(db: Database, clock: FrozenClock) -> tuple[SigningKeys, str]:
    keys = _keys(db)
    return keys, keys.sign(_claims(clock), clock.now())


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _tampered_payload(token: str) -> str:
    header, payload, signature = _segments(token)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "cli_attacker"
    return f"{header}.{_b64(claims)}.{signature}"


def _tampered_signature(token: str) -> str:
    header, payload, signature = _segments(token)
    flipped = ("A" if signature[10] != "A" else "B").join([signature[:10], signature[11:]])
    return f"{header}.{payload}.{flipped}"


def _header(token: str, **changes: Any) -> str:
    header, payload, signature = _segments(token)
    data = json.loads(base64.urlsafe_b64decode(header + "=="))
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    return f"{_b64(data)}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (_tampered_payload, "signature does not verify"),
        (_tampered_signature, "signature does not verify"),
        (lambda t: _header(t, kid="jwk_01KAAAAAAAAAAAAAAAAAAAAAAA"), "unknown or retired key"),
        (lambda t: _header(t, kid="nope"), "unknown or retired key"),
        (lambda t: _header(t, kid=None), "not issued by this server"),
        (lambda t: _header(t, typ="JWT"), "typ must be at+jwt"),
        (lambda t: _header(t, alg="none"), "not issued by this server"),
        (lambda t: _header(t, jku="https://evil.example/jwks"), "not issued by this server"),
        (lambda t: t + "x", "signature does not verify"),
        (lambda t: ".".join(_segments(t)[:2]), "malformed"),
        (lambda t: "not-a-jwt", "malformed"),
        (lambda t: "eyJ" + "A" * 5000, "malformed"),
        (lambda t: t.replace("e", "é", 1), "malformed"),
    ],
)
def test_forged_or_mangled_tokens_are_refused(
    signed: tuple[SigningKeys, str], clock: FrozenClock, forge: Any, reason: str
) -> None:
    keys, token = signed
    with pytest.raises(InvalidAccessToken) as refused:
        keys.verify(forge(token), clock.now(), **CHECKS)
    assert refused.value.code == "invalid_token" and reason in refused.value.detail
    assert refused.value.status == 401
    assert "POST /oauth/token" in refused.value.detail
    assert 'error="invalid_token"' in refused.value.extra["headers"]["WWW-Authenticate"]


def test_a_foreign_key_with_our_kid_is_refused(
    signed: tuple[SigningKeys, str], clock: FrozenClock
) -> None:
    keys, token = signed
    intruder = ECKey.generate_key("P-256", {"kid": _kid(token)}, auto_kid=False)
    header = {"alg": "ES256", "kid": _kid(token), "typ": "at+jwt"}
    forged = jwt.encode(header, _claims(clock), intruder, algorithms=["ES256"])
    with pytest.raises(InvalidAccessToken, match="signature does not verify"):
        keys.verify(forged, clock.now(), **CHECKS)


def test_hmac_with_the_public_key_as_secret_is_refused(
    signed: tuple[SigningKeys, str], clock: FrozenClock
) -> None:
    """The classic algorithm confusion: HS256 keyed with the published public key."""
    keys, token = signed
    (jwk,) = keys.jwks(clock.now())["keys"]
    secret = OctKey.import_key(json.dumps(jwk).encode())
    header = {"alg": "HS256", "kid": _kid(token), "typ": "at+jwt"}
    forged = jwt.encode(header, _claims(clock), secret, algorithms=["HS256"])
    with pytest.raises(InvalidAccessToken, match="not issued by this server"):
        keys.verify(forged, clock.now(), **CHECKS)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "wrong aud claim"),
        ({"aud": None}, "lacks the aud claim"),
        ({"iss": "https://evil.example"}, "wrong iss claim"),
        ({"exp": None}, "lacks the exp claim"),
        ({"exp": "never"}, "wrong exp claim"),
        ({"iat": None}, "lacks the iat claim"),
        ({"iat": 4_000_000_000}, "wrong iat claim"),
    ],
)
def test_wrong_or_missing_claims_are_refused(
    db: Database, clock: FrozenClock, claims: dict[str, Any], reason: str
) -> None:
    keys = _keys(db)
    body = {k: v for k, v in _claims(clock, **claims).items() if v is not None}
    token = keys.sign(body, clock.now())
    with pytest.raises(InvalidAccessToken) as refused:
        keys.verify(token, clock.now(), **CHECKS)
    assert reason in refused.value.detail and refused.value.code == "invalid_token"


def test_expiry_is_judged_by_the_service_clock(db: Database, clock: FrozenClock) -> None:
    keys = _keys(db)
    token = keys.sign(_claims(clock), clock.now())
    clock.advance(899)
    assert keys.verify(token, clock.now(), **CHECKS)
    clock.advance(1)
    with pytest.raises(ExpiredAccessToken):
        keys.verify(token, clock.now(), **CHECKS)


def test_a_little_clock_skew_between_processes_is_tolerated(
    db: Database, clock: FrozenClock
) -> None:
    keys = _keys(db)
    ahead = _claims(clock, iat=int(clock.now().timestamp()) + 30)
    assert keys.verify(keys.sign(ahead, clock.now()), clock.now(), **CHECKS)


@contextmanager
def _count_statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent while inside (observed, not mocked)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_rows_hold_no_plaintext(db: Database, clock: FrozenClock) -> None:
    _keys(db).sign(_claims(clock), clock.now())
    with db.read() as conn:
        dumped = json.dumps(
            [dict(r) for r in conn.execute(sa.select(jwt_keys)).mappings()], default=str
        )
    assert "BEGIN" not in dumped and '"d"' not in dumped
