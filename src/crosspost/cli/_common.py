"""What every command group shares: settings, local services, the API client, output."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from crosspost.config import Settings

# Piped output is read by scripts: wide enough that ids are never cut to fit 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=240)
notes = Console(stderr=True)  # chatter that must not pollute captured output
SANDBOX_MARKER = "sandbox.json"

ApiUrl = Annotated[str | None, typer.Option(help="API base URL (env CROSSPOST_API_URL).")]
ApiKey = Annotated[str | None, typer.Option(help="API key (env CROSSPOST_API_KEY).")]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the given non-None command-line overrides."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def services(config: Settings) -> Any:
    """The engine's services on the local state (database migrated to the head)."""
    from crosspost.engine.services import Services  # noqa: PLC0415 - keep `--help` fast

    svc = Services.build(config)
    svc.upgrade_database()
    return svc


def ts(value: datetime | str | None) -> str:
    """A timestamp as ISO 8601 to the second, or "-"."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else value.isoformat(timespec="seconds")


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a refused request into its message and exit status 1, not a traceback."""
    from crosspost.errors import CrosspostError  # noqa: PLC0415

    try:
        yield
    except CrosspostError as err:
        notes.print(f"error: {err.detail} ({err.code})", style="red", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def api(api_url: str | None, key: str | None) -> Iterator[Any]:
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


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
