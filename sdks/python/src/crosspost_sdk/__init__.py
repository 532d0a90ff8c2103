"""The Python client for the crosspost API.

    from crosspost_sdk import Client
    client = Client("cp_test_…", base_url="http://127.0.0.1:8000")
    media = client.media.upload("clip.mp4", progress=lambda sent, total: ...)
    post = client.posts.create({"media_id": media.id, "text": "hi", "targets": ["youtube"]})
    client.posts.wait(post.id)

Names are imported on first use, so ``from crosspost_sdk.webhooks import Webhook`` in a
webhook receiver loads the standard library only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crosspost_sdk._version import __version__

if TYPE_CHECKING:
    from crosspost_sdk import models
    from crosspost_sdk._extras import WaitTimeout
    from crosspost_sdk._transport import Retries
    from crosspost_sdk.client import AsyncClient, Client
    from crosspost_sdk.errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        BadRequest,
        Conflict,
        CrosspostError,
        Forbidden,
        Gone,
        InvalidInput,
        NotFound,
        PayloadTooLarge,
        QuotaExceeded,
        RateLimited,
        ServerError,
        ServiceUnavailable,
        Unauthorized,
        UnsupportedMediaType,
    )
    from crosspost_sdk.pagination import AsyncPage, Page
    from crosspost_sdk.webhooks import Webhook, WebhookVerificationError

_WHERE = {
    "models": "crosspost_sdk.models",
    "WaitTimeout": "crosspost_sdk._extras",
    "Retries": "crosspost_sdk._transport",
    "AsyncClient": "crosspost_sdk.client",
    "Client": "crosspost_sdk.client",
    "AsyncPage": "crosspost_sdk.pagination",
    "Page": "crosspost_sdk.pagination",
    "Webhook": "crosspost_sdk.webhooks",
    "WebhookVerificationError": "crosspost_sdk.webhooks",
    **dict.fromkeys(
        [
            "APIConnectionError",
            "APIError",
            "APITimeoutError",
            "BadRequest",
            "Conflict",
            "CrosspostError",
            "Forbidden",
            "Gone",
            "InvalidInput",
            "NotFound",
            "PayloadTooLarge",
            "QuotaExceeded",
            "RateLimited",
            "ServerError",
            "ServiceUnavailable",
            "Unauthorized",
            "UnsupportedMediaType",
        ],
        "crosspost_sdk.errors",
    ),
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncPage",
    "BadRequest",
    "Client",
    "Conflict",
    "CrosspostError",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "QuotaExceeded",
    "RateLimited",
    "Retries",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "WaitTimeout",
    "Webhook",
    "WebhookVerificationError",
    "__version__",
    "models",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'crosspost_sdk' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if name == "models" else getattr(module, name)
    globals()[name] = value
    return value
