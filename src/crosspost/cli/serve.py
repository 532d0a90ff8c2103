"""Running crosspost: serve (API + workers), sandbox (fakes only), worker, migrate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost import __version__
from crosspost.cli._common import (
    App,
    describe_home,
    examples,
    load_settings,
    out,
    services,
    wait_for_signal,
)
from crosspost.cli._home import write_record
from crosspost.config import Settings

app = App()

Host = Annotated[str | None, typer.Option(help="Listen address.", metavar="ADDRESS")]
Port = Annotated[int | None, typer.Option(help="Listen port.", metavar="PORT")]


@app.command(epilog=examples("CROSSPOST_DATABASE_URL=postgresql://… crosspost migrate"))
def migrate() -> None:
    """Create or upgrade the database schema."""
    from crosspost.store import migrate as migrations  # noqa: PLC0415

    svc = services(Settings(), expect_server=False)
    revision = migrations.current_revision(svc.db)
    svc.close()
    out().result(
        {"revision": revision},
        ids=[revision or ""],
        human=lambda: out().line(f"database at revision {revision}"),
    )


@app.command(
    epilog=examples(
        "crosspost serve --sandbox",
        "crosspost serve --port 9000 --workers 0   # API only; run `crosspost worker` apart",
    )
)
def serve(
    sandbox: Annotated[
        bool, typer.Option(help="Run the platform fakes; test keys reach them.")
    ] = False,
    host: Host = None,
    port: Port = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker threads (0 = API only).", metavar="N")
    ] = None,
) -> None:
    """Run the API and a worker pool in one process (embedded SQLite by default).

    Prints one line saying where it listens (--json: that as JSON; -q: the API URL) and
    records itself in the home's server.json for the other commands.
    """
    import uvicorn  # noqa: PLC0415

    from crosspost.api.app import create_app  # noqa: PLC0415
    from crosspost.api.streams import ApiServer  # noqa: PLC0415
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.worker import build_runner  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    settings = load_settings(sandbox=sandbox or None, host=host, port=port, workers=workers)
    configure_logging(settings)
    svc = services(settings, expect_server=False, announce=False)
    tenant_id = default_tenant(svc)
    fakes_url, fakes = _start_sandbox(svc, tenant_id) if settings.sandbox else (None, None)
    runner = build_runner(svc, concurrency=settings.workers) if settings.workers else None
    # Webhooks go out from wherever jobs run: with workers here, or from `crosspost worker`.
    dispatcher = WebhookDispatcher(svc) if settings.workers else None
    if runner and dispatcher:
        runner.start()
        dispatcher.start()
    api = create_app(svc, wake_workers=_waker(runner, dispatcher))
    write_record(
        settings.home, api_url=settings.base_url, sandbox=settings.sandbox, fakes_url=fakes_url
    )
    banner = {
        "version": __version__,
        "api_url": settings.base_url,
        "docs_url": f"{settings.base_url}/docs",
        "workers": settings.workers,
        "database": svc.db.dialect,
        "sandbox_fakes_url": fakes_url,
        "home": str(settings.home),
    }
    out().result(
        banner,
        ids=[settings.base_url],
        human=lambda: out().line(
            f"crosspost {__version__} API on {settings.base_url}"
            f" (docs {settings.base_url}/docs), {settings.workers} workers,"
            f" database {svc.db.dialect}"
            + (f", sandbox fakes on {fakes_url} (sandbox)" if fakes_url else "")
            + f"; home {describe_home(settings)}"
        ),
    )
    try:
        # log_config=None: uvicorn's records go to the root handler (and its redaction),
        # not to handlers of its own.
        # ApiServer ends open event streams first; plain uvicorn would wait on them forever.
        config = uvicorn.Config(
            api,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
        ApiServer(config).run()
    finally:
        if runner and dispatcher:
            dispatcher.stop(timeout=10)
            runner.stop(timeout=10)
        if fakes:
            fakes.stop()
        svc.close()


def _waker(runner: Any, dispatcher: Any) -> Any:
    """What the API calls after queueing work: wake the jobs and the webhook dispatcher."""
    if runner is None or dispatcher is None:
        return None

    def wake() -> None:
        runner.wake()
        dispatcher.wake()

    return wake


def _start_sandbox(svc: Any, tenant_id: str) -> tuple[str, Any]:
    import httpx  # noqa: PLC0415

    from crosspost.engine.sandbox import provision_sandbox_accounts  # noqa: PLC0415
    from crosspost.fakes.app import create_sandbox_app  # noqa: PLC0415
    from crosspost.fakes.server import serve_in_thread  # noqa: PLC0415

    settings: Settings = svc.settings
    server = None
    try:
        # Fakes already running (`crosspost sandbox` in another process): share them.
        httpx.get(f"{settings.sandbox_base_url}/healthz", timeout=1).raise_for_status()
        url = settings.sandbox_base_url
    except httpx.HTTPError:
        server = serve_in_thread(
            create_sandbox_app(_fake_config(settings)),
            host=settings.sandbox_host,
            port=settings.sandbox_port,
        )
        url = server.url
    provision_sandbox_accounts(svc, tenant_id)
    return url, server


def _fake_config(settings: Settings) -> Any:
    from crosspost.fakes.base import FakeConfig, Faults  # noqa: PLC0415

    config = FakeConfig(
        client_id=settings.sandbox_client_id,
        client_secret=settings.sandbox_client_secret,
        faults=Faults(
            failure_rate=settings.fake_failure_rate,
            latency_ms=settings.fake_latency_ms,
            processing_seconds=settings.fake_processing_seconds,
        ),
    )
    return config if settings.fake_rate_limits else config.without_rate_limits()


@app.command(epilog=examples("crosspost sandbox --port 8010"))
def sandbox(host: Host = None, port: Port = None) -> None:
    """Run only the platform fakes (for tests, benchmarks and client development)."""
    from crosspost.fakes.app import FAKES, create_sandbox_app  # noqa: PLC0415
    from crosspost.fakes.server import serve_in_thread  # noqa: PLC0415

    settings = load_settings(sandbox_host=host, sandbox_port=port)
    server = serve_in_thread(
        create_sandbox_app(_fake_config(settings)),
        host=settings.sandbox_host,
        port=settings.sandbox_port,
    )
    names = [p.value for p in FAKES]
    out().result(
        {"url": server.url, "platforms": names},
        ids=[server.url],
        human=lambda: out().line(
            f"platform fakes on {server.url} (sandbox: {', '.join(names)}); Ctrl-C stops"
        ),
    )
    wait_for_signal()
    server.stop()


@app.command(epilog=examples("crosspost worker --concurrency 8"))
def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs run at once in this process.", metavar="N")
    ] = 4,
) -> None:
    """Run workers only (scale-out: run several, on any machine sharing the database)."""
    from crosspost.engine.worker import build_runner  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    settings = Settings()
    configure_logging(settings)
    svc = services(settings, expect_server=False, announce=False)
    runner = build_runner(svc, concurrency=concurrency)
    dispatcher = WebhookDispatcher(svc)
    runner.start()
    dispatcher.start()
    out().result(
        {"concurrency": concurrency, "database": svc.db.dialect, "home": str(settings.home)},
        human=lambda: out().line(
            f"worker running {concurrency} jobs at once and webhook deliveries on "
            f"{svc.db.dialect}; home {describe_home(settings)}; Ctrl-C stops"
        ),
    )
    wait_for_signal()
    dispatcher.stop(timeout=30)
    runner.stop(timeout=30)
    svc.close()
