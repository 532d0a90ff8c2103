"""Outgoing webhooks, and `verify` for the receivers of them.

Importing this package is cheap: `verify` is the SDK's (crosspost_sdk.webhooks), so a
receiver can use ``from crosspost.webhooks import verify`` without the server's dependencies.
"""

from __future__ import annotations

from crosspost_sdk.webhooks import DEFAULT_TOLERANCE, WebhookVerificationError, verify

__all__ = ["DEFAULT_TOLERANCE", "WebhookVerificationError", "verify"]
