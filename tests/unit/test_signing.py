"""Request signing: canonical strings, signatures, the SDK's httpx auth, and the README's
openssl example (run for real, and checked against `compute_signature`)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.datastructures import QueryParams

from crosspost_sdk.signing import (
    BODY_SHA256,
    EMPTY_BODY_SHA256,
    NONCE_RE,
    HmacAuth,
    body_sha256,
    canonical_query,
    compute_signature,
    format_timestamp,
    parse_timestamp,
    sign_request,
    string_to_sign,
    string_to_sign_for_hash,
)

# The README's "Signed requests" examples, verbatim: `test_readme_shows_these_snippets`
# fails if the README drifts from what these tests run.
README_SIGN = """\
SECRET="$CROSSPOST_SIGNING_SECRET"   # cpsig_…, shown once when the secret was created
METHOD=POST
REQ_PATH=/v1/posts                   # the raw path as sent (not $PATH: that is the shell's)
QUERY=                               # the canonical query, e.g. limit=5&status=published
BODY='{"text":"Hello from a signed request","targets":["x"]}'
TIMESTAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NONCE=$(openssl rand -hex 16)

BODY_HASH=$(printf '%s' "$BODY" | openssl dgst -sha256 -r | cut -d' ' -f1)
SIGNATURE=$(printf '%s\\n%s\\n%s\\n%s\\n%s\\n%s' \\
    "$METHOD" "$REQ_PATH" "$QUERY" "$BODY_HASH" "$TIMESTAMP" "$NONCE" |
  openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
"""

README_SEND = """\
curl -sS --fail-with-body -X "$METHOD" "$CROSSPOST_API_URL$REQ_PATH${QUERY:+?$QUERY}" \\
  -H "Authorization: Bearer $CROSSPOST_API_KEY" \\
  -H "X-Timestamp: $TIMESTAMP" -H "X-Nonce: $NONCE" -H "X-Signature: $SIGNATURE" \\
  -H "Content-Type: application/json" --data-binary "$BODY"
"""

README_BODY = b'{"text":"Hello from a signed request","targets":["x"]}'
SECRET = "cpsig_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ROOT = Path(__file__).resolve().parents[2]


def test_empty_body_hashes_to_the_sha256_of_nothing() -> None:
    assert body_sha256(b"") == EMPTY_BODY_SHA256
    assert EMPTY_BODY_SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("q=caf%c3%a9", "q=caf%C3%A9"),  # hex digits upper-cased
        ("q=café", "q=caf%C3%A9"),  # a client that did not encode
        ("a=%7e%41", "a=~A"),  # unreserved characters are decoded
        ("q=a+b", "q=a%20b"),  # + is a space ...
        ("q=a%20b", "q=a%20b"),
        ("q=a%2Bb", "q=a%2Bb"),  # ... and a literal plus is %2B
        ("a&b=", "a=&b="),  # empty values
        ("a=1&&b=2&", "a=1&b=2"),  # empty pairs dropped
        ("a=b=c", "a=b%3Dc"),  # split at the first =
        ("x%5B%5D=1&x[]=2", "x%5B%5D=1&x%5B%5D=2"),
        ("q=a/b?c", "q=a%2Fb%3Fc"),
        ("a%20b=1", "a%20b=1"),
        ("=1", "=1"),
    ],
)
def test_canonical_query(raw: str, canonical: str) -> None:
    assert canonical_query(raw) == canonical


def test_repeated_names_keep_their_order_while_names_are_sorted() -> None:
    assert canonical_query("status=b&limit=5&status=a") == "limit=5&status=b&status=a"
    assert canonical_query("a=2&a=1") != canonical_query("a=1&a=2")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("b=2&a=1", "a=1&b=2"),
        ("q=a+b", "q=a%20b"),
        ("q=%7e", "q=~"),
        ("a=1&&b=", "b&a=1"),
        ("k=v%2fw", "k=v%2Fw"),
    ],
)
def test_queries_that_sign_alike_mean_the_same_to_the_server(one: str, other: str) -> None:
    # The security property: a proxy or attacker may only change the query in ways the
    # server (Starlette's QueryParams) cannot tell apart.
    assert canonical_query(one) == canonical_query(other)

    def seen(raw: str) -> dict[str, list[str]]:
        params = QueryParams(raw)
        return {name: params.getlist(name) for name in params}

    assert seen(one) == seen(other)


@pytest.mark.parametrize(
    ("one", "other", "name"),
    [("a=1&a=2", "a=2&a=1", "a"), ("q=a+b", "q=a%2Bb", "q"), ("a=1", "a=1&a=1", "a")],
)
def test_queries_the_server_reads_differently_sign_differently(
    one: str, other: str, name: str
) -> None:
    assert QueryParams(one).getlist(name) != QueryParams(other).getlist(name)
    assert canonical_query(one) != canonical_query(other)


def test_string_to_sign_is_six_lines_without_a_trailing_newline() -> None:
    string = string_to_sign(
        "post", "/v1/posts", "b=2&a=1", b'{"x":1}', "2026-01-15T10:30:00Z", "n" * 16
    )
    lines = string.split("\n")
    assert lines == [
        "POST",
        "/v1/posts",
        "a=1&b=2",
        hashlib.sha256(b'{"x":1}').hexdigest(),
        "2026-01-15T10:30:00Z",
        "n" * 16,
    ]
    assert not string.endswith("\n")


@pytest.mark.parametrize("path", ["/v1/posts/a%2Fb", "/v1//posts", "/v1/posts/", "/v1/p%6Fsts"])
def test_the_path_is_signed_raw(path: str) -> None:
    string = string_to_sign("GET", path, "", b"", "2026-01-15T10:30:00Z", "n" * 16)
    assert string.split("\n")[1] == path


def test_string_to_sign_for_a_known_hash_matches_the_in_memory_form() -> None:
    body = b"some bytes"
    ts, nonce = "2026-01-15T10:30:00Z", "abc123def456ghi789"
    assert string_to_sign("PUT", "/p", "q=1", body, ts, nonce) == string_to_sign_for_hash(
        "PUT", "/p", "q=1", body_sha256(body), ts, nonce
    )


def test_known_signature_vector() -> None:
    # Computed independently with: printf 'POST\n/v1/posts\n\n<sha256 of body>\n…' |
    # openssl dgst -sha256 -hmac cpsig_example
    string = string_to_sign(
        "POST", "/v1/posts", "", b'{"text":"hi"}', "2026-01-15T10:30:00Z", "abc123def456ghi789"
    )
    assert (
        compute_signature("cpsig_example", string)
        == "0381fc8bc87df28d8c9faef5f0b14d9040196504234f024fa497d08b0e4e1926"
    )


def test_any_change_changes_the_signature() -> None:
    base = ("POST", "/v1/posts", "a=1", b"{}", "2026-01-15T10:30:00Z", "n" * 16)
    reference = compute_signature(SECRET, string_to_sign(*base))
    variants = [
        ("GET", *base[1:]),
        (base[0], "/v1/posts/", *base[2:]),
        (*base[:2], "a=2", *base[3:]),
        (*base[:3], b"{ }", *base[4:]),
        (*base[:4], "2026-01-15T10:30:01Z", base[5]),
        (*base[:5], "m" * 16),
    ]
    for variant in variants:
        assert compute_signature(SECRET, string_to_sign(*variant)) != reference
    assert compute_signature(SECRET + "x", string_to_sign(*base)) != reference


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-15T10:30:00.000Z",
        "2026-01-15T10:30:00+00:00",
        "2026-01-15T10:30:00z",
        "2026-01-15 10:30:00Z",
        "2026-02-30T10:30:00Z",
        "1736937000",
        "",
    ],
)
def test_timestamps_other_than_utc_seconds_with_z_are_refused(value: str) -> None:
    assert parse_timestamp(value) is None


def test_timestamp_round_trip_and_naive_datetimes_refused() -> None:
    moment = datetime(2026, 1, 15, 10, 30, 0, 999_000, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-01-15T10:30:00Z"
    paris = moment.astimezone(ZoneInfo("Europe/Paris"))
    assert format_timestamp(paris) == "2026-01-15T10:30:00Z"
    assert parse_timestamp("2026-01-15T10:30:00Z") == moment.replace(microsecond=0)
    with pytest.raises(ValueError, match="aware"):
        format_timestamp(datetime(2026, 1, 15, 10, 30))


def test_sign_request_headers_verify() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    headers = sign_request(
        SECRET,
        "post",
        "https://api.example.com/v1/a b/posts?z=1&a=x+y",
        b'{"a":1}',
        key_id="sig_1",
        now=now,
    )
    assert set(headers) == {"X-Signature", "X-Timestamp", "X-Nonce", "X-Key-Id"}
    assert headers["X-Timestamp"] == "2026-03-01T12:00:00Z"
    assert headers["X-Key-Id"] == "sig_1"
    assert NONCE_RE.fullmatch(headers["X-Nonce"])
    # The path as a client sends it (space encoded), the query canonicalised.
    expected = string_to_sign(
        "POST", "/v1/a%20b/posts", "a=x%20y&z=1", b'{"a":1}', headers["X-Timestamp"],
        headers["X-Nonce"],
    )  # fmt: skip
    assert headers["X-Signature"] == compute_signature(SECRET, expected)


def test_sign_request_uses_a_new_nonce_each_time_unless_given() -> None:
    first = sign_request(SECRET, "GET", "/v1/posts")
    second = sign_request(SECRET, "GET", "/v1/posts")
    assert first["X-Nonce"] != second["X-Nonce"]
    assert "X-Key-Id" not in first
    fixed = sign_request(SECRET, "GET", "/v1/posts", nonce="n" * 20)
    assert fixed["X-Nonce"] == "n" * 20


def test_hmac_auth_signs_exactly_what_httpx_sends() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    auth = HmacAuth("cp_test_key", SECRET, "sig_9", clock=lambda: now)
    client = httpx.Client(base_url="http://api.invalid")
    request = client.build_request(
        "POST", "/v1/x%2Fy//z", params={"b": "1 2", "a": "+"}, json={"k": "v"}
    )
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    path, _, query = sent.url.raw_path.decode().partition("?")
    assert path == "/v1/x%2Fy//z"
    expected = string_to_sign(
        "POST", path, query, sent.content, "2026-03-01T12:00:00Z", sent.headers["X-Nonce"]
    )
    assert sent.headers["X-Signature"] == compute_signature(SECRET, expected)
    assert sent.headers["X-Key-Id"] == "sig_9"
    assert sent.headers["Authorization"] == "Bearer cp_test_key"
    client.close()


def test_hmac_auth_uses_a_given_body_hash_without_reading_the_stream() -> None:
    auth = HmacAuth(None, SECRET)

    digest = hashlib.sha256(b"big file").hexdigest()
    request = httpx.Request(
        "POST", "http://api.invalid/v1/media", content=iter([b"big ", b"file"]),
        extensions={BODY_SHA256: digest},
    )  # fmt: skip
    sent = next(auth.sync_auth_flow(request))
    string = string_to_sign_for_hash(
        "POST", "/v1/media", "", digest, sent.headers["X-Timestamp"], sent.headers["X-Nonce"]
    )
    assert sent.headers["X-Signature"] == compute_signature(SECRET, string)
    assert "Authorization" not in sent.headers
    # The stream is still unread: iterating it yields the original chunks.
    assert b"".join(sent.stream) == b"big file"  # type: ignore[arg-type]


def _run_snippet(script: str, **env: str) -> str:
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_openssl_snippet_matches_compute_signature() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = _run_snippet(
        README_SIGN + 'printf "%s\\n%s\\n%s\\n%s" "$TIMESTAMP" "$NONCE" "$BODY_HASH" "$SIGNATURE"',
        CROSSPOST_SIGNING_SECRET=SECRET,
    )
    timestamp, nonce, body_hash, signature = out.split("\n")
    signed_at = parse_timestamp(timestamp)
    assert signed_at is not None
    assert before <= signed_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert NONCE_RE.fullmatch(nonce)
    assert body_hash == body_sha256(README_BODY)
    expected = string_to_sign("POST", "/v1/posts", "", README_BODY, timestamp, nonce)
    assert signature == compute_signature(SECRET, expected)


def test_readme_openssl_snippet_signs_a_query_and_an_empty_body() -> None:
    # The same lines with the variables a GET would use.
    script = (
        README_SIGN.replace("METHOD=POST", "METHOD=GET")
        .replace("QUERY=  ", "QUERY='limit=5&status=published'")
        .replace("BODY='" + README_BODY.decode() + "'", "BODY=''")
    )
    assert "METHOD=GET" in script and "QUERY='limit" in script and "BODY=''" in script
    out = _run_snippet(
        script + 'printf "%s\\n%s\\n%s" "$TIMESTAMP" "$NONCE" "$SIGNATURE"',
        CROSSPOST_SIGNING_SECRET=SECRET,
    )
    timestamp, nonce, signature = out.split("\n")
    expected = string_to_sign("GET", "/v1/posts", "status=published&limit=5", b"", timestamp, nonce)
    assert signature == compute_signature(SECRET, expected)


def test_readme_shows_these_snippets() -> None:
    readme = (ROOT / "README.md").read_text()
    assert README_SIGN in readme, "README.md must show README_SIGN verbatim (Signed requests)"
    assert README_SEND in readme, "README.md must show README_SEND verbatim (Signed requests)"
