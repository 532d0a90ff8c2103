"""Pipelines: create, change, rotate the webhook secret, delete, and show them.

A pipeline's two secrets are sealed in the vault: the GitHub token the tenant gives (read
back only to call GitHub) and the webhook secret we make (shown once, when made).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import Connection

from crosspost.domain.enums import Mode
from crosspost.domain.pipeline import (
    WEBHOOK_EVENTS,
    GitHubWebhook,
    PipelineCreate,
    PipelinePatch,
    PipelinePublic,
    RecapTarget,
    TwitchOwner,
)
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.providers import discord
from crosspost.store import content_items as item_rows
from crosspost.store import pipelines as rows
from crosspost.store.rows import Row
from crosspost.vault.keyring import Keyring

TABLE = "pipelines"  # the sealed columns' associated data


def webhook_url(svc: Services, pipeline_id: str) -> str:
    """Where GitHub delivers a pipeline's events."""
    return f"{svc.settings.base_url}/v1/pipelines/{pipeline_id}/github-webhook"


def public(svc: Services, row: Row, *, secret: str | None = None) -> PipelinePublic:
    """The API's view of a pipeline row (`secret` only right after it was made)."""
    return PipelinePublic(
        id=row["id"],
        name=row["name"],
        mode=row["mode"],
        twitch_login=row["twitch_login"],
        repositories=list(row["repositories"]),
        match_window_minutes=row["match_window_minutes"],
        recap=RecapTarget.model_validate(row["recap"]) if row["recap"] else None,
        github_token_set=row["github_token"] is not None,
        judge=row["judge"],
        discord_webhook_set=row["discord_webhook_url"] is not None,
        twitch_owner=TwitchOwner.model_validate(owner) if (owner := row["twitch_owner"]) else None,
        github_webhook=GitHubWebhook(
            url=webhook_url(svc, row["id"]), events=list(WEBHOOK_EVENTS), secret=secret
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def create(
    svc: Services, conn: Connection, tenant_id: str, mode: Mode, body: PipelineCreate
) -> tuple[Row, str]:
    """Store a new pipeline; its row and its webhook secret in plain text (shown once)."""
    now = svc.clock.now()
    pipeline_id = new_id("pln")
    secret = secrets.token_urlsafe(32)
    token = body.github_token.get_secret_value() if body.github_token else None
    discord = _discord_url(svc, mode, body.discord_webhook_url)
    rows.insert_pipeline(
        conn,
        {
            "id": pipeline_id,
            "tenant_id": tenant_id,
            "name": body.name,
            "mode": mode.value,
            "twitch_login": body.twitch_login.lower(),
            "repositories": _unique(body.repositories),
            "match_window_minutes": body.match_window_minutes,
            "recap": body.recap.model_dump() if body.recap else None,
            "github_token": _seal(svc.keyring, tenant_id, pipeline_id, token),
            "webhook_secret": _seal(svc.keyring, tenant_id, pipeline_id, secret),
            "github_seen": {},
            "judge": body.judge,
            "discord_webhook_url": _seal(svc.keyring, tenant_id, pipeline_id, discord),
            "created_at": now,
            "updated_at": now,
        },
    )
    return get(conn, tenant_id, pipeline_id), secret


def get(conn: Connection, tenant_id: str, pipeline_id: str) -> Row:
    """A tenant's pipeline; NotFound otherwise."""
    row = rows.get_pipeline(conn, tenant_id, pipeline_id)
    if row is None:
        raise NotFound(f"no pipeline {pipeline_id}", code="pipeline_not_found")
    return row


def patch(
    svc: Services, conn: Connection, tenant_id: str, pipeline_id: str, body: PipelinePatch
) -> Row:
    """Change the fields the patch names; a null recap or GitHub token removes it."""
    row = get(conn, tenant_id, pipeline_id)
    given = body.model_fields_set
    values: dict[str, Any] = {}
    for name in ("name", "match_window_minutes", "judge"):
        if name in given and getattr(body, name) is not None:
            values[name] = getattr(body, name)
    if "twitch_login" in given and body.twitch_login is not None:
        values["twitch_login"] = body.twitch_login.lower()
    if "repositories" in given and body.repositories is not None:
        values["repositories"] = _unique(body.repositories)
    if "recap" in given:
        values["recap"] = body.recap.model_dump() if body.recap else None
    if "github_token" in given:
        token = body.github_token.get_secret_value() if body.github_token else None
        values["github_token"] = _seal(svc.keyring, tenant_id, pipeline_id, token)
    if "discord_webhook_url" in given:
        url = _discord_url(svc, Mode(row["mode"]), body.discord_webhook_url)
        values["discord_webhook_url"] = _seal(svc.keyring, tenant_id, pipeline_id, url)
    if values:
        values["updated_at"] = svc.clock.now()
        rows.update_pipeline(conn, pipeline_id, values)
    return get(conn, tenant_id, pipeline_id)


def rotate_webhook_secret(
    svc: Services, conn: Connection, tenant_id: str, pipeline_id: str
) -> tuple[Row, str]:
    """A new webhook secret (the old one stops verifying at once); the row and the secret."""
    get(conn, tenant_id, pipeline_id)
    secret = secrets.token_urlsafe(32)
    rows.update_pipeline(
        conn,
        pipeline_id,
        {
            "webhook_secret": _seal(svc.keyring, tenant_id, pipeline_id, secret),
            "updated_at": svc.clock.now(),
        },
    )
    return get(conn, tenant_id, pipeline_id), secret


def delete(conn: Connection, tenant_id: str, pipeline_id: str) -> list[str]:
    """Delete a pipeline with everything it holds; the storage keys of its items' stored
    parts, for the caller to delete once the transaction is committed."""
    get(conn, tenant_id, pipeline_id)
    keys = item_rows.stored_keys(conn, pipeline_id=pipeline_id)
    rows.delete_pipeline(conn, pipeline_id)
    return keys


def webhook_secret(keyring: Keyring, row: Mapping[str, Any]) -> str:
    """The pipeline's webhook secret in plain text, to verify a delivery with."""
    return keyring.decrypt(
        row["webhook_secret"], tenant_id=row["tenant_id"], table=TABLE, row_id=row["id"]
    )


def github_token(keyring: Keyring, row: Mapping[str, Any]) -> str | None:
    """The pipeline's GitHub token in plain text, if it has one."""
    if row["github_token"] is None:
        return None
    return keyring.decrypt(
        row["github_token"], tenant_id=row["tenant_id"], table=TABLE, row_id=row["id"]
    )


def discord_webhook_url(keyring: Keyring, row: Mapping[str, Any]) -> str | None:
    """The pipeline's Discord webhook URL in plain text, if it has one."""
    if row["discord_webhook_url"] is None:
        return None
    return keyring.decrypt(
        row["discord_webhook_url"], tenant_id=row["tenant_id"], table=TABLE, row_id=row["id"]
    )


def _discord_url(svc: Services, mode: Mode, given: SecretStr | None) -> str | None:
    """A Discord webhook URL as given, once the notifier of the pipeline's mode accepts it
    (a test pipeline's is the sandbox fake's); 422 saying what is wrong otherwise."""
    if given is None:
        return None
    url = given.get_secret_value().strip()
    try:
        test = mode is Mode.TEST
        discord.check_webhook_url(url, api_base=svc.settings.discord_base(test_mode=test))
    except discord.InvalidWebhookURL as exc:
        raise InvalidInput(str(exc), code="invalid_discord_webhook") from None
    return url


def _seal(keyring: Keyring, tenant_id: str, pipeline_id: str, value: str | None) -> str | None:
    if value is None:
        return None
    return keyring.encrypt(value, tenant_id=tenant_id, table=TABLE, row_id=pipeline_id)


def _unique(repositories: list[str]) -> list[str]:
    """Each repository once, in the order given (GitHub's names are case-insensitive)."""
    seen: dict[str, str] = {}
    for name in repositories:
        seen.setdefault(name.lower(), name)
    return list(seen.values())
