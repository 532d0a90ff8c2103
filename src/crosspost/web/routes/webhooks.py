"""Webhook endpoints: create one (its signing secret shown once) with an event filter; send
a test event, rotate the secret, disable and enable, delete; the delivery log, each
delivery's attempts with the request sent and the response got, resend and recover."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_HOOKS = "/app/developers/webhooks"
_FINISHED = {"succeeded", "failed"}
_LOOKS = 60  # a delivery log looks again every 2 s for at most two minutes
# What each action on an endpoint's page says when it is done.
_DONE = {"test": "test event sent", "rotate-secret": "secret rotated",
         "disable": "endpoint disabled", "enable": "endpoint enabled"}  # fmt: skip


def _base(endpoint_id: str) -> str:
    return f"/v1/webhooks/{endpoint_id}"


async def _list_page(
    request: Request, person: Person, api: Api, status: int = 200, **values: Any
) -> Response:
    endpoints = await api.get("/v1/webhooks", limit=100)
    types = await api.get("/v1/webhooks/event-types")
    return render(request, "webhooks/list.html", status, person=person,
                  endpoints=endpoints["data"], event_types=[t["type"] for t in types["data"]],
                  form_key=secrets.token_urlsafe(16), **values)  # fmt: skip


@router.get(_HOOKS)
async def list_endpoints(request: Request) -> Response:
    """The tenant's endpoints and the form to add one."""
    person, api = await signed_in(request)
    return await _list_page(request, person, api)


@router.post(_HOOKS)
async def create_endpoint(request: Request) -> Response:
    """Add an endpoint for the chosen events (none chosen: every event); its secret is on
    the answer page only."""
    person, api = await signed_in(request)
    form = await request.form()
    chosen = [t for t in form.getlist("event_types") if isinstance(t, str) and t]
    url, description = form.get("url"), form.get("description")
    body = {"url": url if isinstance(url, str) else "", "event_types": chosen,
            "description": description if isinstance(description, str) else ""}  # fmt: skip
    key = form.get("form_key")
    once = key if isinstance(key, str) and key else None
    try:
        created = await api.send("POST", "/v1/webhooks", body, idempotency_key=once)
    except Refused as refused:
        return await _list_page(request, person, api, refused.status, error=refused.message)
    return await _list_page(request, person, api, 201, created=created)


async def _deliveries(
    request: Request, api: Api, endpoint_id: str, awaiting: str = ""
) -> dict[str, Any]:
    """The newest deliveries (of the status asked for), where the page redraws them, and
    whether it should look again soon: while one is under way, or while the event an
    action just made (`awaiting`) has no finished delivery yet (a test event is written at
    once and delivered a moment later; the event stream does not carry it)."""
    query = request.query_params
    wanted = query.get("status", "")
    awaiting = awaiting or query.get("awaiting", "")
    tries = int(query["tries"]) if query.get("tries", "").isdigit() else _LOOKS
    found = (await api.get(f"{_base(endpoint_id)}/deliveries", status=wanted, limit=50))["data"]
    finished = {d["event_id"] for d in found if d["status"] in _FINISHED}
    again = tries > 0 and (
        any(d["status"] not in _FINISHED for d in found) or (awaiting and awaiting not in finished)
    )
    url = f"{_HOOKS}/{endpoint_id}/deliveries?" + urlencode({"status": wanted})
    look = url + "&" + urlencode({"awaiting": awaiting, "tries": tries - 1}) if again else ""
    return {"deliveries": found, "status_filter": wanted, "deliveries_url": url, "look_again": look}


async def _endpoint_page(
    request: Request,
    person: Person,
    api: Api,
    endpoint_id: str,
    status: int = 200,
    awaiting: str = "",
    **values: Any,
) -> Response:
    endpoint = await api.get(_base(endpoint_id))
    types = await api.get("/v1/webhooks/event-types")
    return render(request, "webhooks/endpoint.html", status, person=person, endpoint=endpoint,
                  live_events=" ".join(t["type"] for t in types["data"]),
                  form_key=secrets.token_urlsafe(16),
                  **await _deliveries(request, api, endpoint_id, awaiting), **values)  # fmt: skip


