"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crosspost.api.deps import ServicesDep
from crosspost.store import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; `service` tells another crosspost looking for a free port whose
    port this is."""
    return {"status": "ok", "service": "crosspost"}


@router.get("/readyz")
def readyz(svc: ServicesDep) -> JSONResponse:
    """The database answers and its schema is current: ready for traffic."""
    checks: dict[str, str] = {}
    try:
        current = migrate.current_revision(svc.db)
        checks["database"] = "ok"
        checks["schema"] = (
            "ok" if current == migrate.head_revision() else f"at {current}, run `crosspost migrate`"
        )
        counts = svc.jobs.counts()
        checks["jobs"] = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    ready = checks.get("database") == "ok" and checks.get("schema") == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
