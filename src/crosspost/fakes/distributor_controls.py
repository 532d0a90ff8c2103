"""The fake distributor in the sandbox: started and stopped with the sandbox app, found and
driven over HTTP at ``/distributor/_fake/…`` (the SFTP drop itself is on its own port).

``GET endpoint`` tells a client where to deliver: ``{host, port, username, password,
host_key}`` (the host key line to check the server against). ``GET batches`` lists each
batch judged, ``POST reset`` empties the drop, ``POST faults`` takes one of
``{"reject_next": {"code", "text"}}``, ``{"drop_after_bytes": n}``,
``{"delay_live": seconds}``, ``{"store_fails": {"store", "reason"}}``,
``{"slow_writes": seconds}``, ``{"today": "YYYY-MM-DD" or null}`` (the date the stores go
by: a release whose deals start later is Scheduled until then) or ``{"clear": true}``.
``GET writes`` lists the bytes each SFTP session wrote, by file; ``GET batches/{id}/files``
each file of a batch with its size and MD5; ``GET batches/{id}/message`` its message XML.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crosspost.fakes.distributor import FakeDistributor

PREFIX = "/distributor"


def routes(fake: FakeDistributor) -> list[Route]:
    """The control routes of `fake`, to mount under PREFIX."""

    async def endpoint(request: Request) -> Response:
        return JSONResponse(
            {
                "host": fake.host,
                "port": fake.port,
                "username": fake.username,
                "password": fake.password,
                "host_key": fake.host_key_line,
            }
        )

    async def batches(request: Request) -> Response:
        return JSONResponse([_batch(asdict(b)) for b in fake.batches()])

    async def writes(request: Request) -> Response:
        return JSONResponse([asdict(w) for w in fake.writes()])

    async def message(request: Request) -> Response:
        folder = fake.root / request.path_params["batch_id"]
        found = (
            sorted(p for p in folder.glob("*.xml") if not p.name.startswith("BatchComplete_"))
            if folder.is_dir()
            else []
        )
        if not found:
            return JSONResponse({"error": "no message in that batch"}, status_code=404)
        return Response(found[0].read_bytes(), media_type="application/xml")

    async def files(request: Request) -> Response:
        batch = request.path_params["batch_id"]
        return JSONResponse({n: asdict(f) for n, f in fake.received_files(batch).items()})

    async def reset(request: Request) -> Response:
        fake.reset()
        return JSONResponse({"ok": True})

    async def faults(request: Request) -> Response:
        try:
            body = await request.json()
            _apply(fake, body)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"bad fault: {exc}"}, status_code=400)
        return JSONResponse({"ok": True})

    return [
        Route("/_fake/endpoint", endpoint, methods=["GET"]),
        Route("/_fake/batches", batches, methods=["GET"]),
        Route("/_fake/writes", writes, methods=["GET"]),
        Route("/_fake/batches/{batch_id}/files", files, methods=["GET"]),
        Route("/_fake/batches/{batch_id}/message", message, methods=["GET"]),
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/faults", faults, methods=["POST"]),
    ]


def _apply(fake: FakeDistributor, body: Any) -> None:
    if not isinstance(body, dict) or len(body) != 1:
        raise ValueError("give one fault as a JSON object with one key")
    ((name, value),) = body.items()
    if name == "reject_next":
        fake.reject_next(str(value["code"]), str(value["text"]))
    elif name == "drop_after_bytes":
        fake.drop_after_bytes(int(value))
    elif name == "delay_live":
        fake.delay_live(float(value))
    elif name == "today":
        fake.set_today(None if value is None else str(value))
    elif name == "slow_writes":
        fake.slow_writes(float(value))
    elif name == "store_fails":
        fake.store_fails(str(value["store"]), str(value["reason"]))
    elif name == "clear" and value is True:
        fake.clear_faults()
    else:
        raise ValueError(f"unknown fault {name!r}")


def _batch(record: dict[str, Any]) -> dict[str, Any]:
    """A batch record as JSON (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}
