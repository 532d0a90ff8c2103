"""Running crosspost: serve (API + workers), sandbox (fakes only), worker, migrate."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

import typer

from crosspost import __version__
from crosspost.cli._api_processes import run_api, start_api_processes, stop_api_processes
from crosspost.cli._common import (
    App,
    ExitCode,
    describe_home,
    examples,
    load_settings,
    out,
    services,
    wait_for_signal,
)
from crosspost.cli._home import (
    remove_sandbox_record,
    sandbox_password,
    write_record,
    write_sandbox_record,
)
from crosspost.cli._ports import PortTaken, claim_port
from crosspost.cli._sandbox import Fakes, claim_fakes, home_fakes, home_sandbox
from crosspost.config import Settings

app = App()

Host = Annotated[str | None, typer.Option(help="Listen address.", metavar="ADDRESS")]
Port = Annotated[
    int | None,
    typer.Option(
        help="API port (env CROSSPOST_PORT; 0: any free port); refused when taken. Default: "
        "8000, or the next free port when another process holds it.",
        metavar="PORT",
    ),
]


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


SandboxPort = Annotated[
    int | None,
    typer.Option(
        help="Port of the platform fakes (env CROSSPOST_SANDBOX_PORT; 0: any free port). "
        "Default: 8010, or the next free port when another process holds it.",
        metavar="PORT",
    ),
]


@app.command(
    epilog=examples(
        "crosspost serve --sandbox",
        "crosspost serve --sandbox --port 9000 --sandbox-port 9010",
        "crosspost serve --port 9000 --workers 0   # API only; run `crosspost worker` apart",
        "CROSSPOST_REDIS_URL=redis://127.0.0.1:6379/0 crosspost serve --api-processes 2",
    )
)
def serve(
    sandbox: Annotated[
        bool, typer.Option(help="Run the platform fakes; test keys reach them.")
    ] = False,
    host: Host = None,
    port: Port = None,
    sandbox_port: SandboxPort = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker threads (0 = API only).", metavar="N")
    ] = None,
    api_processes: Annotated[
        int | None,
        typer.Option(
            help="API processes sharing the port (more than 1 needs CROSSPOST_REDIS_URL).",
            metavar="N",
            min=1,
        ),
    ] = None,
) -> None:
    """Run the API and a worker pool in one process (embedded SQLite by default).

    With --sandbox it also runs the platform fakes, or shares those of this home's
    `crosspost sandbox`; never another crosspost's. Prints one line saying where it listens
    and which fakes it uses (--json: that as JSON; -q: the API URL) and records itself in the
    home's server.json for the other commands.
    """
    from crosspost.logs import configure_logging  # noqa: PLC0415

    settings = load_settings(
        sandbox=sandbox or None,
        host=host,
        port=port,
        sandbox_port=sandbox_port,
        workers=workers,
        api_processes=api_processes,
    )
    configure_logging(settings)
    if settings.api_processes > 1 and not settings.resolved_redis_url:
        out().error(
            f"--api-processes {settings.api_processes} needs CROSSPOST_REDIS_URL: each process "
            "would otherwise keep rate limits of its own (run one API process without Redis)"
        )
        raise typer.Exit(ExitCode.USAGE)
    # The API's port first: the address written to server.json and given to platforms
    # (OAuth redirects, signed media URLs) is the one really listened on.
    listener, api_moved = _listen(settings)
    settings = settings.model_copy(update={"port": listener.getsockname()[1]})
    if api_moved:
        out().warn(api_moved)
    try:
        _serve(settings, listener, api_moved)
    finally:
        listener.close()


def _serve(settings: Settings, listener: socket.socket, api_moved: str | None) -> None:
    """Run the server on `listener` until a signal stops it."""
    from crosspost.api.app import create_app  # noqa: PLC0415
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.sandbox import provision_sandbox_accounts  # noqa: PLC0415
    from crosspost.identity.sandbox_owner import ensure_sandbox_owner  # noqa: PLC0415
    from crosspost.studio.runner import build_runners, wake_all  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    fakes = _claim(settings, share=True) if settings.sandbox else None
    if fakes is not None:
        settings = fakes.settings(settings)
        if fakes.moved:
            out().warn(fakes.moved)
    mail_sink = None
    if settings.sandbox and not settings.smtp_host:
        # Sandbox mail (invitations, resets) goes to a local sink; the links are printed.
        from crosspost.fakes.smtp import SmtpSink  # noqa: PLC0415

        mail_sink = SmtpSink().start()
        settings = settings.model_copy(
            update={"smtp_host": mail_sink.host, "smtp_port": mail_sink.port}
        )
    svc = services(settings, expect_server=False, announce=False)
    tenant_id = default_tenant(svc)
    sign_in = None
    if fakes is not None:
        # Tokens minted now, by the fakes this server uses: no other fakes know them.
        provision_sandbox_accounts(svc, tenant_id)
        password = sandbox_password(settings.home)
        sign_in = {"email": ensure_sandbox_owner(svc, tenant_id, password), "password": password}
    # The engine's pool and the studio's (renders); none with --workers 0.
    runners = build_runners(svc, concurrency=settings.workers) if settings.workers else []
    # Webhooks go out from wherever jobs run: with workers here, or from `crosspost worker`.
    dispatcher = WebhookDispatcher(svc) if settings.workers else None
    if dispatcher:
        for runner in runners:
            runner.start()
        dispatcher.start()
    api = create_app(svc, wake_workers=wake_all([*runners, dispatcher] if dispatcher else []))
    others = start_api_processes(settings, listener)
    fakes_url = fakes.url if fakes else None
    write_record(
        settings.home, api_url=settings.base_url, sandbox=settings.sandbox, fakes_url=fakes_url
    )
    banner = {
        "version": __version__,
        "api_url": settings.base_url,
        "docs_url": f"{settings.base_url}/docs",
        "dashboard_url": f"{settings.base_url}/app",
        "dashboard_sign_in": sign_in,
        "api_moved": api_moved,
        "workers": settings.workers,
        "render_workers": settings.render_workers if settings.workers else 0,
        "api_processes": settings.api_processes,
        "api_pids": [os.getpid(), *(p.pid for p in others)],
        "database": svc.db.dialect,
        "sandbox_fakes_url": fakes_url,
        "sandbox_fakes": None
        if fakes is None
        else {"url": fakes.url, "pid": fakes.pid, "shared": fakes.shared, "moved": fakes.moved},
        "home": str(settings.home),
    }
    out().result(
        banner,
        ids=[settings.base_url],
        human=lambda: out().line(
            f"crosspost {__version__} API on {settings.base_url}"
            f" (docs {settings.base_url}/docs)"
            + (f" in {settings.api_processes} processes" if others else "")
            + f", {settings.workers} workers,"
            f" database {svc.db.dialect}"
            + (f", sandbox fakes on {fakes.url} (sandbox; {fakes.owner()})" if fakes else "")
            + f"; home {describe_home(settings)}"
            + (
                f"\ndashboard {settings.base_url}/app: sign in as {sign_in['email']}, "
                f"password {sign_in['password']}"
                if sign_in
                else f"\ndashboard {settings.base_url}/app"
            )
        ),
    )
    try:
        run_api(api, settings, listener)
    finally:
        stop_api_processes(others, timeout=10)
        if dispatcher:
            dispatcher.stop(timeout=10)
            for runner in runners:
                runner.stop(timeout=10)
        if fakes is not None and fakes.server is not None:
            fakes.server.stop()
        if mail_sink is not None:
            mail_sink.stop()
        svc.close()


def _listen(settings: Settings) -> tuple[socket.socket, str | None]:
    """A socket listening on the API's port (see `claim_port`), and why it is not the port
    asked for; a port set explicitly (--port, CROSSPOST_PORT, or within CROSSPOST_PUBLIC_URL,
    which clients are told) that is taken ends the command with its holder."""
    from crosspost.fakes.server import listen  # noqa: PLC0415

    explicit = "port" in settings.model_fields_set or settings.public_url is not None
    try:
        listener, held = claim_port(
            lambda port: listen(settings.host, port),
            settings.port,
            explicit=explicit,
            label="API",
            flag="--port (or CROSSPOST_PORT)",
            host=settings.host,
        )
    except PortTaken as err:
        out().error(str(err))
        raise typer.Exit(ExitCode.ERROR) from None
    if held is None:
        return listener, None
    port = listener.getsockname()[1]
    return listener, (
        f"{held}; this server listens on port {port} instead (choose with --port); "
        "the commands on this home find it there (server.json)"
    )


def _claim(settings: Settings, *, share: bool) -> Fakes:
    """The fakes for this home (see `claim_fakes`); a taken port asked for explicitly ends
    the command with its reason."""
    from crosspost.fakes.app import create_sandbox_app  # noqa: PLC0415
    from crosspost.fakes.server import serve_in_thread  # noqa: PLC0415

    def start(port: int) -> tuple[Any, str]:
        app = create_sandbox_app(_fake_config(settings))
        server = serve_in_thread(app, host=settings.sandbox_host, port=port)
        return server, str(app.state.instance)

    explicit = "sandbox_port" in settings.model_fields_set
    try:
        return claim_fakes(settings, start, explicit=explicit, share=share)
    except PortTaken as err:
        out().error(str(err))
        raise typer.Exit(ExitCode.ERROR) from None


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
        # The sandbox's TikTok has crosspost's own media URLs verified, as an app's owner
        # verifies its domain in TikTok's portal: photo posts and pulls then work offline.
        tiktok_verified_url_prefixes=(f"{settings.base_url.rstrip('/')}/",),
    )
    return config if settings.fake_rate_limits else config.without_rate_limits()


@app.command(epilog=examples("crosspost sandbox", "crosspost sandbox --port 8020 --json"))
def sandbox(
    host: Host = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Listen port (env CROSSPOST_SANDBOX_PORT; 0: any free port). Default: 8010, "
            "or the next free port when another process holds it.",
            metavar="PORT",
        ),
    ] = None,
) -> None:
    """Run only the platform fakes, as this home's sandbox (for tests and client development).

    A `serve --sandbox` on the same home shares them; no other server uses them.
    """
    from crosspost.fakes.app import FAKES  # noqa: PLC0415

    settings = load_settings(sandbox_host=host, sandbox_port=port)
    running = home_sandbox(settings)
    if running is not None:
        out().error(
            f"this home's sandbox already runs on {running.url} (pid {running.pid}); "
            f"home {describe_home(settings)}"
        )
        raise typer.Exit(ExitCode.ERROR)
    fakes = _claim(settings, share=False)
    if fakes.moved:
        out().warn(fakes.moved)
    instance = str(fakes.instance)
    write_sandbox_record(settings.home, url=fakes.url, instance=instance)
    names = [p.value for p in FAKES]
    out().result(
        {"url": fakes.url, "pid": fakes.pid, "platforms": names, "home": str(settings.home)},
        ids=[fakes.url],
        human=lambda: out().line(
            f"platform fakes on {fakes.url} (sandbox: {', '.join(names)}), pid {fakes.pid}, "
            f"for home {describe_home(settings)}; Ctrl-C stops"
        ),
    )
    try:
        wait_for_signal()
    finally:
        remove_sandbox_record(settings.home, instance)
        fakes.server.stop()


@app.command(epilog=examples("crosspost worker --concurrency 8"))
def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs run at once in this process.", metavar="N")
    ] = 4,
) -> None:
    """Run workers only (scale-out: run several, on any machine sharing the database).

    Besides the `--concurrency` jobs, it renders CROSSPOST_RENDER_WORKERS clips at once (1 by
    default; 0 leaves renders to other workers) in a pool of their own."""
    from crosspost.logs import configure_logging  # noqa: PLC0415
    from crosspost.studio.runner import build_runners  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    # Test-mode targets reach the fakes of the server on this home, wherever they run.
    settings = home_fakes(Settings())
    configure_logging(settings)
    svc = services(settings, expect_server=False, announce=False)
    runners = build_runners(svc, concurrency=concurrency)
    dispatcher = WebhookDispatcher(svc)
    for runner in runners:
        runner.start()
    dispatcher.start()
    renders = settings.render_workers
    out().result(
        {
            "concurrency": concurrency,
            "render_workers": renders,
            "database": svc.db.dialect,
            "home": str(settings.home),
        },
        human=lambda: out().line(
            f"worker running {concurrency} jobs and {renders} render(s) at once and webhook "
            "deliveries on "
            f"{svc.db.dialect}; home {describe_home(settings)}; Ctrl-C stops"
        ),
    )
    wait_for_signal()
    dispatcher.stop(timeout=30)
    for runner in runners:
        runner.stop(timeout=30)
    svc.close()
