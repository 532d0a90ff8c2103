"""Standard Webhooks signing (sender) and `crosspost.webhooks.verify` (receiver).

Our headers are checked by the reference `standardwebhooks` library, not only by our own
verifier, so a bug shared by both sides cannot hide.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as LibraryError

import crosspost
from crosspost.webhooks import WebhookVerificationError, verify
from crosspost.webhooks.signing import new_secret, sign, signature_headers

# The Standard Webhooks test vector (the reference libraries' own tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_NOW = datetime.fromtimestamp(VECTOR_TS, UTC)

BODY = '{"type":"post.published","timestamp":"2026-05-01T12:00:00.000Z","data":{"id":"post_1"}}'
CURRENT = new_secret()
PREVIOUS = new_secret()


def fresh_headers(*secrets: str, body: str = BODY, msg_id: str = "msg_abc") -> dict[str, str]:
    """Headers signed now (the reference library reads the real clock)."""
    return signature_headers(msg_id, int(time.time()), body, secrets, event_type="post.published")


def vector_headers(signature: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": signature,
    }


def test_the_spec_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY.encode()) == VECTOR_SIGNATURE
    headers = signature_headers(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET], event_type="x")
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    assert verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=VECTOR_NOW) == {
        "test": 2432232314
    }


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    for secret in (first, second):
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        Webhook(secret)  # the reference library accepts it


def test_headers_carry_standard_and_compatibility_names() -> None:
    headers = signature_headers("msg_1", 1700000000, BODY, [CURRENT], event_type="post.failed")
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["X-Webhook-ID"] == "msg_1"
    assert headers["X-Event"] == "post.failed"
    assert headers["User-Agent"] == f"crosspost/{crosspost.__version__}"
    assert headers["Content-Type"] == "application/json"


def test_the_reference_library_verifies_our_deliveries() -> None:
    headers = fresh_headers(CURRENT)
    assert Webhook(CURRENT).verify(BODY, headers) == {
        "type": "post.published",
        "timestamp": "2026-05-01T12:00:00.000Z",
        "data": {"id": "post_1"},
    }
    assert Webhook(CURRENT).verify(BODY.encode(), headers)["data"] == {"id": "post_1"}


def test_during_rotation_both_secrets_verify() -> None:
    headers = fresh_headers(CURRENT, PREVIOUS)
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2
    now = int(headers["webhook-timestamp"])
    assert entries[0] == sign(CURRENT, "msg_abc", now, BODY)  # current first
    assert entries[1] == sign(PREVIOUS, "msg_abc", now, BODY)
    for secret in (CURRENT, PREVIOUS):
        assert Webhook(secret).verify(BODY, headers)["type"] == "post.published"
        assert verify(BODY, headers, secret)["type"] == "post.published"
    with pytest.raises(LibraryError):
        Webhook(new_secret()).verify(BODY, headers)


@pytest.mark.parametrize("field", ["body", "webhook-id", "webhook-timestamp"])
def test_tampering_fails_verification(field: str) -> None:
    headers = fresh_headers(CURRENT)
    body = BODY
    if field == "body":
        body = BODY.replace("post_1", "post_2")
    elif field == "webhook-id":
        headers["webhook-id"] = "msg_other"
    else:
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(LibraryError, match="No matching signature"):
        Webhook(CURRENT).verify(body, headers)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(body, headers, CURRENT)


def test_signing_refuses_what_the_spec_forbids() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signature_headers("msg_1", 1, BODY, [], event_type="x")
    with pytest.raises(ValueError, match=r"may not contain '\.'"):
        signature_headers("msg.1", 1, BODY, [CURRENT], event_type="x")


# --- verify(): the receiver's helper ---


def test_verify_reads_headers_in_any_case_and_svix_names() -> None:
    shouting = {name.upper(): value for name, value in vector_headers().items()}
    assert verify(VECTOR_BODY, shouting, VECTOR_SECRET, now=VECTOR_NOW)["test"] == 2432232314
    svix = {name.replace("webhook-", "svix-"): value for name, value in vector_headers().items()}
    assert verify(VECTOR_BODY.encode(), svix, VECTOR_SECRET, now=VECTOR_NOW)["test"] == 2432232314


def test_verify_accepts_a_secret_without_prefix_or_padding() -> None:
    bare = VECTOR_SECRET.removeprefix("whsec_")
    assert verify(VECTOR_BODY, vector_headers(), bare, now=VECTOR_NOW) == {"test": 2432232314}
    unpadded = "whsec_" + base64.b64encode(b"k" * 32).decode().rstrip("=")
    headers = signature_headers("msg_1", VECTOR_TS, VECTOR_BODY, [unpadded], event_type="x")
    assert verify(VECTOR_BODY, headers, unpadded, now=VECTOR_NOW) == {"test": 2432232314}


def test_any_matching_v1_entry_passes() -> None:
    noise = "v1a,c29tZXRoaW5n v1,bm90LWl0 garbage v1,%%%"
    headers = vector_headers(f"{noise} {VECTOR_SIGNATURE}")
    assert verify(VECTOR_BODY, headers, VECTOR_SECRET, now=VECTOR_NOW) == {"test": 2432232314}


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (-300, None),  # exactly 5 min old: still inside
        (-301, "too old"),
        (300, None),  # exactly 5 min ahead
        (301, "too new"),
        (0, None),
    ],
)
def test_tolerance_is_five_minutes_either_way(offset: int, outcome: str | None) -> None:
    # `now` is the receiver's clock: the message's timestamp is `offset` s away from it.
    now = VECTOR_NOW - timedelta(seconds=offset)
    if outcome is None:
        assert verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=now)["test"] == 2432232314
    else:
        with pytest.raises(WebhookVerificationError, match=outcome):
            verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=now)


def test_tolerance_can_be_changed() -> None:
    later = VECTOR_NOW + timedelta(minutes=20)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=later)
    tolerant = verify(
        VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=later, tolerance=timedelta(hours=1)
    )
    assert tolerant == {"test": 2432232314}


def test_verify_uses_the_real_clock_by_default() -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET)  # the vector is from 2021
    headers = fresh_headers(CURRENT)
    assert verify(BODY, headers, CURRENT)["data"] == {"id": "post_1"}


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = vector_headers()
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=f"missing header {missing}"):
        verify(VECTOR_BODY, headers, VECTOR_SECRET, now=VECTOR_NOW)
    headers[missing] = ""
    with pytest.raises(WebhookVerificationError, match=f"missing header {missing}"):
        verify(VECTOR_BODY, headers, VECTOR_SECRET, now=VECTOR_NOW)


@pytest.mark.parametrize("timestamp", ["soon", "1614265330.0", "-1614265330", "1e9", ""])
def test_a_timestamp_that_is_not_integer_seconds_is_refused(timestamp: str) -> None:
    headers = {**vector_headers(), "webhook-timestamp": timestamp}
    expected = "missing header" if not timestamp else "integer Unix seconds"
    with pytest.raises(WebhookVerificationError, match=expected):
        verify(VECTOR_BODY, headers, VECTOR_SECRET, now=VECTOR_NOW)


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "no v1 signature"),  # no "v1,"
        ("v1", "no v1 signature"),  # an entry without a comma
        ("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "no v1 signature"),
        ("v1,not base64!", "no matching signature"),
        ("v1,", "no matching signature"),
        ("v1,AAAA", "no matching signature"),
    ],
)
def test_malformed_signature_headers_fail_cleanly(signature: str, expected: str) -> None:
    with pytest.raises(WebhookVerificationError, match=expected):
        verify(VECTOR_BODY, vector_headers(signature), VECTOR_SECRET, now=VECTOR_NOW)


def test_the_wrong_secret_fails() -> None:
    with pytest.raises(WebhookVerificationError, match="secret is not this endpoint's"):
        verify(VECTOR_BODY, vector_headers(), new_secret(), now=VECTOR_NOW)


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("whsec_", "empty"),
        ("", "empty"),
        ("whsec_!!!notbase64", "not base64"),
        ("whsec_=", "not base64"),
    ],
)
def test_a_bad_secret_is_reported_as_such(secret: str, expected: str) -> None:
    with pytest.raises(WebhookVerificationError, match=expected):
        verify(VECTOR_BODY, vector_headers(), secret, now=VECTOR_NOW)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
def test_a_signed_body_that_is_not_a_json_object_fails(body: bytes, expected: str) -> None:
    signature = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, body)
    with pytest.raises(WebhookVerificationError, match=expected):
        verify(body, vector_headers(signature), VECTOR_SECRET, now=VECTOR_NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(TypeError, match="timezone-aware"):
        verify(VECTOR_BODY, vector_headers(), VECTOR_SECRET, now=datetime(2021, 2, 26))


def test_importing_the_receiver_helper_stays_light() -> None:
    heavy = ["httpx", "httpcore", "anyio", "sqlalchemy", "fastapi", "pydantic", "orjson"]
    code = (
        f"import sys, crosspost.webhooks\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
