""".ci/services, which CI sources before the tests: it starts the PostgreSQL cluster on
5432 whatever its version, and stops at once, naming what is missing, when a service does
not answer. PostgreSQL's and Redis's tools are stand-ins here, so nothing real is touched."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each stand-in answers from files in $STATE, and logs how it was called to $STATE/calls.
STUBS = {
    "pg_lsclusters": 'cat "$STATE/clusters"',
    "pg_isready": '[ -e "$STATE/pg_up" ]',
    "pg_ctlcluster": 'echo "pg_ctlcluster $*" >> "$STATE/calls"; touch "$STATE/pg_up"',
    "psql": (
        'if [ -e "$STATE/psql_refuses" ]; then '
        "echo 'psql: error: FATAL:  password authentication failed for user \"postgres\"' >&2; "
        'exit 2; fi; case "$*" in '
        '*"show max_connections"*) cat "$STATE/max_connections" 2>/dev/null || echo 400 ;; '
        '*"alter system set max_connections"*) '
        'echo "psql alter max_connections" >> "$STATE/calls"; '
        'echo 400 > "$STATE/max_connections" ;; '
        "*) echo 1 ;; esac"
    ),
    "redis-cli": '[ -e "$STATE/redis_up" ] && echo PONG || { echo refused >&2; exit 1; }',
    "redis-server": (
        'echo "redis-server $*" >> "$STATE/calls"; '
        '[ -e "$STATE/redis_stays_down" ] || touch "$STATE/redis_up"'
    ),
}
TWO_VERSIONS = (
    "13  main 5433 online postgres /var/lib/postgresql/13/main /var/log/postgresql/13.log\n"
    "16  main 5432 down   postgres /var/lib/postgresql/16/main /var/log/postgresql/16.log\n"
)


@dataclass
class Run:
    """What one run of .ci/services did."""

    code: int
    out: str
    err: str
    calls: list[str]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A directory of stand-in tools and the state they answer from."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    (tmp_path / "clusters").write_text(TWO_VERSIONS)
    return tmp_path


def _run(state: Path, **env: str) -> Run:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSPOST_TEST_", "PG"))}
    base.update(
        PATH=f"{state / 'bin'}:{os.environ['PATH']}",
        STATE=str(state),
        CROSSPOST_CI_SERVICE_WAIT="2",
        **env,
    )
    script = '. .ci/services && echo "$CROSSPOST_TEST_DATABASE_URL $CROSSPOST_TEST_REDIS_URL"'
    done = subprocess.run(
        ["bash", "-c", script + ' "$CROSSPOST_TEST_REQUIRE_SERVICES"'],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = state / "calls"
    logged = calls.read_text().splitlines() if calls.exists() else []
    return Run(done.returncode, done.stdout, done.stderr, logged)


def test_the_cluster_on_5432_is_started_whatever_its_version(state: Path) -> None:
    """Two versions installed, 16 on 5432 and down: 16/main is started, Redis too, and the
    tests are told where both are and that they are required."""
    run = _run(state)
    assert run.code == 0, run.err
    assert run.calls[0] == "pg_ctlcluster --skip-systemctl-redirect 16 main start"
    assert run.calls[1].startswith("redis-server --daemonize yes")
    assert run.out.splitlines()[-1] == (
        "postgresql://postgres@127.0.0.1:5432/postgres redis://127.0.0.1:6379/0 1"
    )


def test_services_that_answer_are_left_alone(state: Path) -> None:
    """Both up: nothing is started."""
    (state / "pg_up").touch()
    (state / "redis_up").touch()
    run = _run(state)
    assert (run.code, run.calls) == (0, []), run.err


def test_a_server_with_room_for_too_few_connections_is_given_more(state: Path) -> None:
    """max_connections 100 on the local server: raised, and the cluster restarted once."""
    (state / "pg_up").touch()
    (state / "redis_up").touch()
    (state / "max_connections").write_text("100\n")
    run = _run(state)
    assert run.code == 0, run.err
    assert run.calls == [
        "psql alter max_connections",
        "pg_ctlcluster --skip-systemctl-redirect 16 main restart",
    ]
    assert (state / "max_connections").read_text().strip() == "400"
    assert _run(state).calls == run.calls  # once: the next run finds the room there


def test_no_cluster_on_5432_is_named_with_the_clusters_there_are(state: Path) -> None:
    """Only a cluster on another port: the run stops, listing what pg_lsclusters shows."""
    (state / "clusters").write_text(TWO_VERSIONS.splitlines()[0] + "\n")
    run = _run(state)
    assert run.code == 1 and run.calls == []
    assert "no cluster listens on port 5432" in run.err and "13  main 5433" in run.err


def test_a_refused_connection_says_why_and_what_the_tests_expect(state: Path) -> None:
    """PostgreSQL up but refusing the postgres role: psql's reason and the way out."""
    (state / "pg_up").touch()
    (state / "psql_refuses").touch()
    run = _run(state)
    assert run.code == 1
    assert "password authentication failed" in run.err and "trust auth" in run.err


def test_redis_that_never_answers_stops_the_run_by_its_deadline(state: Path) -> None:
    """Redis started but silent: after the wait, one line naming Redis and the URL."""
    (state / "pg_up").touch()
    (state / "redis_stays_down").touch()
    run = _run(state)
    assert run.code == 1 and len(run.calls) == 1
    assert run.err.strip() == (
        "ci: Redis does not answer PING at redis://127.0.0.1:6379/0 after 2 s (redis-cli)"
    )


def test_servers_named_by_url_are_checked_never_started(state: Path) -> None:
    """A URL set beforehand is someone else's server: down means stop, not start."""
    url = "postgresql://ci@db.internal:5432/postgres"
    run = _run(state, CROSSPOST_TEST_DATABASE_URL=url)
    assert run.code == 1 and run.calls == []
    assert f"does not accept connections at {url} after 2 s" in run.err
