"""`crosspost webhooks`: webhook endpoints, through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from crosspost.cli._common import ApiKey, ApiUrl, api, console, notes, ts

app = typer.Typer(help="Webhook endpoints (through the API).", no_args_is_help=True)


@app.command("add")
def webhooks_add(
    url: str,
    event: Annotated[
        list[str] | None,
        typer.Option(help="An event type or wildcard such as post.* (repeat; default: all)."),
    ] = None,
    description: Annotated[str, typer.Option(help="A note for yourself.")] = "",
    throttle: Annotated[
        int | None, typer.Option(help="At most this many deliveries per second.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="At most this many deliveries in flight (default 16).")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(help="A header sent with every delivery, 'Name: value' (repeat)."),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Add an endpoint; prints its id and its signing secret (shown only this once)."""
    body: dict[str, Any] = {"url": url, "event_types": event or [], "description": description}
    if throttle is not None:
        body["throttle_per_second"] = throttle
    if concurrency is not None:
        body["max_concurrency"] = concurrency
    if header:
        body["headers"] = _headers(header)
    with api(api_url, key) as client:
        made = client.create_webhook(body)
    notes.print(
        f"added {made['id']} for {made['url']}; verify deliveries with this secret, shown only "
        "once:",
        style="dim",
        highlight=False,
    )
    typer.echo(made["id"])
    typer.echo(made["secret"])


@app.command("list")
def webhooks_list(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """List endpoints with their filters and health."""
    with api(api_url, key) as client:
        rows = client.list_webhooks()
    table = Table("id", "url", "events", "active", "failing since", "disabled because")
    for r in rows:
        table.add_row(
            r["id"],
            r["url"],
            ",".join(r["event_types"]) or "*",
            "yes" if r["active"] else "no",
            ts(r.get("failing_since")),
            r.get("disabled_reason") or "-",
        )
    console.print(table)


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            notes.print(
                f"--header {line!r} is not 'Name: value', e.g. 'Authorization: Bearer …'",
                highlight=False,
            )
            raise typer.Exit(2)
        headers[name.strip()] = value.strip()
    return headers


def _webhook_action(endpoint_id: str, action: str, api_url: str | None, key: str | None) -> Any:
    with api(api_url, key) as client:
        return client.webhook_action(endpoint_id, action)


@app.command("test")
def webhooks_test(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Send a webhook.test event to one endpoint (see its deliveries for the outcome)."""
    answer = _webhook_action(endpoint_id, "test", api_url, key)
    typer.echo(f"queued test event {answer['event_id']} for {endpoint_id}")


@app.command("rotate")
def webhooks_rotate(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Give an endpoint a new secret; the old one keeps signing for 24 h."""
    answer = _webhook_action(endpoint_id, "rotate-secret", api_url, key)
    notes.print(
        f"rotated; the previous secret also signs until {answer['previous_expires_at']}. "
        "The new secret, shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(answer["secret"])


@app.command("disable")
def webhooks_disable(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Stop deliveries to an endpoint (they wait until it is enabled)."""
    _webhook_action(endpoint_id, "disable", api_url, key)
    typer.echo(f"disabled {endpoint_id}")


@app.command("enable")
def webhooks_enable(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Resume deliveries to an endpoint and forget its failure streak."""
    _webhook_action(endpoint_id, "enable", api_url, key)
    typer.echo(f"enabled {endpoint_id}")
