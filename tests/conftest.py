"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import io
import logging
import os
import queue
import secrets
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from sqlalchemy.engine.url import make_url

from crosspost.config import Settings
from crosspost.logs import configure_logging
from crosspost.store import migrate
from crosspost.store.db import Database
from crosspost.store.tables import metadata
from tests.served import Servers, servers

PG_ENV = "CROSSPOST_TEST_DATABASE_URL"
REDIS_ENV = "CROSSPOST_TEST_REDIS_URL"
REQUIRE_ENV = "CROSSPOST_TEST_REQUIRE_SERVICES"
_SERVICES = {PG_ENV: "PostgreSQL", REDIS_ENV: "Redis"}


def service_url(env: str) -> str:
    """The test server URL in `env` (PG_ENV or REDIS_ENV); without it the test is skipped,
    or fails where CROSSPOST_TEST_REQUIRE_SERVICES is set (CI)."""
    url = os.environ.get(env)
    if url:
        return url
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{env} is required when {REQUIRE_ENV} is set (CI)")
    # One reason per service, so the run's closing summary counts them together.
    pytest.skip(f"{_SERVICES[env]} tests need {env}")


def browser_path() -> str:
    """Chromium for the browser tests: CROSSPOST_TEST_BROWSER, else `chromium` on PATH;
    without one the test is skipped, or fails where CROSSPOST_TEST_REQUIRE_SERVICES is set."""
    path = os.environ.get("CROSSPOST_TEST_BROWSER") or shutil.which("chromium")
    if path:
        return path
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"no chromium on PATH, which {REQUIRE_ENV} requires (CI installs it)")
    pytest.skip("browser tests need chromium (apt-get install chromium)")


# What one xdist worker can hold at its peak (servers, fakes, chromium, PyAV); `-n auto`
# starts no more workers than the machine's memory holds at that.
_WORKER_PEAK_BYTES = 3 * 1024**3


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one and a half workers per core (CROSSPOST_TEST_WORKERS overrides). A
    test spends part of its time waiting on a server, a worker process or a browser, which
    one worker per core leaves idle; two per core slow the busy tests more than they gain."""
    wanted = os.environ.get("CROSSPOST_TEST_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cores = os.cpu_count() or 1
    return max(1, min(cores + cores // 2, memory // _WORKER_PEAK_BYTES))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """After pytest's own summary: one line saying how many tests were skipped and why."""
    yield
    line = skip_summary(terminalreporter.stats.get("skipped", []))
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)


def skip_summary(reports: Sequence[pytest.TestReport | pytest.CollectReport]) -> str | None:
    """`N skipped: reason (count); …`, the most frequent reason first (then by name); None
    if none."""
    reasons: Counter[str] = Counter()
    for report in reports:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if not reasons:
        return None
    # Ties by reason: reports reach the summary in no fixed order under pytest-xdist.
    ordered = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    groups = "; ".join(f"{reason} ({count})" for reason, count in ordered)
    return f"{reasons.total()} skipped: {groups} (-rs lists each test)"


@pytest.fixture(autouse=True)
def _own_cli_profiles(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's own CLI profiles (~/.config/crosspost/profiles.toml):
    each test, and each `crosspost` process it starts, has an empty config folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


class _Dropper:
    """Drops finished tests' databases on a thread of its own: a DROP DATABASE waits for a
    checkpoint, which the next test need not wait for. `close` drops what is left."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[sa.Engine, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pg-dropper", daemon=True)
        self._thread.start()

    def drop(self, admin: sa.Engine, name: str) -> None:
        self._queue.put((admin, name))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            admin, name = item
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


_DROPPER = _Dropper()


@pytest.hookimpl(trylast=True)  # after the session's fixtures have queued their databases
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the databases still queued before the process ends."""
    _DROPPER.close()


@contextmanager
def _pg_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template` when given), dropped afterwards."""
    server = service_url(PG_ENV)
    base = make_url(server).set(drivername="postgresql+psycopg")
    name = f"crosspost_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _DROPPER.drop(admin, name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated to the head once per test process: each test's database is a
    copy of it, which costs a fraction of running every migration again."""
    with _pg_database() as url:
        database = Database(url)
        migrate.upgrade(database)
        database.dispose()  # a template must have no connection when it is copied
        yield str(make_url(url).database)


@pytest.fixture
def pg_database_url(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, migrated to the head, dropped afterwards."""
    with _pg_database(pg_template) as url:
        yield url


@pytest.fixture
def pg_empty_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (no migration run), for tests of migrations."""
    with _pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL with nothing in it, once per backend (tests of migrations)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crosspost.db'}"
    url: str = request.getfixturevalue("pg_empty_database_url")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the head once per test process, copied for each test
    as PostgreSQL's template is."""
    path = tmp_path_factory.mktemp("template") / "crosspost.db"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database)
    database.dispose()  # its WAL checkpointed into the file: the file is the whole database
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once per backend, already migrated to the head (a copy of the
    template; migrating it again is a no-op)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "crosspost.db")
        return f"sqlite:///{tmp_path / 'crosspost.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL (for tests that do not depend on the backend)."""
    return f"sqlite:///{tmp_path / 'crosspost.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A `Database` on a fresh database (SQLite or PostgreSQL) with every table created."""
    database = Database(database_url)
    metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def process_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], io.StringIO]]:
    """`configure_logging(settings)` as a crosspost process runs it, its stderr a buffer
    (returned); the logging set-up of the test session is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    hooks = sys.excepthook, threading.excepthook

    def configure(settings: Settings) -> io.StringIO:
        buffer = io.StringIO()
        with monkeypatch.context() as patched:
            patched.setattr(sys, "stderr", buffer)  # the handler binds the stream it finds
            configure_logging(settings)
        return buffer

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
    sys.excepthook, threading.excepthook = hooks
    structlog.reset_defaults()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Servers]:
    """Start `crosspost serve --sandbox` processes (`serve(env, cwd, *args)` → `Served`),
    each on its own free ports; all are stopped after the test."""
    with servers(tmp_path) as started:
        yield started


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server over HTTP (moto's), one per test process, started only
    when a test asks for the S3 store; boto3 in this process and in the workers it spawns
    finds it through the usual AWS variables."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in _AWS_ENV}
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@pytest.fixture
def s3_store_url(s3_server: str) -> str:
    """`s3://bucket/prefix` of a new, empty bucket on the test S3 server."""
    import boto3

    bucket = f"crosspost-{secrets.token_hex(6)}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/media"


@pytest.fixture(params=["local", "s3"])
def media_store_url(request: pytest.FixtureRequest) -> str | None:
    """None (media on local disk) and an S3 store URL: the media suites run on both."""
    if request.param == "local":
        return None
    url: str = request.getfixturevalue("s3_store_url")
    return url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run on SQLite only the S3 store's variants (the store does not depend on the
    database, and the product of both would double the media suites again) and the tests
    marked `one_database` (what a browser or a client library does, on top of any storage)."""
    dropped = []
    for item in list(items):
        spec = getattr(item, "callspec", None)
        params = spec.params if spec is not None else {}
        on_postgres = "postgres" in (params.get("database_url"), params.get("empty_database_url"))
        if on_postgres and (
            params.get("media_store_url") == "s3" or item.get_closest_marker("one_database")
        ):
            dropped.append(item)
            items.remove(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
