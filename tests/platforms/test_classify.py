"""The error tables of PLATFORM_PROTOCOLS.md, checked on crafted platform responses."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import pytest

from crosspost.domain.enums import ErrorKind
from crosspost.platforms import tiktok, tiktok_rules, youtube, youtube_rules
from crosspost.platforms.oauth import classify_token_error

# 2026-03-10 20:00 UTC is 13:00 PDT (DST began on 8 March), so Pacific midnight is 11 h away.
NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


def google_error(status: int, reason: str, message: str = "boom") -> httpx.Response:
    """A Google API error response in the documented shape."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "youtube.test", "reason": reason, "message": message}],
        }
    }
    return httpx.Response(status, json=body)


def tiktok_error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A TikTok API error response in the documented shape."""
    body = {"error": {"code": code, "message": f"{code} happened", "log_id": "log-1"}}
    return httpx.Response(status, json=body, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (401, "authError", ErrorKind.AUTH),
        (403, "insufficientPermissions", ErrorKind.AUTH),
        (403, "quotaExceeded", ErrorKind.QUOTA),
        (400, "uploadLimitExceeded", ErrorKind.QUOTA),
        (403, "rateLimitExceeded", ErrorKind.RATE_LIMITED),
        (403, "userRateLimitExceeded", ErrorKind.RATE_LIMITED),
        (429, "rateLimitExceeded", ErrorKind.RATE_LIMITED),
        (400, "invalidTitle", ErrorKind.PERMANENT),
        (400, "invalidDescription", ErrorKind.PERMANENT),
        (400, "invalidCategoryId", ErrorKind.PERMANENT),
        (400, "invalidPublishAt", ErrorKind.PERMANENT),
        (403, "forbidden", ErrorKind.PERMANENT),
        (500, "backendError", ErrorKind.TRANSIENT),
        (503, "backendError", ErrorKind.TRANSIENT),
    ],
)
def test_youtube_table(status: int, reason: str, kind: ErrorKind) -> None:
    """Each row of the YouTube error table maps to its kind, keeping reason and raw body."""
    error = youtube_rules.classify(google_error(status, reason), now=NOW)
    assert error.kind is kind
    assert error.code == reason
    assert error.http_status == status
    assert error.raw["error"]["errors"][0]["reason"] == reason
    assert error.message == "boom"


def test_youtube_quota_waits_until_pacific_midnight() -> None:
    """quotaExceeded waits until the next midnight in Los Angeles, DST included."""
    error = youtube_rules.classify(google_error(403, "quotaExceeded"), now=NOW)
    assert error.retry_after == pytest.approx(11 * 3600)
    winter = datetime(2026, 1, 15, 7, 30, tzinfo=UTC)  # 23:30 PST: thirty minutes to go
    assert youtube_rules.seconds_until_pacific_midnight(winter) == pytest.approx(30 * 60)


def test_youtube_upload_cap_waits_a_day() -> None:
    """uploadLimitExceeded is the per-channel 24 h cap."""
    error = youtube_rules.classify(google_error(400, "uploadLimitExceeded"), now=NOW)
    assert error.retry_after == pytest.approx(24 * 3600)


def test_youtube_rate_limit_reads_retry_after() -> None:
    """A 429 carries the server's Retry-After as retry_after."""
    response = httpx.Response(429, json={"error": {"code": 429}}, headers={"Retry-After": "17"})
    error = youtube_rules.classify(response, now=NOW)
    assert (error.kind, error.retry_after, error.code) == (ErrorKind.RATE_LIMITED, 17.0, "http_429")


def test_youtube_non_json_errors_keep_text() -> None:
    """A bare 502 from a proxy is transient and its text is kept as raw."""
    error = youtube_rules.classify(httpx.Response(502, text="Bad Gateway"), now=NOW)
    assert (error.kind, error.code, error.raw) == (ErrorKind.TRANSIENT, "http_502", "Bad Gateway")


def test_youtube_status_string_is_a_fallback_code() -> None:
    """Without an errors[] list the newer top-level status string becomes the code."""
    body = {"error": {"code": 401, "message": "expired", "status": "UNAUTHENTICATED"}}
    error = youtube_rules.classify(httpx.Response(401, json=body), now=NOW)
    assert (error.kind, error.code) == (ErrorKind.AUTH, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "access_token_invalid", ErrorKind.AUTH),
        (401, "scope_not_authorized", ErrorKind.AUTH),
        (401, "scope_permission_missed", ErrorKind.AUTH),
        (429, "rate_limit_exceeded", ErrorKind.RATE_LIMITED),
        (403, "spam_risk_too_many_posts", ErrorKind.QUOTA),
        (403, "spam_risk_too_many_pending_share", ErrorKind.QUOTA),
        (403, "reached_active_user_cap", ErrorKind.QUOTA),
        (403, "spam_risk_user_banned_from_posting", ErrorKind.PERMANENT),
        (403, "unaudited_client_can_only_post_to_private_accounts", ErrorKind.PERMANENT),
        (403, "url_ownership_unverified", ErrorKind.PERMANENT),
        (403, "privacy_level_option_mismatch", ErrorKind.PERMANENT),
        (400, "invalid_params", ErrorKind.PERMANENT),
        (400, "invalid_file_upload", ErrorKind.PERMANENT),
        (500, "internal_error", ErrorKind.TRANSIENT),
        (200, "internal_error", ErrorKind.TRANSIENT),
    ],
)
def test_tiktok_table(status: int, code: str, kind: ErrorKind) -> None:
    """Each row of the TikTok error table maps to its kind, keeping code and raw body."""
    error = tiktok_rules.classify(tiktok_error(status, code), now=NOW)
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.raw["error"]["log_id"] == "log-1"


