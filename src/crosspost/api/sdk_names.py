"""The name each operation has in the SDKs, written into the OpenAPI document as
`x-sdk-name` (``posts.targets.retry``), so the Python and TypeScript generators share one
naming and a new endpoint is named once, here."""

from __future__ import annotations

import re
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
# Names the path rules would get wrong, by "METHOD path": the rules suit resources and their
# actions; these are endpoints whose best name is not their path.
_NAMES = {
    "GET /healthz": "health.live",
    "GET /readyz": "health.ready",
    "GET /.well-known/jwks.json": "oauth.jwks",
    "GET /.well-known/oauth-authorization-server": "oauth.metadata",
    "POST /v1/auth/password-reset": "auth.password_reset.request",
    "POST /v1/me/totp": "me.totp.start",
    "GET /v1/me": "me.get",
    "GET /v1/signing-policy": "signing_policy.get",
    "GET /v1/usage": "usage.get",
    "GET /v1/usage/quotas": "usage.quotas.get",
    "GET /v1/analytics": "analytics.get",
    "POST /v1/clips/{clip_id}/renders": "clips.renders.create",
    "POST /v1/accounts": "accounts.import_tokens",
    "DELETE /v1/accounts/{account_id}": "accounts.disconnect",
    "GET /v1/projects/{project_id}/sources/{media_id}/transcript": "projects.sources.get_transcript",  # noqa: E501
    "PUT /v1/projects/{project_id}/sources/{media_id}/transcript": "projects.sources.put_transcript",  # noqa: E501
    "POST /v1/pipelines/{pipeline_id}/runs": "pipelines.start_run",
    "GET /v1/content-items/{item_id}/{part}": "content_items.read_part",
    "GET /v1/webhooks/{endpoint_id}/deliveries": "webhooks.deliveries.list",
    "POST /v1/releases/{release_id}/artwork:generate": "releases.generate_artwork",
    "PUT /v1/releases/{release_id}/artwork": "releases.accept_artwork",
    "DELETE /v1/keys/{key_id}": "keys.revoke",
    "DELETE /v1/oauth-clients/{client_id}": "oauth_clients.revoke",
    "DELETE /v1/oauth-grants/{grant_id}": "oauth_grants.revoke",
    "DELETE /v1/keys/{key_id}/signing-secrets/{secret_id}": "keys.signing_secrets.revoke",
    "PATCH /v1/uploads/tus/{upload_id}": "uploads.tus.append",
    "DELETE /v1/users/{user_id}": "users.remove",
    "DELETE /v1/invitations/{invitation_id}": "invitations.revoke",
}

_ITEM_VERBS = {
    "get": "get",
    "patch": "update",
    "put": "replace",
    "delete": "delete",
    "post": "create",
}
_COLLECTION_VERBS = {
    "get": "list",
    "post": "create",
    "put": "replace",
    "delete": "delete",
    "patch": "update",
}


def name_operations(document: dict[str, Any]) -> None:
    """Set `x-sdk-name` on every operation; refuses a name given twice, or one that is both
    a method and a group (either would shadow the other in a client)."""
    seen: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            dotted = ".".join(operation_name(document, method, path))
            where = f"{method.upper()} {path}"
            if dotted in seen:
                raise RuntimeError(
                    f"{where} and {seen[dotted]} are both {dotted}: name one in _NAMES"
                )
            seen[dotted] = where
            operation["x-sdk-name"] = dotted
    groups = {name.rsplit(".", 1)[0] for name in seen if "." in name}
    prefixes = {".".join(g.split(".")[: i + 1]) for g in groups for i in range(g.count(".") + 1)}
    clash = sorted(set(seen) & prefixes)
    if clash:
        raise RuntimeError(f"{clash} name both a method and a group: name them in _NAMES")


def _ident(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def operation_name(document: dict[str, Any], method: str, path: str) -> list[str]:
    """Where an operation lives and what it is called: `/v1/posts/{id}/cancel` POST is
    posts.cancel, `/v1/posts/{id}` GET posts.get, `/v1/projects/{id}/clips` GET
    projects.clips.list."""
    given = _NAMES.get(f"{method.upper()} {path}")
    if given:
        return given.split(".")
    paths = document["paths"]
    short = path.removeprefix("/v1")
    segments = [s for s in short.strip("/").split("/") if s]
    statics = [_ident(s) for s in segments if not s.startswith("{")]
    if segments[-1].startswith("{"):
        return [*statics, _ITEM_VERBS[method]]
    has_items = any(p.startswith(path + "/{") for p in paths)
    several = len([m for m in paths[path] if m in METHODS]) > 1
    if len(segments) == 1 or has_items or several:
        return [*statics, _COLLECTION_VERBS[method]]
    verb = "" if method in ("post", "get") else method + "_"
    return [*statics[:-1], verb + statics[-1]]
