"""Logging setup: structlog over the standard library, JSON or console, and the one place
that keeps secrets out of every log line.

Every record of every logger (ours, uvicorn's, httpx's, SQLAlchemy's...) reaches the root
handler, whose `RedactingFormatter` renders exceptions without local variables, masks
secret-shaped values in the event dict and masks the finished line once more.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr
from structlog.tracebacks import ExceptionDictTransformer

from crosspost.config import Settings

REDACTED = "[redacted]"

# Names whose value is a credential, wherever they appear: query parameters, form fields,
# `name=value` / `name: value` text, JSON or dict reprs, structlog keys, header names.
# A name ending in one of these words (access_token, client_secret, X-Internal-Key...). The
# lazy prefix and the look-behind keep matching linear: one try per word, never nested.
_CREDENTIAL_NAME = (
    r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]*?(?:token|secret|password|passwd|api[-_]?key"
    r"|internal[-_]?key|hash[-_]?key|master[-_]?keys?|signature|assertion|verifier"
    r"|authorization|cookie)"
)
_CREDENTIAL_KEY = re.compile(_CREDENTIAL_NAME, re.IGNORECASE)
# Quoted or bare separators: `k=v`, `k: v`, `"k": "v"`, and ASGI header pairs `(b'k', b'v')`.
_SEP = r"(?:[\"']?\s*[:=]\s*(?:(?-i:b)?[\"'])?|[\"']\s*,\s*(?-i:b)?[\"'])"

# In order: a named value is masked whole first, so the shapes below never leave half of
# one behind; no pattern matches inside an earlier "[redacted]".
_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Named values: `access_token=...`, `"client_secret": "..."`, `Authorization: Bearer x`,
    # `(b'x-internal-key', b'...')`. An auth scheme word before the credential is kept.
    (
        re.compile(
            rf"({_CREDENTIAL_NAME}{_SEP}\s*)"
            r"((?:Bearer|OAuth|Basic|Digest|Token)\s+)?+[^\s\"'&,;}\[\])\\]+",
            re.IGNORECASE,
        ),
        lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}",
    ),
    (re.compile(r"([?&;]code=)[^&\s'\"\[]+"), rf"\1{REDACTED}"),
    # Credentials after an auth scheme, wherever they are quoted from.
    (re.compile(r"\b([Bb]earer|BEARER|OAuth|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # Our API keys (vault/apikeys.py), request-signing secrets, webhook secrets.
    (re.compile(r"\b(cp_(?:test|live|op)_)[0-9A-Za-z]+"), rf"\1{REDACTED}"),
    (re.compile(r"\b(cpsig_)[0-9A-Za-z]+"), rf"\1{REDACTED}"),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=_-]+"), rf"\1{REDACTED}"),
    # JWS/JWE compact tokens: a JOSE header is a JSON object, so base64url "eyJ" first.
    (re.compile(r"\beyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}"), REDACTED),
    # Vault envelopes `v1.<kid>.<base64url(nonce+ciphertext+tag)>`: the kid may stay.
    (re.compile(r"\b(v1\.[^\s.,:;'\"()\[\]{}]+\.)[A-Za-z0-9_-]{38,}"), rf"\1{REDACTED}"),
    # Base64 of 32 bytes: the shape of master keys (`kid:<b64>`) and of the hash key.
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])"), REDACTED),
    # Passwords in URLs (database, Redis): scheme://user:password@host.
    (
        re.compile(
            r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/\\\"']+@", re.IGNORECASE
        ),
        rf"\1{REDACTED}@",
    ),
)

# Shorter exact values are not masked: they would be ordinary words.
_MIN_KNOWN = 8


def redact(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every secret-shaped value, and every `known` secret, masked."""
    for secret in known:
        if len(secret) >= _MIN_KNOWN and secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, known: Iterable[str] = ()) -> Any:
    """`value` with strings redacted, recursively through dicts, lists and tuples; the
    value of a key named like a credential is masked whole."""
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and _CREDENTIAL_KEY.fullmatch(k) and v
            else redact_value(v, known)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v, known) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v, known) for v in value)
    return value


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """The root handler's formatter: no locals in tracebacks, secrets masked in the event
    dict and, as a last pass, in the finished line."""

    def __init__(
        self,
        *,
        json: bool,
        foreign_pre_chain: list[structlog.typing.Processor] | None = None,
        known: Iterable[str] = (),
        colors: bool = False,
    ) -> None:
        self.known = tuple(sorted(set(known), key=len, reverse=True))  # longest first
        exceptions = (
            # dict_tracebacks, but never with locals (structlog's default shows them).
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
            if json
            else structlog.processors.ExceptionRenderer()  # plain text, no locals
        )
        renderer: structlog.typing.Processor = (
            structlog.processors.JSONRenderer()
            if json
            # Never rich's traceback (it prints every frame's locals); the exception is
            # already text here, this only guards a record that bypassed the step above.
            else structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=structlog.dev.plain_traceback
            )
        )
        super().__init__(
            foreign_pre_chain=foreign_pre_chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                exceptions,
                self._redact_event,
                renderer,
            ],
        )

    def _redact_event(self, _: Any, __: str, event_dict: structlog.typing.EventDict) -> Any:
        return redact_value(event_dict, self.known)

    def format(self, record: logging.LogRecord) -> str:
        """The rendered line, redacted once more as a whole."""
        return redact(super().format(record), self.known)


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the root logger once per process."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            json=settings.log_json,
            foreign_pre_chain=shared,
            known=secret_values(settings),
            colors=wants_colors(handler.stream),
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Per-request client logs and migration chatter drown what matters at INFO.
    for noisy in ("httpx", "httpcore", "alembic", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Uncaught exceptions too go through the handler above, not straight to stderr.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def wants_colors(stream: Any) -> bool:
    """Colour codes only for a person at a terminal who has not set NO_COLOR (no-color.org):
    never in a file, a pipe or a log collector."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def secret_values(settings: Settings) -> list[str]:
    """The plaintext of every secret field of `settings`: each key of a key list, and only
    the password of a URL (the rest of it is worth seeing in a log)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if not isinstance(value, SecretStr):
            continue
        plain = value.get_secret_value()
        if name.endswith("_url"):
            found.append(urlsplit(plain).password or "")
        else:
            found += [plain, *(part.partition(":")[2] for part in plain.split(","))]
    return [v.strip() for v in found if v.strip()]


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("crosspost").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    logging.getLogger("crosspost").error(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
