"""The log's last line of defence: every secret shape masked, no locals in any traceback, and
no secret in the repr of settings or of the objects that carry tokens."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import structlog
from joserfc import jwt
from joserfc.jwk import ECKey
from pydantic import ValidationError

from crosspost.config import Settings
from crosspost.domain.enums import Mode, Platform
from crosspost.domain.models import AccountImport
from crosspost.engine.oauth_clients import IssuedToken
from crosspost.logs import REDACTED, redact, redact_value
from crosspost.platforms.base import AppCredentials, Credentials
from crosspost.vault.apikeys import generate_key, parse_key
from crosspost.vault.keyring import parse_master_keys
from crosspost.vault.signing_secrets import generate_secret
from crosspost.webhooks.signing import new_secret

ConfigureLogs = Callable[[Settings], io.StringIO]


def _b64_32() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _jwt() -> str:
    key = ECKey.generate_key("P-256")
    return jwt.encode({"alg": "ES256", "typ": "at+jwt"}, {"sub": "cli_1", "scope": "x"}, key)


def _sealed() -> str:
    ring = parse_master_keys(f"k0a1b2c3d:{_b64_32()}")
    return ring.encrypt("ya29.plain-token", tenant_id="t", table="social_accounts", row_id="a")


def _secrets() -> dict[str, tuple[str, str]]:
    """name: (secret, a line that carries it the way a log line would)."""
    test_key, live_key = generate_key(Mode.TEST), generate_key(Mode.LIVE)
    jwt_token, sealed, b64 = _jwt(), _sealed(), _b64_32()
    internal, basic = secrets.token_hex(32), base64.b64encode(b"client:pa55word").decode()
    return {
        "test API key": (test_key, f"authenticated with {test_key}"),
        "live API key": (live_key, f"key={live_key!r}"),
        "signing secret": (generate_secret(), "created {}"),
        "webhook secret": (new_secret(), '{{"secret": "{}"}}'),
        "JWT": (jwt_token, f"token rejected: {jwt_token}."),
        "sealed envelope": (sealed.rsplit(".", 1)[1], f"cannot open {sealed}"),
        "master key": (b64, f"Settings(master_keys='k1:{b64}')"),
        "hash key": (b64, f"hash_key={b64} "),
        "Authorization header": ("cred-1234567", "Authorization: cred-1234567"),
        "Bearer value": ("opaque.token-1", "Authorization: Bearer opaque.token-1 refused"),
        "OAuth value": ("2-abc.def", "header OAuth 2-abc.def"),
        "Basic value": (basic, f"sent Basic {basic}"),
        "ASGI header pair": (internal, f"[(b'x-internal-key', b'{internal}'), (b'a', b'b')]"),
        "header dict": (internal, f"{{'X-Internal-Key': '{internal}', 'Accept': '*/*'}}"),
        "token query": ("IGQVJ.secret-1", "GET /refresh?grant_type=x&access_token=IGQVJ.secret-1"),
        "code query": ("4/0AX4XfWh", "GET /v1/oauth/callback?state=s&code=4/0AX4XfWh&x=1"),
        "signed URL": ("9f86d081884c7d65", "fetch /m/1?expires=9&signature=9f86d081884c7d65"),
        "client secret form": ("GOCSPX-abc", "client_id=a&client_secret=GOCSPX-abc&grant=b"),
        "JSON token": ("rt-999-xyz", '{"refresh_token": "rt-999-xyz", "expires_in": 3}'),
        "URL password": ("hunter2-pw", "postgresql://app:hunter2-pw@db:5432/crosspost"),
    }


@pytest.mark.parametrize("name", sorted(_secrets()))
def test_redact_masks_every_secret_shape(name: str) -> None:
    """Each secret shape we issue or handle disappears from a line that carries it."""
    secret, template = _secrets()[name]
    line = template.format(secret) if "{}" in template else template
    assert secret in line
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_what_is_not_secret() -> None:
    """Module paths, problem codes, ids, URLs without credentials and prose stay readable."""
    line = (
        "crosspost.api.errors v1.2.3 code=internal_error token_url=https://x.test/token "
        "post_01J9 target tgt_01J9 failed: youtube:quotaExceeded; token refresh refused"
    )
    assert redact(line) == line


def test_redact_masks_known_values_whatever_their_shape() -> None:
    """A configured secret with no recognisable shape is masked by value."""
    assert (
        redact("dsn=plain words xyzzy-4711", known=["xyzzy-4711"]) == f"dsn=plain words {REDACTED}"
    )


def test_redact_value_masks_credential_named_keys_recursively() -> None:
    """Structured values: a key named like a credential is masked whole, at any depth."""
    data = {
        "headers": {"authorization": "anything", "accept": "*/*"},
        "items": [("x", {"client_secret": "s"}), "Bearer abc"],
        "token_url": "https://x.test/token",
    }
    assert redact_value(data) == {
        "headers": {"authorization": REDACTED, "accept": "*/*"},
        "items": [("x", {"client_secret": REDACTED}), f"Bearer {REDACTED}"],
        "token_url": "https://x.test/token",
    }


def _fail_with_secrets(key: str, settings: Settings) -> None:
    """Raise with the key and the settings held in locals, and the key in the message."""
    headers = [(b"authorization", f"Bearer {key}".encode())]
    assert headers and settings
    raise RuntimeError(f"lookup failed for {key}")


@pytest.mark.parametrize("json_format", [False, True], ids=["console", "json"])
def test_logged_exceptions_show_no_locals_and_no_secret(
    process_logs: ConfigureLogs, json_format: bool
) -> None:
    """At DEBUG, in both formats, exceptions logged by stdlib and structlog loggers (ours,
    uvicorn's) carry tracebacks without locals; the key, master and hash keys never appear."""
    master, hash_key, internal = _b64_32(), _b64_32(), secrets.token_hex(32)
    settings = Settings(
        _env_file=None,
        log_level="DEBUG",
        log_json=json_format,
        master_keys=f"k1:{master}",
        hash_key=hash_key,
        internal_api_key=internal,
    )
    out = process_logs(settings)
    key = generate_key(Mode.TEST)
    try:
        _fail_with_secrets(key, settings)
    except RuntimeError:
        logging.getLogger("crosspost.api").exception("unhandled error")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        structlog.get_logger("crosspost").exception("failed", api_key=key, settings=settings)
    logging.getLogger("crosspost").debug("settings %r, key %s", settings, key)
    text = out.getvalue()
    for secret in (key, master, hash_key, internal):
        assert secret not in text
    assert "_fail_with_secrets" in text  # the traceback is there
    assert "b'authorization'" not in text  # the local `headers`, shown by a locals panel
    if json_format:
        records = [json.loads(line) for line in text.splitlines()]
        assert len(records) == 4
        for record in records[:3]:
            frames = [f for exc in record["exception"] for f in exc["frames"]]
            assert frames and all("locals" not in f for f in frames)
    else:
        assert " locals " not in text and "Traceback (most recent call last)" in text


def test_uncaught_thread_exception_goes_through_the_redacting_handler(
    process_logs: ConfigureLogs,
) -> None:
    """A thread that dies is logged by the handler (masked), not printed raw to stderr."""
    out = process_logs(Settings(_env_file=None))
    key = generate_key(Mode.LIVE)

    def die() -> None:
        raise ValueError(f"refused {key}")

    thread = threading.Thread(target=die, name="doomed")
    thread.start()
    thread.join(timeout=10)
    text = out.getvalue()
    assert "uncaught exception in thread doomed" in text
    assert key not in text and "cp_live_[redacted]" in text


def test_settings_never_render_secrets() -> None:
    """repr, str and JSON dumps of the settings mask every secret field and URL password;
    a refused secret is not echoed in the validation error."""
    master, hash_key, client = f"k1:{_b64_32()}", _b64_32(), "GOCSPX-client-secret"
    settings = Settings(
        _env_file=None,
        master_keys=master,
        hash_key=hash_key,
        internal_api_key="i" * 40,
        youtube_client_secret=client,
        database_url="postgresql://app:db-password-1@db/crosspost",
        redis_url="redis://:redis-password-1@cache:6379/0",
    )
    for rendered in (repr(settings), str(settings), settings.model_dump_json()):
        for secret in (master, hash_key, "i" * 40, client, "db-password-1", "redis-password-1"):
            assert secret not in rendered
    assert settings.resolved_database_url.endswith("@db/crosspost")
    assert settings.client_credentials(Platform.YOUTUBE)[1] == client
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, internal_api_key="short-but-secret")
    assert "short-but-secret" not in str(refused.value)


