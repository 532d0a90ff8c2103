"""The FastAPI application factory."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from crosspost import __version__
from crosspost.api import errors
from crosspost.api.auth import KeyCache
from crosspost.api.edge import EdgeMiddleware
from crosspost.api.metrics import Metrics, ObservingMiddleware
from crosspost.api.openapi_bounds import keep_integer_bounds
from crosspost.api.openapi_extend import amend_document
from crosspost.api.query import known_query_only
from crosspost.api.routes import (
    accounts,
    admin_analytics,
    admin_flags,
    admin_tenants,
    analytics,
    audit,
    brand_kits,
    calendar,
    clips,
    content,
    content_items,
    distributions,
    error_docs,
    events,
    exports,
    health,
    internal,
    jobs,
    keys,
    me,
    media,
    members,
    oauth,
    oauth2,
    oauth_apps,
    oauth_clients,
    oauth_pages,
    pipelines,
    post_metrics,
    posts,
    projects,
    releases,
    remote,
    renders,
    sessions,
    signing,
    targets,
    tus,
    uploads,
    usage,
    webhooks,
)
from crosspost.api.sdk_names import name_operations
from crosspost.api.security import document_security
from crosspost.api.signature import install_signing
from crosspost.api.streams import EventStreams
from crosspost.api.tus_edge import TusMiddleware
from crosspost.engine.services import Services
from crosspost.flags import FlagCache
from crosspost.usage.analytics import AnalyticsRecorder
from crosspost.usage.ratelimit import build_rate_limiter
from crosspost.web import app as dashboard

DESCRIPTION = """Hand crosspost a clip once; it publishes to every platform, exactly once, and
explains every failure. Authenticate with `Authorization: Bearer cp_test_…` (sandbox) or
`cp_live_…` (Authorize: `bearer`), optionally signed (the `signature` headers), or with an
OAuth 2.0 client's access token. Errors are RFC 9457 `application/problem+json` with a
stable `code`."""


OPENAPI_TAGS = [
    {
        "name": "posts",
        "description": "Posts and their targets. `POST /v1/posts/validate` checks a post, and a "
        "file not uploaded yet, exactly as create would, writing nothing.",
    },
    {
        "name": "events",
        "description": "The feed of your webhook events: a page at a time (`GET /v1/events`), "
        "live as Server-Sent Events resumable with `Last-Event-ID` (`GET /v1/events/stream`), "
        "and example events sent by hand to try a receiver (`POST /v1/events/trigger`).",
    },
    {
        "name": "webhooks",
        "description": "Endpoints that receive your events, signed with Standard Webhooks; "
        "their deliveries, attempts, resends and recovery.",
    },
]


def create_app(svc: Services, *, wake_workers: Callable[[], None] | None = None) -> FastAPI:
    """Build the API over a process's services; `wake_workers` nudges in-process workers."""
    limiter = build_rate_limiter(svc.settings)
    streams = EventStreams(svc.db.signals)
    recorder = AnalyticsRecorder(
        svc.db, svc.clock, flush_seconds=svc.settings.analytics_flush_seconds
    )

    flags = FlagCache(svc.db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        await anyio.to_thread.run_sync(flags.start)
        yield
        await anyio.to_thread.run_sync(flags.close)
        streams.close()  # `ApiServer` has ended them already; other servers get here
        await limiter.aclose()
        # Writes what is still buffered; blocking, so off the event loop.
        await anyio.to_thread.run_sync(recorder.close)
        await app.state.nonces.close()

    # Serves Swagger UI's files from the installed package, so /docs works offline.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="crosspost",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.services = svc
    app.state.wake_workers = wake_workers or (lambda: None)
    app.state.key_cache = KeyCache(svc.settings.auth_cache_seconds)
    app.state.rate_limiter = limiter
    app.state.event_streams = streams
    install_signing(app, svc)
    app.state.metrics = Metrics(svc.jobs, svc.db)
    app.state.analytics = recorder
    app.state.flags = flags
    app.add_middleware(EdgeMiddleware, settings=svc.settings)
    # Outermost: refusals at the edge are requests too, and the timing covers every layer.
    app.add_middleware(ObservingMiddleware, metrics=app.state.metrics, recorder=recorder)
    # Outside everything: tus's version check comes first, its header goes on every answer.
    app.add_middleware(TusMiddleware)
    if svc.settings.cors_origins:
        # Off unless configured: a browser app on another origin must be named explicitly.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=svc.settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["*"],
            expose_headers=[
                "RateLimit",
                "RateLimit-Policy",
                "Retry-After",
                "Link",
                "X-Usage-Warning",
            ],
        )
    errors.install(app)
    app.router.routes.extend(_routes(with_internal=bool(svc.settings.internal_api_key)))
    dashboard.install(app)
    webhooks.install_openapi_webhooks(app)
    document_security(app)
    amend_document(app, name_operations)
    keep_integer_bounds(app)
    return app


# OAuth endpoints ignore parameters they do not know, as RFC 6749 §3.1 requires; every
# other router refuses them (known_query_only).
_OPEN = (health, oauth, oauth2, oauth_pages, error_docs)
checked = (
    admin_analytics,
    admin_flags,
    admin_tenants,
    audit,
    sessions,
    members,
    media,
    tus,
    uploads,
    posts,
    calendar,
    remote,
    post_metrics,
    targets,
    accounts,
    keys,
    me,
    signing,
    oauth_clients,
    oauth_apps,
    usage,
    analytics,
    exports,
    renders,
    events,
    brand_kits,
    projects,
    clips,
    jobs,
    pipelines,
    content_items,
    content,
    releases,
    distributions,
    webhooks,
)


@functools.cache
def _routes(*, with_internal: bool) -> tuple[BaseRoute, ...]:
    """Every route of the API, built once per process and shared by its apps.

    FastAPI builds an included route's dependencies and validators when it is first matched
    (about a second for all of ours); included through a plain router rather than the app,
    what it builds belongs to no app, so a second app in the process (another server, each
    test's) reuses it instead of paying again. No app overrides dependencies, which is the
    one thing an inclusion by the app itself would add.
    """
    table = APIRouter()
    for module in _OPEN:
        table.include_router(module.router)
    for module in checked:
        table.include_router(module.router, dependencies=[Depends(known_query_only)])
    if with_internal:
        # Not mounted at all by default: nothing to probe from outside.
        table.include_router(
            internal.router, include_in_schema=False, dependencies=[Depends(known_query_only)]
        )
    return tuple(table.routes)
