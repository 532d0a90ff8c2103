"""Integer bounds in the OpenAPI document as integers.

FastAPI's document model types `minimum`/`maximum` as floats, so 9223372036854775807 would
be published as 9.223372036854776e+18 (2**63, one past what the database stores): clients
and fuzzers would be told a bound the API refuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from crosspost.api.openapi_extend import amend_document
from crosspost.domain.bounds import INT64_MAX, INT64_MIN

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def keep_integer_bounds(app: FastAPI) -> None:
    """Make the app's document state integer bounds exactly (call after other wrappers)."""
    amend_document(app, _fix)


def _fix(document: dict[str, Any]) -> None:
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
                for name in _BOUNDS:
                    if isinstance(node.get(name), float):
                        # Every bound we set is a 64-bit integer; floats past it are 2**63.
                        node[name] = max(INT64_MIN, min(INT64_MAX, int(node[name])))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
