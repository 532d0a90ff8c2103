"""The `crosspost` command: serve, worker, migrate, keys, webhooks, publish, status, sandbox…"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from crosspost import __version__
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole, Mode

app = typer.Typer(
    help="crosspost: hand it a clip once, it publishes everywhere, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    # A crash must not print every frame's locals: they hold keys, tokens and settings.
    pretty_exceptions_show_locals=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
vault_app = typer.Typer(help="The encrypted credential vault.", no_args_is_help=True)
app.add_typer(vault_app, name="vault")
accounts_app = typer.Typer(help="Social accounts.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
clients_app = typer.Typer(
    help="OAuth 2.0 clients of partner backends (client credentials).", no_args_is_help=True
)
app.add_typer(clients_app, name="oauth-clients")
webhooks_app = typer.Typer(help="Webhook endpoints (through the API).", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
# Piped output is read by scripts: wide enough that ids are never cut to fit 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=240)
notes = Console(stderr=True)  # chatter that must not pollute captured output
_SANDBOX_MARKER = "sandbox.json"


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _services(settings: Settings) -> Any:
    from crosspost.engine.services import Services  # noqa: PLC0415 - keep `--help` fast

    svc = Services.build(settings)
    svc.upgrade_database()
    return svc


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from crosspost.store import migrate as migrations  # noqa: PLC0415

    svc = _services(Settings())
    console.print(f"database at revision {migrations.current_revision(svc.db)}")
    svc.close()


@app.command()
def serve(
    sandbox: Annotated[
        bool, typer.Option(help="Run the platform fakes; test keys reach them.")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker threads (0 = API only).")] = None,
) -> None:
    """Run the API and a worker pool in one process (embedded SQLite by default)."""
    import uvicorn  # noqa: PLC0415

    from crosspost.api.app import create_app  # noqa: PLC0415
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.worker import build_runner  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    settings = _settings(sandbox=sandbox or None, host=host, port=port, workers=workers)
    configure_logging(settings)
    svc = _services(settings)
    tenant_id = default_tenant(svc)
    fakes_url, fakes = _start_sandbox(svc, tenant_id) if settings.sandbox else (None, None)
    runner = build_runner(svc, concurrency=settings.workers) if settings.workers else None
    # Webhooks go out from wherever jobs run: with workers here, or from `crosspost worker`.
    dispatcher = WebhookDispatcher(svc) if settings.workers else None
    if runner and dispatcher:
        runner.start()
        dispatcher.start()
    api = create_app(svc, wake_workers=_waker(runner, dispatcher))
    console.print(
        f"[bold]crosspost {__version__}[/] API on {settings.base_url}"
        f" (docs {settings.base_url}/docs), {settings.workers} workers,"
        f" database {svc.db.dialect}" + (f", sandbox fakes on {fakes_url}" if fakes_url else "")
    )
    try:
        # log_config=None: uvicorn's records go to the root handler (and its redaction),
        # not to handlers of its own.
        uvicorn.run(
            api,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
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
    account_ids = provision_sandbox_accounts(svc, tenant_id)
    marker = settings.home / _SANDBOX_MARKER
    marker.write_text(json.dumps({"fakes": url, "accounts": account_ids}))
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


@app.command()
def sandbox(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Run only the platform fakes (for tests, benchmarks and client development)."""
    from crosspost.fakes.app import FAKES, create_sandbox_app  # noqa: PLC0415
    from crosspost.fakes.server import serve_in_thread  # noqa: PLC0415

    settings = _settings(sandbox_host=host, sandbox_port=port)
    server = serve_in_thread(
        create_sandbox_app(_fake_config(settings)),
        host=settings.sandbox_host,
        port=settings.sandbox_port,
    )
    names = ", ".join(p.value for p in FAKES)
    console.print(f"platform fakes on {server.url} ({names}); Ctrl-C stops")
    _wait_for_signal()
    server.stop()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once in this process.")] = 4,
) -> None:
    """Run workers only (scale-out: run several, on any machine sharing the database)."""
    from crosspost.engine.worker import build_runner  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415
    from crosspost.webhooks.dispatcher import WebhookDispatcher  # noqa: PLC0415

    settings = Settings()
    configure_logging(settings)
    svc = _services(settings)
    runner = build_runner(svc, concurrency=concurrency)
    dispatcher = WebhookDispatcher(svc)
    runner.start()
    dispatcher.start()
    console.print(
        f"worker running {concurrency} jobs at once and webhook deliveries on "
        f"{svc.db.dialect}; Ctrl-C stops"
    )
    _wait_for_signal()
    dispatcher.stop(timeout=30)
    runner.stop(timeout=30)
    svc.close()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    mode: Annotated[
        Mode | None,
        typer.Option(help="test or live (default: test after `serve --sandbox`, else live)."),
    ] = None,
    role: Annotated[
        KeyRole | None,
        typer.Option(help="owner, admin, developer or viewer (default: every scope)."),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="An explicit scope instead of a role (repeat).")
    ] = None,
    tier: Annotated[
        str | None, typer.Option(help="Rate-limit tier: free, pro or enterprise.")
    ] = None,
    expires_in_days: Annotated[
        float | None, typer.Option(help="The key stops working after this many days.")
    ] = None,
) -> None:
    """Create an API key and print it once."""
    from crosspost.engine.keys import default_tenant, issue_key  # noqa: PLC0415

    settings = Settings()
    svc = _services(settings)
    if mode is None:
        mode = Mode.TEST if (settings.home / _SANDBOX_MARKER).exists() else Mode.LIVE
    expires = (
        svc.clock.now() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    )
    with _cli_errors():
        key_id, raw = issue_key(
            svc,
            tenant_id=default_tenant(svc),
            name=name,
            mode=mode,
            role=role,
            scopes=tuple(scope) if scope else None,
            tier=tier,
            expires_at=expires,
        )
    svc.close()
    notes.print(
        f"created {mode.value} key {key_id} ({name}); it is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(raw)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once (other API processes notice within seconds)."""
    from crosspost.engine.keys import default_tenant, revoke_key  # noqa: PLC0415

    svc = _services(Settings())
    with _cli_errors():
        revoke_key(svc, tenant_id=default_tenant(svc), key_id=key_id)
    svc.close()
    typer.echo(f"revoked {key_id}")


@keys_app.command("roll")
def keys_roll(
    key_id: str,
    overlap_hours: Annotated[
        float, typer.Option(help="How long the old key keeps working (0 = stop it now).")
    ] = 24.0,
) -> None:
    """Replace a key with a new secret of the same powers and print the new one once."""
    from crosspost.engine.keys import default_tenant, roll_key  # noqa: PLC0415

    svc = _services(Settings())
    tenant = default_tenant(svc)  # before the write below: SQLite has one writer at a time
    with _cli_errors(), svc.db.write() as conn:
        row, raw = roll_key(
            svc,
            conn,
            tenant_id=tenant,
            key_id=key_id,
            overlap=timedelta(hours=overlap_hours),
        )
    svc.close()
    notes.print(
        f"rolled {key_id} to {row['id']}; the old key works for {overlap_hours:g} h more. "
        "The new key is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(raw)


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="A label for the client.")],
    scope: Annotated[list[str], typer.Option(help="A scope the client may ask for (repeat).")],
    tier: Annotated[str | None, typer.Option(help="Rate-limit tier of its tokens.")] = None,
    mode: Annotated[Mode, typer.Option(help="test (sandbox) or live.")] = Mode.LIVE,
) -> None:
    """Create a client; prints its id and secret (the secret only this once)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import create_client  # noqa: PLC0415

    svc = _services(Settings())
    tenant = default_tenant(svc)
    with _cli_errors(), svc.db.write() as conn:
        row, secret = create_client(
            svc, conn, tenant_id=tenant, name=name, mode=mode, scopes=scope, tier=tier
        )
    svc.close()
    notes.print(
        f"created {mode.value} OAuth client {row['id']} ({name}); client_id and the secret, "
        "shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(row["id"])
    typer.echo(secret)


@clients_app.command("list")
def clients_list() -> None:
    """List OAuth clients (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import list_clients  # noqa: PLC0415

    svc = _services(Settings())
    table = Table("client_id", "name", "mode", "scopes", "tier", "created", "revoked")
    for r in list_clients(svc, default_tenant(svc)):
        table.add_row(
            r["id"],
            r["name"],
            r["mode"],
            " ".join(r["scopes"]),
            r["tier"] or "-",
            _ts(r["created_at"]),
            _ts(r["revoked_at"]),
        )
    console.print(table)
    svc.close()


@clients_app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """Revoke a client: its tokens stop working within seconds."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import revoke_client  # noqa: PLC0415

    svc = _services(Settings())
    with _cli_errors():
        revoke_client(svc, tenant_id=default_tenant(svc), client_id=client_id)
    svc.close()
    typer.echo(f"revoked {client_id}")


@keys_app.command("signing-secret")
def keys_signing_secret(key_id: str) -> None:
    """Create (or rotate) a key's HMAC signing secret and print it once; a previous secret
    keeps working for CROSSPOST_SIGNING_GRACE_SECONDS (24 h)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.vault.signing_secrets import issue_secret  # noqa: PLC0415

    svc = _services(Settings())
    with _cli_errors():
        made = issue_secret(
            svc.db,
            svc.keyring,
            tenant_id=default_tenant(svc),
            key_id=key_id,
            now=svc.clock.now(),
            grace=timedelta(seconds=svc.settings.signing_grace_seconds),
        )
    svc.close()
    previous = (
        f"; the previous secret works until {_ts(made.previous_expires_at)}"
        if made.previous_expires_at
        else ""
    )
    notes.print(
        f"signing secret {made.id} for {key_id}{previous}. Send its id as X-Key-Id; the "
        "secret is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(made.secret)


@contextmanager
def _cli_errors() -> Iterator[None]:
    """Turn a refused request into its message and exit status 1, not a traceback."""
    from crosspost.errors import CrosspostError  # noqa: PLC0415

    try:
        yield
    except CrosspostError as err:
        notes.print(f"error: {err.detail} ({err.code})", style="red", highlight=False)
        raise typer.Exit(1) from None


@vault_app.command("rotate")
def vault_rotate() -> None:
    """Re-encrypt every stored secret under the first key of CROSSPOST_MASTER_KEYS (online)."""
    from crosspost.vault.rotation import rotate_secrets  # noqa: PLC0415

    svc = _services(Settings())
    report = rotate_secrets(svc.db, svc.keyring)
    svc.close()
    typer.echo(
        f"re-encrypted {report.rotated} secret(s) under key {svc.keyring.current_kid}; "
        f"{report.current} already current"
        + (
            f"; {report.changed_meanwhile} changed meanwhile: run again to finish"
            if report.changed_meanwhile
            else ""
        )
    )


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.store import tenants  # noqa: PLC0415

    svc = _services(Settings())
    with svc.db.read() as conn:
        rows = tenants.list_api_keys(conn, default_tenant(svc))
    table = Table("id", "name", "mode", "prefix", "role", "tier", "created", "last used", "ends")
    for r in rows:
        ends = r["revoked_at"] or r["expires_at"]
        table.add_row(
            r["id"],
            r["name"],
            r["mode"],
            r["display_prefix"] + "…",
            r["role"] or ",".join(r["scopes"]),
            r["tier"] or "-",
            _ts(r["created_at"]),
            _ts(r["last_used_at"]),
            ("revoked " if r["revoked_at"] else "") + _ts(ends),
        )
    console.print(table)
    svc.close()


def _ts(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else value.isoformat(timespec="seconds")


@contextmanager
def _api(api_url: str | None, key: str | None) -> Iterator[Any]:
    """An SDK client; API and connection errors become one clear line and exit status 1."""
    import httpx  # noqa: PLC0415

    from crosspost.sdk import ApiError, Client  # noqa: PLC0415

    key = key or os.environ.get("CROSSPOST_API_KEY")
    if not key:
        notes.print(
            "[red]no API key: pass --key or set CROSSPOST_API_KEY "
            "(create one with `crosspost keys create --name me`)[/]"
        )
        raise typer.Exit(2)
    url = api_url or os.environ.get("CROSSPOST_API_URL") or Settings().base_url
    # A tenant may require signed requests: the CLI then signs with this secret.
    client = Client(url, key, signing_secret=os.environ.get("CROSSPOST_SIGNING_SECRET"))
    try:
        yield client
    except ApiError as err:
        notes.print(f"[red]{err}[/]")
        raise typer.Exit(1) from None
    except httpx.TransportError as err:
        notes.print(f"[red]cannot reach the API at {url}: {err}; is `crosspost serve` running?[/]")
        raise typer.Exit(1) from None
    finally:
        client.close()


ApiUrl = Annotated[str | None, typer.Option(help="API base URL (env CROSSPOST_API_URL).")]
ApiKey = Annotated[str | None, typer.Option(help="API key (env CROSSPOST_API_KEY).")]


@app.command()
def publish(
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="Media file.")
    ] = None,
    caption: Annotated[str, typer.Option(help="Caption / title / description.")] = "",
    to: Annotated[list[str] | None, typer.Option(help="Platform or account id; repeat.")] = None,
    at: Annotated[str | None, typer.Option(help="Publish time, e.g. 2026-12-01T18:00.")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone for --at.")] = None,
    fold: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1,
            help="For an --at the clocks pass twice (going back): 0 the first, 1 the second.",
        ),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Wait for the final status.")] = True,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file, create a post, and follow it to the end."""
    if not to:
        console.print("[red]name at least one destination with --to youtube (repeatable)[/]")
        raise typer.Exit(2)
    with _api(api_url, key) as client:
        body: dict[str, Any] = {"text": caption, "targets": to}
        if file is not None:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
                media = client.upload_media(file, progress=lambda n: bar.advance(task, n))
            body["media_id"] = media["id"]
        if at:
            body["publish_at"] = at
            body["timezone"] = tz
        if fold is not None:
            body["fold"] = fold
        post = client.create_post(body)
        console.print(f"post {post['id']}: {post['status']}")
        if follow and post["status"] != "scheduled":
            post = client.follow(post["id"])
        _print_post(post)


def _print_post(post: dict[str, Any]) -> None:
    table = Table(
        "target", "platform", "status", "url / error", title=f"post {post['id']}: {post['status']}"
    )
    for t in post["targets"]:
        err = t.get("last_error") or {}
        detail = t.get("external_url") or (
            f"{err.get('kind')}: {err.get('message')}" if err else ""
        )
        if t.get("next_attempt_at") and not t.get("external_url"):
            detail += f" (next attempt {t['next_attempt_at']})"
        table.add_row(t["id"], t["platform"], t["status"], detail)
    console.print(table)


@accounts_app.command("connect")
def accounts_connect(
    platform: Annotated[str, typer.Argument(help="youtube, tiktok, x, linkedin or soundcloud.")],
    browser: Annotated[bool, typer.Option(help="Open the consent page in a browser.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the consent.")] = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Connect an account by OAuth: open the platform's consent page, wait for the answer.

    The platform returns the user to crosspost, which stores the account and sends the
    browser on to a one-shot listener on this machine's loopback, so this command can say
    which account it was.
    """
    import webbrowser  # noqa: PLC0415

    from crosspost.cli_loopback import LoopbackCatcher  # noqa: PLC0415

    with _api(api_url, key) as client, LoopbackCatcher() as catcher:
        link = client.connect_account(platform, return_to=catcher.url)
        notes.print(f"open this page to connect your {platform} account:", highlight=False)
        typer.echo(link["authorize_url"])
        if browser:
            webbrowser.open(link["authorize_url"])
        answer = catcher.wait(timeout)
    if answer is None:
        notes.print(f"[red]no answer within {timeout:.0f} s; run the command again[/]")
        raise typer.Exit(1)
    console.print(
        f"{answer.get('status', 'connected')} {platform} account {answer.get('account_id')} "
        f"({answer.get('handle')})",
        highlight=False,
    )


@app.command()
def status(post_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show a post and its targets."""
    with _api(api_url, key) as client:
        _print_post(client.get_post(post_id))


@app.command()
def ledger(post_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show every event of a post's publishing."""
    with _api(api_url, key) as client:
        table = Table("time (UTC)", "event", "platform", "details", title=f"ledger of {post_id}")
        for e in client.ledger(post_id):
            data = dict(e["data"])
            platform = str(data.pop("platform", ""))
            details = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
            table.add_row(e["created_at"][11:23], e["event_type"], platform, details)
        console.print(table)


@app.command()
def usage(
    period: Annotated[
        str | None, typer.Option(help="Calendar month in UTC, YYYY-MM; default: this month.")
    ] = None,
) -> None:
    """Show the default tenant's metered usage and quotas for a month."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.errors import CrosspostError  # noqa: PLC0415
    from crosspost.usage import metering  # noqa: PLC0415

    svc = _services(Settings())
    try:
        month = metering.parse_period(period) if period else metering.period_of(svc.clock.now())
    except CrosspostError as err:
        notes.print(f"[red]{err.detail}[/]")
        svc.close()
        raise typer.Exit(2) from None
    with svc.db.read() as conn:
        report = metering.usage_report(conn, default_tenant(svc), month)
    svc.close()
    keys = [k["key_id"] for k in report["keys"]]
    table = Table("metric", "tenant", *keys, title=f"usage in {month} (UTC)")
    for metric in metering.METRICS:
        table.add_row(
            metric,
            str(report["tenant"][metric]),
            *(str(k["metrics"][metric]) for k in report["keys"]),
        )
    console.print(table)
    if report["quotas"]:
        quotas = Table("quota", "used", "soft limit", "hard limit", title="monthly quotas")
        for q in report["quotas"]:
            limits = ("-" if q[k] is None else str(q[k]) for k in ("soft_limit", "hard_limit"))
            quotas.add_row(q["metric"], str(q["used"]), *limits)
        console.print(quotas)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Where to save the file.", dir_okay=False)],
    kind: Annotated[str, typer.Option(help="posts (with their targets) or ledger.")] = "posts",
    format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    since: Annotated[
        str | None, typer.Option(help="Only rows created at or after (ISO 8601 with offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only rows created before (ISO 8601 with offset).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the file.")] = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Export posts or the ledger to a file: start the export, wait for it, download it."""
    with _api(api_url, key) as client:
        made = client.create_export(kind=kind, format=format, since=since, until=until)
        done = client.follow_export(made["id"], timeout=timeout)
        if done["status"] != "ready":
            reason = done.get("error") or f"still {done['status']} after {timeout:g} s"
            notes.print(f"export {made['id']} is not ready: {reason}", highlight=False)
            raise typer.Exit(1)
        size = client.download_export(done, out)
    notes.print(
        f"saved export {made['id']} ({kind}: {done['progress']['done']} rows, {size} bytes) "
        f"to {out}",
        style="dim",
        highlight=False,
    )
    typer.echo(made["id"])


@webhooks_app.command("add")
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
    with _api(api_url, key) as client:
        made = client.create_webhook(body)
    notes.print(
        f"added {made['id']} for {made['url']}; verify deliveries with this secret, shown only "
        "once:",
        style="dim",
        highlight=False,
    )
    typer.echo(made["id"])
    typer.echo(made["secret"])


@webhooks_app.command("list")
def webhooks_list(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """List endpoints with their filters and health."""
    with _api(api_url, key) as client:
        rows = client.list_webhooks()
    table = Table("id", "url", "events", "active", "failing since", "disabled because")
    for r in rows:
        table.add_row(
            r["id"],
            r["url"],
            ",".join(r["event_types"]) or "*",
            "yes" if r["active"] else "no",
            _ts(r.get("failing_since")),
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
    with _api(api_url, key) as client:
        return client.webhook_action(endpoint_id, action)


@webhooks_app.command("test")
def webhooks_test(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Send a webhook.test event to one endpoint (see its deliveries for the outcome)."""
    answer = _webhook_action(endpoint_id, "test", api_url, key)
    typer.echo(f"queued test event {answer['event_id']} for {endpoint_id}")


@webhooks_app.command("rotate")
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


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Stop deliveries to an endpoint (they wait until it is enabled)."""
    _webhook_action(endpoint_id, "disable", api_url, key)
    typer.echo(f"disabled {endpoint_id}")


@webhooks_app.command("enable")
def webhooks_enable(endpoint_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Resume deliveries to an endpoint and forget its failure streak."""
    _webhook_action(endpoint_id, "enable", api_url, key)
    typer.echo(f"enabled {endpoint_id}")


def main() -> None:
    """Entry point of the `crosspost` script."""
    app()
