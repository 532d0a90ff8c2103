"""`crosspost webhooks`: webhook endpoints, the event catalogue, triggered events and the
live stream (`listen`), through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli import listen
from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    ExitCode,
    api,
    did_you_mean,
    examples,
    out,
    plain,
    ts,
)

app = App(help="Webhook endpoints, event types, test events and the live stream (listen).")

EndpointId = Annotated[str, typer.Argument(metavar="ENDPOINT_ID")]


@app.command(
    "add",
    epilog=examples(
        "crosspost webhooks add https://example.com/hooks --event 'post.*'",
        "crosspost webhooks add https://example.com/hooks --header 'Authorization: Bearer t'",
    ),
)
def webhooks_add(
    url: Annotated[str, typer.Argument(metavar="URL")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            help="An event type or wildcard such as post.* (repeat; default: all).",
            metavar="EVENT",
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="A note for yourself.", metavar="TEXT")] = "",
    throttle: Annotated[
        int | None,
        typer.Option(help="At most this many deliveries per second.", metavar="N"),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(help="At most this many deliveries in flight (default 16).", metavar="N"),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            help="A header sent with every delivery, 'Name: value' (repeat).", metavar="HEADER"
        ),
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
        made = plain(client.webhooks.create(body))
    out().note(
        f"added {made['id']} for {made['url']}; verify deliveries with this secret, shown only "
        "once:"
    )

    def human() -> None:
        out().line(made["id"])
        out().line(made["secret"])

    out().result(made, ids=[made["id"], made["secret"]], human=human)


@app.command("list", epilog=examples("crosspost webhooks list", "crosspost webhooks list -q"))
def webhooks_list(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """List endpoints with their filters and health."""
    with api(api_url, key) as client:
        rows = [plain(endpoint) for endpoint in client.webhooks.list(limit=100)]
    cols = [Col("id", keep=True), Col("url", keep=True), Col("events"), Col("active"),
            Col("failing since"), Col("disabled because")]  # fmt: skip
    table = [
        [
            r["id"],
            r["url"],
            ",".join(r["event_types"]) or "*",
            "yes" if r["active"] else "no",
            ts(r.get("failing_since")),
            r.get("disabled_reason") or "-",
        ]
        for r in rows
    ]
    out().result(rows, ids=[r["id"] for r in rows], human=lambda: out().table(cols, table))


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            out().error(f"--header {line!r} is not 'Name: value', e.g. 'Authorization: Bearer …'")
            raise typer.Exit(ExitCode.USAGE)
        headers[name.strip()] = value.strip()
    return headers


def _webhook_action(endpoint_id: str, action: str, api_url: str | None, key: str | None) -> Any:
    with api(api_url, key) as client:
        return client.request("POST", f"/v1/webhooks/{endpoint_id}/{action}")


@app.command("test", epilog=examples("crosspost webhooks test whep_01J…"))
def webhooks_test(endpoint_id: EndpointId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Send a webhook.test event to one endpoint (see its deliveries for the outcome)."""
    answer = _webhook_action(endpoint_id, "test", api_url, key)
    out().result(
        answer,
        ids=[answer["event_id"]],
        human=lambda: out().line(f"queued test event {answer['event_id']} for {endpoint_id}"),
    )


@app.command("rotate", epilog=examples("crosspost webhooks rotate whep_01J…"))
def webhooks_rotate(endpoint_id: EndpointId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Give an endpoint a new secret; the old one keeps signing for 24 h."""
    answer = _webhook_action(endpoint_id, "rotate-secret", api_url, key)
    out().note(
        f"rotated; the previous secret also signs until {answer['previous_expires_at']}. "
        "The new secret, shown only once:"
    )
    out().result(
        answer, ids=[endpoint_id, answer["secret"]], human=lambda: out().line(answer["secret"])
    )


@app.command("disable", epilog=examples("crosspost webhooks disable whep_01J…"))
def webhooks_disable(endpoint_id: EndpointId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Stop deliveries to an endpoint (they wait until it is enabled)."""
    answer = _webhook_action(endpoint_id, "disable", api_url, key)
    out().result(answer, ids=[endpoint_id], human=lambda: out().line(f"disabled {endpoint_id}"))


@app.command("enable", epilog=examples("crosspost webhooks enable whep_01J…"))
def webhooks_enable(endpoint_id: EndpointId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Resume deliveries to an endpoint and forget its failure streak."""
    answer = _webhook_action(endpoint_id, "enable", api_url, key)
    out().result(answer, ids=[endpoint_id], human=lambda: out().line(f"enabled {endpoint_id}"))


app.command("listen", epilog=examples(*listen.EXAMPLES))(listen.listen)


@app.command(
    "trigger",
    epilog=examples(
        "crosspost webhooks trigger post.published",
        "crosspost webhooks trigger target.needs_reauth -q",
    ),
)
def webhooks_trigger(
    event_type: Annotated[
        str,
        typer.Argument(
            metavar="EVENT_TYPE", help="An event type: `crosspost webhooks event-types` lists them."
        ),
    ],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Send an example event of a type to your endpoints and the stream; prints its id.

    The catalogue's example, marked "test": true; test keys (cp_test_…) only.
    """
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

    with api(api_url, key) as client:
        try:
            answer = plain(client.events.trigger({"type": event_type.strip()}))
        except ApiError as err:
            if err.code != "unknown_event_type":
                raise
            _unknown_type(event_type, err.problem)
    out().note(f"triggered {event_type} (test): {answer['event_id']}")
    out().result(answer, ids=[answer["event_id"]], human=lambda: out().line(answer["event_id"]))


def _unknown_type(event_type: str, problem: dict[str, Any]) -> None:
    """A typo: the nearest type and every one that can be triggered, exit status 2."""
    valid = [str(name) for name in problem.get("valid_event_types") or []]
    out().error(f"unknown event type {event_type!r}{did_you_mean(event_type, valid)}")
    if event_type.strip() == "webhook.test":
        out().error("webhook.test goes to one endpoint: `crosspost webhooks test ENDPOINT_ID`")
    out().error(f"event types that can be triggered: {', '.join(valid)}")
    raise typer.Exit(ExitCode.USAGE)


@app.command(
    "event-types",
    epilog=examples("crosspost webhooks event-types", "crosspost webhooks event-types --json"),
)
def webhooks_event_types(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """List the event types and what each means (--json: with schemas and examples)."""
    with api(api_url, key) as client:
        types = client.request("GET", "/v1/webhooks/event-types")["data"]
    rows = [[t["type"], t["description"]] for t in types]
    out().result(
        types,
        ids=[t["type"] for t in types],
        human=lambda: out().table([Col("type", keep=True), Col("description")], rows),
    )
