"""The one way the app's OpenAPI document is amended after FastAPI builds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def amend_document(app: FastAPI, amend: Callable[[dict[str, Any]], None]) -> None:
    """Run `amend` on the document once, when it is first built (later wrappers see it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = build()
        if first:
            amend(document)
        return document

    # FastAPI's documented way to extend the document (it caches what this returns).
    app.openapi = openapi  # type: ignore[method-assign]
