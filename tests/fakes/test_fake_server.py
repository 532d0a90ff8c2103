"""serve_in_thread, the sandbox app's shared routes, the abort helper and the fault config."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from crosspost.fakes import FAKES, AbortConnection, serve_in_thread
from crosspost.fakes.base import Faults

from .conftest import Sandbox


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except OSError:
        return True


def test_sandbox_serves_health_and_index_on_a_real_port(sandbox: Sandbox) -> None:
    """The server binds a real port, reports it in .url, and the app lists its fakes."""
    assert sandbox.server.port > 0
    assert sandbox.server.url == f"http://127.0.0.1:{sandbox.server.port}"
    health = sandbox.http.get("/healthz").json()
    # Who runs them: whoever finds fakes on a port can tell whether they are its own.
    assert health["ok"] is True and health["service"] == "crosspost-fakes"
    assert health["pid"] == os.getpid() and len(health["instance"]) == 16
    platforms = [f["platform"] for f in sandbox.http.get("/").json()["fakes"]]
    assert platforms == [p.value for p in FAKES]
    assert {"youtube", "tiktok", "instagram", "x", "linkedin", "soundcloud"} <= set(platforms)


def test_stop_closes_the_port() -> None:
    """After stop() (here through the context manager) nothing listens on the port."""
    app = Starlette(routes=[Route("/", lambda r: PlainTextResponse("hi"))])
    with serve_in_thread(app) as server:
        assert httpx.get(server.url).text == "hi"
        port = server.port
    assert not server.running
    assert _refused(port)


def test_serves_a_fastapi_app_and_runs_its_lifespan() -> None:
    """Any ASGI app works, and its lifespan startup and shutdown run."""
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with serve_in_thread(api) as server:
        assert events == ["startup"]
        assert httpx.get(f"{server.url}/ping").json() == {"pong": "yes"}
    assert events == ["startup", "shutdown"]


def test_a_port_in_use_fails_at_once() -> None:
    """Binding a busy port raises instead of starting a server that never listens."""
    app = Starlette()
    with serve_in_thread(app) as server, pytest.raises(OSError, match="in use"):
        serve_in_thread(app, port=server.port)


def test_a_failing_startup_raises() -> None:
    """If the app's startup fails, serve_in_thread raises rather than returning a dead server."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="exited during startup"):
        serve_in_thread(Starlette(lifespan=lifespan), lifespan="on")


def test_abort_connection_is_a_transport_error_and_the_server_survives() -> None:
    """A handler returning AbortConnection makes httpx raise; the next request works."""

    async def abort(request: Request) -> Response:
        return AbortConnection()

    app = Starlette(
        routes=[Route("/abort", abort), Route("/ok", lambda r: PlainTextResponse("fine"))]
    )
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/abort")
        assert client.get("/ok").text == "fine"


def test_fault_config_reads_merges_and_clears(sandbox: Sandbox) -> None:
    """GET shows the faults, POST merges and validates them, DELETE clears them."""
    initial = sandbox.http.get("/youtube/_fake/faults").json()
    assert initial["failure_rate"] == 0.0
    assert initial["processing_seconds"] == 5.0
    merged = sandbox.faults("youtube", failure_rate=0.5, latency_ms=3)
    assert (merged["failure_rate"], merged["latency_ms"]) == (0.5, 3)
    bad = sandbox.http.post("/youtube/_fake/faults", json={"failure_rate": 2})
    assert bad.status_code == 400
    unknown = sandbox.http.post("/youtube/_fake/faults", json={"explode": True})
    assert unknown.status_code == 400
    assert sandbox.http.get("/tiktok/_fake/faults").json()["failure_rate"] == 0.0
    cleared = sandbox.http.delete("/youtube/_fake/faults").json()
    assert cleared["failure_rate"] == 0.0
    assert cleared["latency_ms"] == 0
    assert cleared["processing_seconds"] == 5.0


def test_faults_merge_rejects_wrong_kinds() -> None:
    """Each fault has a kind: rates in [0, 1], counts non-negative ints, a boolean."""
    faults = Faults()
    assert faults.merged({"drop_response_after_commit": 2}).drop_response_after_commit == 2
    for patch in (
        {"rate_limit_rate": -0.1},
        {"retry_after_seconds": 1.5},
        {"quota_exhausted": 1},
        {"processing_seconds": "fast"},
        {"latency_ms": True},
    ):
        with pytest.raises(ValueError, match="must be"):
            faults.merged(patch)


def test_account_endpoint_validates_and_reuses_accounts(sandbox: Sandbox) -> None:
    """A second consent for the same handle keeps its external id; bad bodies are refused."""
    first = sandbox.account("youtube", "alice")
    again = sandbox.account("youtube", "alice")
    assert again["external_id"] == first["external_id"]
    assert again["access_token"] != first["access_token"]
    chosen = sandbox.account("tiktok", "bob", external_id="open-bob", access_ttl_seconds=60)
    assert (chosen["external_id"], chosen["expires_in"]) == ("open-bob", 60)
    bad = sandbox.http.post("/tiktok/_fake/accounts", json={"handle": ""})
    assert bad.status_code == 400
    listed = sandbox.http.get("/tiktok/_fake/accounts").json()
    assert listed == [{"handle": "bob", "external_id": "open-bob"}]