def test_tiktok_quota_waits_for_the_next_day() -> None:
    """Posting caps wait until the next UTC day."""
    error = tiktok_rules.classify(tiktok_error(403, "spam_risk_too_many_posts"), now=NOW)
    assert error.retry_after == pytest.approx(4 * 3600)


def test_tiktok_rate_limit_headers() -> None:
    """Retry-After wins; otherwise an epoch X-RateLimit-Reset; otherwise one minute."""
    with_retry = tiktok_error(429, "rate_limit_exceeded", {"Retry-After": "9"})
    assert tiktok_rules.classify(with_retry, now=NOW).retry_after == 9.0
    reset = str(int(NOW.timestamp()) + 42)
    with_reset = tiktok_error(429, "rate_limit_exceeded", {"X-RateLimit-Reset": reset})
    assert tiktok_rules.classify(with_reset, now=NOW).retry_after == pytest.approx(42)
    bare = tiktok_error(429, "rate_limit_exceeded")
    assert tiktok_rules.classify(bare, now=NOW).retry_after == 60.0


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("internal", ErrorKind.TRANSIENT),
        ("video_pull_failed", ErrorKind.PERMANENT),
        ("file_format_check_failed", ErrorKind.PERMANENT),
        ("duration_check_failed", ErrorKind.PERMANENT),
        ("frame_rate_check_failed", ErrorKind.PERMANENT),
        ("picture_size_check_failed", ErrorKind.PERMANENT),
        ("spam_risk_too_many_posts", ErrorKind.PERMANENT),
        ("auth_removed", ErrorKind.PERMANENT),
        ("publish_cancelled", ErrorKind.PERMANENT),
    ],
)
def test_tiktok_fail_reasons(reason: str, kind: ErrorKind) -> None:
    """FAILED statuses: only TikTok's own `internal` failure is worth another try."""
    error = tiktok_rules.classify_fail_reason({"status": "FAILED", "fail_reason": reason})
    assert (error.kind, error.code) == (kind, reason)
    assert reason in error.message


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, {"error": "invalid_grant", "error_description": "expired"}, ErrorKind.AUTH, None),
        (200, {"error": "invalid_grant", "log_id": "x"}, ErrorKind.AUTH, "invalid_grant"),
        (401, {"error": "invalid_client"}, ErrorKind.PERMANENT, "invalid_client"),
        (503, {"error": "temporarily_unavailable"}, ErrorKind.TRANSIENT, None),
        (429, {"error": "slow_down"}, ErrorKind.RATE_LIMITED, "slow_down"),
        (400, {"error": "invalid_request"}, ErrorKind.PERMANENT, "invalid_request"),
        (200, {"token_type": "Bearer"}, ErrorKind.PERMANENT, "malformed_token_response"),
    ],
)
def test_token_endpoint_errors(
    status: int, body: dict[str, Any], kind: ErrorKind, code: str | None
) -> None:
    """OAuth token errors: a dead refresh token is auth/invalid_grant, an app error permanent."""
    error = classify_token_error(httpx.Response(status, json=body), body, now=NOW)
    assert error.kind is kind
    assert error.code == (code or ("invalid_grant" if kind is ErrorKind.AUTH else body["error"]))
    assert error.raw == body


@pytest.mark.parametrize(
    ("client", "rules", "expected"),
    [
        (tiktok, tiktok_rules, {"classify", "classify_fail_reason", "plan_chunks", "caption"}),
        (youtube, youtube_rules, {"classify", "seconds_until_pacific_midnight", "derive_title"}),
    ],
)
def test_client_modules_re_export_their_rules(
    client: ModuleType, rules: ModuleType, expected: set[str]
) -> None:
    """Rules moved out of a client module stay importable, unchanged, from the client module."""
    moved = {name for name in client.__all__ if hasattr(rules, name)}
    assert expected <= moved
    for name in moved:
        assert getattr(client, name) is getattr(rules, name), name
