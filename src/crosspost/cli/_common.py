"""What every command group shares: the app class (every command gets --json and -q),
output, settings and local services, the API client, exit codes."""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import IO, Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Column, Table
from typer.core import TyperCommand, TyperGroup

from crosspost.cli._credentials import Credentials, resolve
from crosspost.cli._home import read_record, running_server
from crosspost.cli.profiles import ProfileError
from crosspost.config import Settings, home_origin
from crosspost.domain.enums import Mode


class ExitCode(IntEnum):
    """What `crosspost` exits with (documented in the README and `publish --help`)."""

    OK = 0  # done; for `publish` and `status --watch`: every target published
    ERROR = 1  # refused by the API or the local state: the message says why
    USAGE = 2  # a wrong flag or argument
    UNAVAILABLE = 3  # the API could not be reached, or answered 5xx or 429: try again later
    AUTH = 4  # no usable API key: missing, mistyped, unknown, revoked, or lacking the scope
    FAILED = 10  # the post failed (or was cancelled): no target published
    PARTIAL = 11  # partially_published: some targets published, the others failed
    ATTENTION = 12  # a target waits for you: needs_reauth, a quota day, unconfirmed
    TIMEOUT = 13  # still publishing when --timeout ran out
    CRASH = 70  # a bug: an unexpected exception (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


# --- output -----------------------------------------------------------------------------

OutputMode = Literal["human", "json", "quiet"]
# Piped output without COLUMNS is read by scripts: wide, so that nothing needs wrapping.
_PIPED_WIDTH = 240


def plain_output(stream: IO[str]) -> bool:
    """No colours or other escape codes: not a terminal, or NO_COLOR set (no-color.org)."""
    return not stream.isatty() or bool(os.environ.get("NO_COLOR"))


def make_console(stream: IO[str]) -> Console:
    """A rich console on `stream` that writes plain text when `plain_output` says so."""
    plain = plain_output(stream)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else (_PIPED_WIDTH if plain else None)
    return Console(
        file=stream,
        width=width,
        color_system=None if plain else "auto",
        force_terminal=False if plain else None,
        highlight=False,
        emoji=False,
    )


@dataclass(frozen=True)
class Col:
    """A table column; `keep` ones (ids, URLs) are never cut or wrapped."""

    name: str
    keep: bool = False


class Output:
    """How this invocation prints: a human table, JSON, or only ids (-q)."""

    def __init__(self, mode: OutputMode = "human") -> None:
        self.mode = mode
        self.out = make_console(sys.stdout)
        self.err = make_console(sys.stderr)

    @property
    def human(self) -> bool:
        """Whether people read stdout (neither --json nor -q)."""
        return self.mode == "human"

    def note(self, text: str) -> None:
        """One line of context on stderr; silent under --json and -q."""
        if self.human:
            self.err.print(text, style="dim", soft_wrap=True, markup=False)

    def warn(self, text: str) -> None:
        """A warning on stderr, whatever the output mode."""
        self.err.print(f"warning: {text}", style="yellow", soft_wrap=True, markup=False)

    def error(self, text: str) -> None:
        """An error on stderr, whatever the output mode."""
        self.err.print(text, style="red", soft_wrap=True, markup=False)

    def line(self, text: str) -> None:
        """One plain line on stdout for people (nothing under --json and -q)."""
        if self.human:
            typer.echo(text)

    def result(
        self,
        data: Any,
        *,
        ids: Iterable[str] = (),
        human: Callable[[], None] | None = None,
    ) -> None:
        """The command's result: `data` as JSON, `ids` one a line (-q), or `human()`."""
        if self.mode == "json":
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        elif self.mode == "quiet":
            for value in ids:
                typer.echo(value)
        elif human is not None:
            human()

    def table(self, cols: Sequence[Col], rows: Sequence[Sequence[str]], title: str = "") -> None:
        """A table that fits the width without cutting a `keep` column; when even that
        cannot fit, one `name: value` block per row."""
        if title:
            self.out.print(title, soft_wrap=True, markup=False)
        widths = fit_widths(cols, rows, self.out.width)
        if widths is None:
            for n, row in enumerate(rows):
                if n:
                    self.out.print()
                for col, cell in zip(cols, row, strict=True):
                    # A kept value stays on one line however long; the others wrap.
                    self.out.print(f"{col.name}: {cell}", soft_wrap=col.keep, markup=False)
            return
        table = Table(
            *(
                Column(c.name, width=w, no_wrap=c.keep, overflow="fold")
                for c, w in zip(cols, widths, strict=True)
            ),
            box=None,
            padding=(0, 1),
            pad_edge=False,
            header_style="bold",
        )
        for row in rows:
            table.add_row(*row)
        self.out.print(table)


# Each column takes its padding: one space each side, none at the table's edges.
_GAP = 2
_MIN_WRAPPED = 8


