"""A relay in front of a served API, over real HTTP: it counts the requests it passes on, can
play a server that predates a route (404, as an older crosspost answers), and can be pointed
at another server (the same home restarted on a new port) — what a client must live
through. Streamed answers (Server-Sent Events, downloads) pass as they come. `faults` make it
refuse the next requests (`before`: never passed on) or lose the answers (`after`: passed on,
done upstream, and the client told 503), which is what a client's retries must survive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crosspost.fakes.server import serve_in_thread

_HOP_BY_HOP = {"host", "connection", "transfer-encoding", "keep-alive"}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class Relay:
    """Passes every request to `upstream` and keeps `(method, path)` of each in `requests`;
    paths in `missing` answer 404 without reaching it; an upstream that does not answer
    gives 502."""

    def __init__(self, upstream: str, *, missing: frozenset[str] = frozenset()) -> None:
        self.upstream = upstream
        self.missing = set(missing)
        self.requests: list[tuple[str, str]] = []
        self.idempotency_keys: list[str | None] = []
        # ("before" | "after" | "pass", status) for each of the next requests, in order.
        self.faults: list[tuple[str, int]] = []
        self._client: httpx.AsyncClient | None = None
        app = Starlette(routes=[Route("/{path:path}", self._relay, methods=_METHODS)])
        self._server = serve_in_thread(app)
        self.url = self._server.url

    def count(self, method: str | None = None, prefix: str = "/") -> int:
        """Requests seen so far, of `method` (any when None) to paths under `prefix`."""
        return sum(
            1 for m, p in self.requests if (method is None or m == method) and p.startswith(prefix)
        )

    async def _relay(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append((request.method, path))
        self.idempotency_keys.append(request.headers.get("idempotency-key"))
        if path in self.missing:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and fault[0] == "pass":
            fault = None
        if fault is not None and fault[0] == "before":
            return _refusal(fault[1])
        if self._client is None:  # made on the server's event loop, which it is bound to
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(30, read=None))
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        outgoing = self._client.build_request(
            request.method,
            self.upstream + path,
            params=request.query_params.multi_items(),
            headers=headers,
            content=request.stream(),
        )
        try:
            answer = await self._client.send(outgoing, stream=True)
        except httpx.TransportError as err:
            return JSONResponse({"detail": f"upstream: {err}"}, status_code=502)
        if fault is not None:  # "after": the work is done upstream, its answer lost
            await answer.aread()
            await answer.aclose()
            return _refusal(fault[1])
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=kept,
            background=BackgroundTask(answer.aclose),
        )

    def stop(self) -> None:
        """Stop relaying."""
        self._server.stop()


def _refusal(status: int) -> JSONResponse:
    problem = {
        "type": "about:blank",
        "title": "Relay fault",
        "status": status,
        "detail": "the relay refused this request on purpose",
        "code": "relay_fault",
    }
    return JSONResponse(problem, status_code=status, headers={"Retry-After": "0"})


@contextmanager
def relay(upstream: str, *, missing: frozenset[str] = frozenset()) -> Iterator[Relay]:
    """A `Relay` stopped on leaving."""
    running = Relay(upstream, missing=missing)
    try:
        yield running
    finally:
        running.stop()
