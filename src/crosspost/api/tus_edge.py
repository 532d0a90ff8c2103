"""The tus protocol's rules for every request under /v1/uploads/tus, before anything else
runs: `X-HTTP-Method-Override` honoured (PATCH or DELETE sent as POST), and `Tus-Resumable`
on every answer, errors included. A pure ASGI middleware, outermost. (The request's own
`Tus-Resumable` is checked by the routes, once the caller is known: `routes/tus.py`.)"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crosspost.engine.tus import VERSION

PREFIX = "/v1/uploads/tus"
_OVERRIDABLE = frozenset({"PATCH", "DELETE"})
_RESUMABLE = (b"tus-resumable", VERSION.encode())


class TusMiddleware:
    """Applies the tus core protocol's method override and answer header on its routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply a method override, stamp the answer."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                if _RESUMABLE[0] not in present:
                    message["headers"] = [*message.get("headers", []), _RESUMABLE]
            await send(message)

        override = headers.get("x-http-method-override", "").strip().upper()
        if scope["method"] == "POST" and override in _OVERRIDABLE:
            scope = {**scope, "method": override}
        await self.app(scope, receive, stamped)