def fit_widths(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """Column widths within `width`: `keep` columns at their full width, the others
    wrapped to share what is left; None when the kept ones alone leave too little."""
    natural = [
        max([cell_len(c.name), *(max(map(cell_len, str(r[i]).splitlines() or [""])) for r in rows)])
        for i, c in enumerate(cols)
    ]
    room = width - _GAP * (len(cols) - 1)
    if sum(natural) <= room:
        return natural
    flexible = [i for i, c in enumerate(cols) if not c.keep]
    fixed = sum(w for i, w in enumerate(natural) if i not in flexible)
    floors = {i: min(natural[i], max(_MIN_WRAPPED, cell_len(cols[i].name))) for i in flexible}
    spare = room - fixed - sum(floors.values())
    if spare < 0:
        return None
    widths = list(natural)
    wants = {i: natural[i] - floors[i] for i in flexible}
    total_want = sum(wants.values()) or 1
    for i in flexible:
        widths[i] = floors[i] + wants[i] * spare // total_want
    return widths


_OUTPUT: ContextVar[Output | None] = ContextVar("crosspost_output", default=None)


def out() -> Output:
    """The output of the command running now."""
    return _OUTPUT.get() or Output()


def with_output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as a command that also takes --json and -q/--quiet (see `Output`)."""
    signature = inspect.signature(func, eval_str=True)
    extra = [
        inspect.Parameter(
            "json_output",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[
                bool, typer.Option("--json", help="Print the result as JSON.", metavar="")
            ],
        ),
        inspect.Parameter(
            "quiet",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[
                bool,
                typer.Option(
                    "--quiet",
                    "-q",
                    help="Print only the id(s), one a line (and a secret shown only once).",
                    metavar="",
                ),
            ],
        ),
    ]

    @functools.wraps(func)
    def command(*args: Any, json_output: bool, quiet: bool, **kwargs: Any) -> Any:
        if json_output and quiet:
            make_console(sys.stderr).print("--json and --quiet exclude each other")
            raise typer.Exit(ExitCode.USAGE)
        token = _OUTPUT.set(Output("json" if json_output else "quiet" if quiet else "human"))
        try:
            return func(*args, **kwargs)
        finally:
            _OUTPUT.reset(token)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return command


def _plain_metavars(params: list[Any], ctx: Any) -> list[Any]:
    """Help that names values, not Python types: a flag shows no `<bool>`, a choice shows
    `test|live`, an argument its metavar (typer would print `<str>`, `<list[str]>`)."""
    for param in params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            # The usage line names it already (FILE, POST_ID); its help says what it takes.
            param.display_type_rich = lambda ctx=None: None
        elif param.metavar is None:
            param.metavar = param.display_type(ctx).strip("<>")
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx), ctx)


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx), ctx)


class App(typer.Typer):
    """A command group whose every command takes --json and -q (one way to print) and
    whose help names values, not Python types."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", _Group)
        kwargs.setdefault("no_args_is_help", True)
        # A crash reaches main(), which tells it redacted; never rich's traceback, whose
        # frames show locals (keys, tokens, settings).
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("pretty_exceptions_show_locals", False)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """Register a command, adding --json and -q to it."""
        kwargs.setdefault("cls", _Command)
        register = super().command(*args, **kwargs)
        return lambda func: register(with_output_options(func))


# --- settings, local state, the API -------------------------------------------------------

ApiUrl = Annotated[
    str | None,
    typer.Option(
        help="API base URL (else env CROSSPOST_API_URL, the profile's, the server running on "
        "the home; `crosspost auth status` says which).",
        metavar="URL",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        help="API key (else env CROSSPOST_API_KEY, the profile's: `crosspost login`).",
        metavar="KEY",
    ),
]