@router.get(_HOOKS + "/{endpoint_id}")
async def show_endpoint(request: Request, endpoint_id: str) -> Response:
    """An endpoint: its settings, its actions and its newest deliveries."""
    person, api = await signed_in(request)
    return await _endpoint_page(request, person, api, endpoint_id)


@router.get(_HOOKS + "/{endpoint_id}/deliveries")
async def delivery_rows(request: Request, endpoint_id: str) -> Response:
    """The delivery log's rows, as the page redraws them live."""
    person, api = await signed_in(request)
    return render(request, "webhooks/deliveries.html", person=person, endpoint={"id": endpoint_id},
                  **await _deliveries(request, api, endpoint_id))  # fmt: skip


@router.post(_HOOKS + "/{endpoint_id}/{action}")
async def act(
    request: Request,
    endpoint_id: str,
    action: str,
    since: Annotated[str, Form(max_length=64)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """test, rotate-secret, disable, enable, recover or delete; the endpoint's page says
    what came of it."""
    person, api = await signed_in(request)
    key = form_key or None
    try:
        if action == "delete":
            await api.send("DELETE", _base(endpoint_id))
            return secure(RedirectResponse(_HOOKS, status_code=303))
        if action == "recover":
            answer = await api.send("POST", f"{_base(endpoint_id)}/recover",
                                    {"since": since}, idempotency_key=key)  # fmt: skip
            note = f"{answer['recovered']} deliveries queued again"
        elif action in _DONE:
            answer = await api.send("POST", f"{_base(endpoint_id)}/{action}", idempotency_key=key)
            note = _DONE[action]
        else:
            unknown = {"detail": f"no action {action!r} on an endpoint", "code": "not_found"}
            return render(request, "refused.html", 404, refused=Refused(404, unknown))
    except Refused as refused:
        return await _endpoint_page(request, person, api, endpoint_id, refused.status,
                                    error=refused.message)  # fmt: skip
    secret = answer.get("secret") if action == "rotate-secret" and answer else None
    awaiting = answer.get("event_id", "") if action == "test" and answer else ""
    return await _endpoint_page(request, person, api, endpoint_id, note=note, secret=secret,
                                rotated=action == "rotate-secret", awaiting=awaiting)  # fmt: skip


@router.get(_HOOKS + "/{endpoint_id}/events/{event_id}")
async def show_delivery(
    request: Request, endpoint_id: str, event_id: str, note: Annotated[str, Query()] = ""
) -> Response:
    """One event's delivery to the endpoint: the request (the event's body, as signed and
    sent) and every attempt's response."""
    person, api = await signed_in(request)
    endpoint = await api.get(_base(endpoint_id))
    attempts = await api.get(f"/v1/events/{event_id}/attempts")
    try:
        event: dict[str, Any] | None = await api.get(f"/v1/events/{event_id}")
        gone = ""
    except Refused as refused:
        event, gone = None, refused.message
    mine = [a for a in attempts["data"] if a["endpoint_id"] == endpoint_id]
    return render(request, "webhooks/delivery.html", person=person, endpoint=endpoint,
                  event_id=event_id, event=event, gone=gone, attempts=mine, note=note,
                  form_key=secrets.token_urlsafe(16))  # fmt: skip


@router.post(_HOOKS + "/{endpoint_id}/events/{event_id}/resend")
async def resend(request: Request, endpoint_id: str, event_id: str) -> Response:
    """Deliver the event to the endpoint again, now."""
    _, api = await signed_in(request)
    await api.send("POST", f"{_base(endpoint_id)}/events/{event_id}/resend")
    page = f"{_HOOKS}/{endpoint_id}/events/{event_id}?note=resent"
    return secure(RedirectResponse(page, status_code=303))
