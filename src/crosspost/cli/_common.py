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

from crosspost.cli._home import read_record, running_server
from crosspost.config import Settings, home_origin
from crosspost.domain.enums import Mode

# Piped output is read by scripts: wide enough that ids are never cut to fit 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=240)
# Chatter that must not pollute captured output; never wrapped, so paths stay whole.
notes = Console(stderr=True, soft_wrap=True)

ApiUrl = Annotated[str | None, typer.Option(help="API base URL (env CROSSPOST_API_URL).")]
ApiKey = Annotated[str | None, typer.Option(help="API key (env CROSSPOST_API_KEY).")]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the given non-None command-line overrides."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def services(config: Settings, *, expect_server: bool = True, announce: bool = True) -> Any:
    """The engine's services on the local state (database migrated to the head), after one
    line on stderr saying which home that is (unless the command says it itself) and, when
    `expect_server`, a warning if no server runs on it (what is made here would not reach a
    server on another home)."""
    from crosspost.engine.services import Services  # noqa: PLC0415 - keep `--help` fast

    if announce:
        notes.print(f"home: {describe_home(config)}", style="dim", highlight=False)
    if expect_server and home_matters(config) and running_server(config.home) is None:
        notes.print(
            f"warning: no `crosspost serve` is running on {config.home}; a server started "
            "elsewhere uses another home (set CROSSPOST_HOME to the server's home)",
            style="yellow",
            highlight=False,
        )
    svc = Services.build(config)
    svc.upgrade_database()
    return svc


def describe_home(config: Settings) -> str:
    """The home and why it is the one, e.g. `/root/.local/share/crosspost (per-user default)`."""
    return f"{config.home} ({home_origin(config.home)})"


def home_matters(config: Settings) -> bool:
    """Whether the state lives in the home: the SQLite database or the key of API key
    hashes (a shared database with keys from the environment needs no particular home)."""
    return config.database_url is None or config.hash_key is None


def default_mode(config: Settings) -> Mode:
    """The mode of the last server started on the home: test after `serve --sandbox`."""
    record = read_record(config.home)
    return Mode.TEST if record is not None and record.sandbox else Mode.LIVE


def api_url(given: str | None) -> str:
    """--api-url, else CROSSPOST_API_URL, else the server running on the home, else the
    address `serve` listens on by default."""
    if given or os.environ.get("CROSSPOST_API_URL"):
        return given or os.environ["CROSSPOST_API_URL"]
    config = Settings()
    record = running_server(config.home)
    return record.api_url if record is not None else config.base_url


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
def api(url: str | None, key: str | None) -> Iterator[Any]:
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
    url = api_url(url)
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