def test_objects_holding_tokens_do_not_show_them_in_repr() -> None:
    """Credentials, app credentials, parsed keys, keyrings, issued tokens and imported
    accounts keep their secrets out of repr."""
    key = generate_key(Mode.TEST)
    parsed = parse_key(key)
    raw = os.urandom(32)
    ring = parse_master_keys(f"k1:{base64.b64encode(raw).decode()}")
    objects = [
        Credentials("at-secret-1", "rt-secret-1", datetime(2030, 1, 1, tzinfo=UTC)),
        AppCredentials("client", "cs-secret-1", "https://x.test/token"),
        parsed,
        ring,
        IssuedToken("at-secret-1", 900, "posts:read"),
        AccountImport(platform="youtube", external_id="e", handle="h", access_token="at-secret-1"),
    ]
    for obj in objects:
        shown = repr(obj)
        for secret in ("at-secret-1", "rt-secret-1", "cs-secret-1", key, repr(raw)[2:-1]):
            assert secret not in shown, shown


@pytest.mark.parametrize(
    "text",
    ["a-" * 20_000 + "token", "a." * 20_000 + "://x", "v1.k." * 10_000, "A" * 40_000],
    ids=["long-name", "dotted", "envelopes", "base64"],
)
def test_redact_takes_linear_time_on_hostile_lines(text: str) -> None:
    """A log line an attacker shapes (40 kB) is redacted in well under a second: no
    pattern backtracks over the line (a nested name pattern once took 46 s here)."""
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 2.0
