"""The API's edge: well-formed URLs, body size limits, strict and well-formed JSON and form
bodies, security and rate-limit headers on every answer. A pure ASGI middleware (no
per-request task or queue)."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crosspost.api.errors import problem
from crosspost.api.linger import lingering
from crosspost.api.wellformed import Flaw, content_length, json_flaw, pairs_flaw, url_flaw
from crosspost.config import Settings

# Routes whose bodies are not JSON: raw media uploads (tus PATCHes of their chunks, and the
# PUT of a direct upload when crosspost serves it itself).
_RAW_BODY = (("POST", "/v1/media"), ("PATCH", "/v1/uploads/tus"), ("PUT", "/v1/uploads"))
# The OAuth endpoints and the consent flow's pages take forms, as browsers and RFC 6749 send.
_FORM_BODY = tuple(
    ("POST", f"/oauth/{name}") for name in ("token", "revoke", "introspect", "authorize", "sign-in")
)
# The dashboard's forms (web/), posted by browsers.
_PAGE_FORMS = (("POST", "/app"),)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_NO_STORE = (b"cache-control", b"no-store")


def _is(method: str, path: str, routes: tuple[tuple[str, str], ...]) -> bool:
    return any(method == m and (path == p or path.startswith(p + "/")) for m, p in routes)


def _is_transcript(method: str, path: str) -> bool:
    # A WebVTT/SRT file (PUT /v1/projects/{id}/sources/{media_id}/transcript, PUT
    # /v1/content-items/{id}/transcript): the route takes it raw and bounds its size itself.
    return (
        method == "PUT"
        and path.startswith(("/v1/projects/", "/v1/content-items/"))
        and path.endswith("/transcript")
    )


def new_request_id() -> str:
    """`req_` and 24 hex digits, fresh for each request."""
    return "req_" + secrets.token_hex(12)


class EdgeMiddleware:
    """Refuse oversized and mistyped bodies before any work; stamp headers on answers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_json = settings.max_json_bytes
        hsts = (settings.public_url or "").startswith("https://")
        self.headers = SECURITY_HEADERS + (
            ((b"strict-transport-security", b"max-age=31536000"),) if hsts else ()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request line and headers, count the body, and decorate the answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = _headers(scope)
        receive, send = lingering(headers, receive, send)
        flaw = url_flaw(scope.get("raw_path") or path.encode(), scope.get("query_string", b""))
        if flaw is not None:
            await _refusal(flaw, method, path)(scope, receive, self._stamper(path, scope, send))
            return
        if _is(method, path, _RAW_BODY) or _is_transcript(method, path):
            # Media uploads stream to disk and enforce CROSSPOST_MAX_UPLOAD_BYTES themselves.
            await self.app(scope, receive, self._stamper(path, scope, send))
            return
        limit = self.max_json
        refusal = self._refuse(scope, method, path, headers, limit)
        if refusal is not None:
            await refusal(scope, receive, self._stamper(path, scope, send))
            return
        # JSON bodies are small (CROSSPOST_MAX_JSON_BYTES): read them whole, so a body that
        # breaks a rule is refused here with its own problem, before any handler runs.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await problem(
                    413,
                    "body_too_large",
                    "Payload too large",
                    f"the body exceeds {limit} bytes; this endpoint accepts at most {limit}",
                    instance=path,
                )(scope, receive, self._stamper(path, scope, send))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        flaw = self._body_flaw(method, path, headers, body)
        if flaw is not None:
            await _refusal(flaw, method, path)(scope, receive, self._stamper(path, scope, send))
            return
        delivered = False

        async def counted() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, counted, self._stamper(path, scope, send))

    def _stamper(self, path: str, scope: Scope, send: Send) -> Send:
        """`send`, adding the security headers and any the request left in its state."""
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        # Every answer names its request, so a client can quote it when asking what happened
        # (the SDKs carry it on their errors; a failed request's log lines carry it too).
        request_id = state.setdefault("request_id", new_request_id())

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.headers if h[0] not in present]
                extra.append((b"x-request-id", request_id.encode()))
                if path.startswith("/v1/") and _NO_STORE[0] not in present:
                    extra.append(_NO_STORE)
                for name, value in (state.get("response_headers") or {}).items():
                    if name.lower().encode() not in present:
                        extra.append((name.lower().encode(), value.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return stamped

    def _refuse(
        self, scope: Scope, method: str, path: str, headers: dict[str, str], limit: int
    ) -> Any:
        length = headers.get("content-length")
        if length is not None:
            size = content_length(length)
            if size is None:
                return problem(
                    400, "bad_request", "Bad request", "Content-Length must be a whole number"
                )
            if size > limit:
                return problem(
                    413,
                    "body_too_large",
                    "Payload too large",
                    f"the body is {length.strip()} bytes; this endpoint accepts at most {limit}",
                    instance=path,
                )
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if method not in _WRITE_METHODS or not has_body:
            return None
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if _is(method, path, _FORM_BODY + _PAGE_FORMS):
            wanted = "application/x-www-form-urlencoded"
            ok = kind == wanted
        else:
            wanted = "application/json"
            ok = _is_json(kind)
        if ok:
            return None
        detail = f"send the body as {wanted} (Content-Type: {wanted}); got {kind or 'none'}"
        # The OAuth token endpoint's clients read RFC 6749's members; others read `code`.
        oauth: dict[str, Any] = (
            {"error": "invalid_request", "error_description": detail}
            if _is(method, path, _FORM_BODY)
            else {}
        )
        return problem(
            415,
            "json_required" if wanted == "application/json" else "form_required",
            "Unsupported media type",
            detail,
            instance=path,
            **oauth,
        )

    @staticmethod
    def _body_flaw(method: str, path: str, headers: dict[str, str], body: bytes) -> Flaw | None:
        """What is wrong with a whole body whose type `_refuse` let through, if anything."""
        if not body:
            return None
        if _is(method, path, _FORM_BODY + _PAGE_FORMS):
            return pairs_flaw(body, "form field")
        if _is_json(headers.get("content-type", "")):
            return json_flaw(body)
        return None


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _refusal(flaw: Flaw, method: str, path: str) -> Any:
    title = "Invalid input" if flaw.status == 422 else "Bad request"
    extra = dict(flaw.extra)
    if _is(method, path, _FORM_BODY):
        # The OAuth token endpoint's clients read RFC 6749's members; others read `code`.
        extra.update(error="invalid_request", error_description=flaw.detail)
    return problem(flaw.status, flaw.code, title, flaw.detail, instance=path, **extra)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
