"""Logging setup: structlog over the standard library, JSON or console."""

from __future__ import annotations

import logging
import re

import structlog

from crosspost.config import Settings


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the root logger once per process."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
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
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Per-request client logs and migration chatter drown what matters at INFO.
    for noisy in ("httpx", "httpcore", "alembic", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    install_redaction()


def install_redaction() -> None:
    """Mask secrets in the HTTP client's own log records (it logs URLs, and a few token
    endpoints take the token in the query), whatever level an operator turns them up to."""
    for client in ("httpx", "httpcore"):
        target = logging.getLogger(client)
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())


_SECRET_PARAM = re.compile(
    r"((?:access_token|refresh_token|client_secret|id_token|code|fb_exchange_token)=)[^&\s'\"]+",
    re.IGNORECASE,
)
_SECRET_SCHEME = re.compile(r"\b(Bearer|OAuth|Basic)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """`text` with token-like query values and Authorization credentials masked."""
    return _SECRET_SCHEME.sub(r"\1 [redacted]", _SECRET_PARAM.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
