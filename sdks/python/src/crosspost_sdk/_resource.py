"""What the generated resources (`_resources.py`) are built on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from crosspost_sdk._transport import AsyncTransport, Transport


class SyncResource:
    """A group of endpoints, called through a synchronous transport."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport


class AsyncResource:
    """A group of endpoints, called through an asynchronous transport."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport


def dump(body: BaseModel | Mapping[str, Any] | Any) -> Any:
    """A request body as JSON-ready data: a model without the fields left unset."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return body


def form(body: BaseModel | Mapping[str, Any]) -> dict[str, str]:
    """A form body's fields as strings, leaving out those not given."""
    data = dump(body)
    return {name: str(value) for name, value in data.items() if value is not None}


def segment(value: object) -> str:
    """One path segment, percent-encoded (an id never reaches another path)."""
    text = value.value if hasattr(value, "value") else value
    return quote(str(text), safe="")