TenantOpt = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="The tenant (`crosspost tenants list`); default: the server's default tenant.",
        metavar="TENANT_ID",
    ),
]


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
        out().note(f"home: {describe_home(config)}")
    if expect_server and home_matters(config) and running_server(config.home) is None:
        out().warn(
            f"no `crosspost serve` is running on {config.home}; a server started elsewhere "
            "uses another home (set CROSSPOST_HOME to the server's home)"
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


def credentials(url: str | None, key: str | None) -> Credentials:
    """The API URL and key to use and why (order: `_credentials`); an unusable profile is
    one line and exit status 1."""
    try:
        return resolve(url, key)
    except ProfileError as err:
        out().error(f"error: {err}")
        raise typer.Exit(ExitCode.ERROR) from None


def api_url(given: str | None) -> str:
    """--api-url, else CROSSPOST_API_URL, else the profile's, else the server running on
    the home, else the address `serve` listens on by default."""
    return credentials(given, None).url


def api_key(given: str | None) -> str | None:
    """--key, else CROSSPOST_API_KEY, else the profile's."""
    return credentials(None, given).key


def signing_secret(key: str) -> str | None:
    """The signing secret for requests made with `key` (a tenant may require signed
    requests): CROSSPOST_SIGNING_SECRET, unless it is CROSSPOST_API_KEY's and `key` is
    another (a profile's, --key, a key being logged in with), which it cannot sign for."""
    secret = os.environ.get("CROSSPOST_SIGNING_SECRET") or None
    env_key = os.environ.get("CROSSPOST_API_KEY")
    return secret if not env_key or env_key == key else None


def is_test_key(key: str | None) -> bool:
    """Whether a key reaches the sandbox (test keys only ever reach the fakes)."""
    return bool(key and key.startswith("cp_test_"))


def sandboxed(url: str | None, sandbox: bool) -> str:
    """A URL as shown to people: marked when it is the sandbox's, not a real platform's."""
    return f"{url} (sandbox)" if url and sandbox else url or ""


def ts(value: datetime | str | None) -> str:
    """A timestamp as ISO 8601 to the second, or "-"."""
    if value is None:
        return "-"
    if isinstance(value, str):  # as the API sends it
        try:
            return datetime.fromisoformat(value).isoformat(timespec="seconds")
        except ValueError:
            return value
    return value.isoformat(timespec="seconds")


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a refused request into its message and exit status 1, not a traceback."""
    from crosspost.errors import CrosspostError  # noqa: PLC0415

    try:
        yield
    except CrosspostError as err:
        out().error(f"error: {err.detail} ({err.code})")
        raise typer.Exit(ExitCode.ERROR) from None


@contextmanager
def api(url: str | None, key: str | None) -> Iterator[Any]:
    """A client of the SDK (crosspost_sdk); API and connection errors become one clear line
    and an exit status."""
    import httpx  # noqa: PLC0415

    from crosspost_sdk import APIConnectionError, APIError, Client, Retries  # noqa: PLC0415

    key = api_key(key)
    if not key:
        out().error(
            "no API key: run `crosspost login`, pass --key or set CROSSPOST_API_KEY "
            "(create one with `crosspost keys create --name me`)"
        )
        raise typer.Exit(ExitCode.USAGE)
    url = api_url(url)
    # Two quick retries (a restarting server, a dropped connection); an API that asks for a
    # longer wait is answered at once with its reason, as a person at a terminal wants.
    retries = Retries(max_retries=2, initial_delay=0.25, max_delay=1.0, max_retry_after=2.0)
    # Raw: the commands show the JSON as sent, so the models are never built (half a second
    # of every command's start).
    client = Client(
        key, base_url=url, signing_secret=signing_secret(key), retries=retries, raw=True
    )
    try:
        yield client
    except APIError as err:
        out().error(str(err))
        raise typer.Exit(exit_code_for(err)) from None
    except (APIConnectionError, httpx.TransportError) as err:
        # The SDK's, or one a command raises itself (a stream it gives up on).
        out().error(f"cannot reach the API at {url}: {err}; is `crosspost serve` running?")
        raise typer.Exit(ExitCode.UNAVAILABLE) from None
    finally:
        client.close()


def plain(answer: Any) -> Any:
    """An SDK answer as the plain JSON the API sent (the CLI shows and reads dicts): a raw
    client's already is; a model is dumped."""
    if isinstance(answer, list):
        return [plain(item) for item in answer]
    if hasattr(answer, "model_dump"):
        return answer.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return answer


def waited(
    wait: Callable[..., Any],
    object_id: str,
    *,
    timeout: float,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """An SDK `wait` (posts, jobs, exports) as a dict: how the object ended, or how it stood
    when `timeout` ran out."""
    from crosspost_sdk import WaitTimeout  # noqa: PLC0415

    shown = (lambda model: on_update(plain(model))) if on_update is not None else None
    try:
        ended = wait(object_id, timeout=timeout, on_update=shown)
    except WaitTimeout as late:
        ended = late.last
    found: dict[str, Any] = plain(ended)
    return found


def exit_code_for(err: Any) -> ExitCode:
    """The exit code of a refused request (an SDK ApiError): the key (401, 403), the API's
    state (429, 5xx: try later), or the request itself."""
    if err.status in (401, 403):
        return ExitCode.AUTH
    if err.status == 429 or err.status >= 500:
        return ExitCode.UNAVAILABLE
    return ExitCode.ERROR


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """`; did you mean youtube?` when a choice is close to `name`, else the choices."""
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else f"; use one of: {', '.join(choices)}"


def examples(*lines: str) -> str:
    """A command's epilog: examples to copy, one a line (no square brackets: rich markup)."""
    return "Examples:\n\n" + "\n".join(f"  {line}" for line in lines)
