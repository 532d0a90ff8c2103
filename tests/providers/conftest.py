"""What the provider clients' tests share: the chat completions fake over a real port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.llm import create_llm_app


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """One chat fake for the module."""
    with serve_in_thread(create_llm_app()) as running:
        yield running


@pytest.fixture
def base(server: RunningServer) -> str:
    """The fake reset; its base URL as the client is configured with (ending in /v1)."""
    httpx.post(f"{server.url}/_fake/reset").raise_for_status()
    return f"{server.url}/v1"
