"""`crosspost serve` without a port takes 8000 when free, else the next free port, says so
loudly and records where it listens in the home's server.json, where the other commands find
it; a port asked for explicitly (--port, CROSSPOST_PORT) that is taken is refused, naming its
holder (issue 13: a second crosspost on one machine)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from crosspost.cli._home import read_record
from crosspost.cli._ports import PortTaken, claim_port
from crosspost.fakes.server import listen
from tests.served import Servers, clean_env, port_held, run_cli

# The default ports 8000 and 8010 are one machine-wide resource: under pytest-xdist
# every test that takes or holds them runs on the same worker, one at a time.
pytestmark = pytest.mark.xdist_group("default_ports")

DEFAULT_API_PORT = 8000


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port held by a bare listener of this test (another program, to crosspost)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def port_8000_held() -> Iterator[None]:
    """The default API port held by something that is not this test's crosspost: a bare
    listener of this process, or whatever already holds it on this machine."""
    with port_held(DEFAULT_API_PORT):
        yield


def test_a_held_port_moves_to_the_next_free_one_and_says_whose_it_was(held_port: int) -> None:
    """Not asked for explicitly: the next free port, and why the one asked for was not used."""
    listener, held = claim_port(
        lambda port: listen("127.0.0.1", port),
        held_port,
        explicit=False,
        label="API",
        flag="--port",
        host="127.0.0.1",
    )
    with listener:
        assert listener.getsockname()[1] != held_port
        assert held == f"API port {held_port} is held by another program"


def test_a_held_port_asked_for_explicitly_is_refused(held_port: int) -> None:
    """Asked for explicitly: refused, naming the holder and the flag that chooses another."""
    with pytest.raises(PortTaken) as refused:
        claim_port(
            lambda port: listen("127.0.0.1", port),
            held_port,
            explicit=True,
            label="API",
            flag="--port (or CROSSPOST_PORT)",
            host="127.0.0.1",
        )
    assert str(refused.value) == (
        f"API port {held_port} is held by another program; choose a free one with --port "
        "(or CROSSPOST_PORT) (0: any free port) or leave it out to take the next free one"
    )


@pytest.mark.slow
def test_serve_without_a_port_moves_off_a_taken_8000_and_the_cli_finds_it(
    serve: Servers, tmp_path: Path, port_8000_held: None
) -> None:
    """Port 8000 held by another program: `serve` as a user starts it (no port) listens on
    another port, warns, records the URL it really listens on in server.json, and a key
    made and a post listed with no CROSSPOST_API_URL reach that server."""
    home = tmp_path / "home"
    served = serve(clean_env(CROSSPOST_HOME=str(home)), tmp_path, default_port=True)
    assert not served.url.endswith(f":{DEFAULT_API_PORT}"), served.url
    assert f"warning: API port {DEFAULT_API_PORT} is held by" in served.stderr, served.stderr
    assert served.banner["api_moved"].startswith(f"API port {DEFAULT_API_PORT} is held by")
    record = read_record(home)
    assert record is not None and record.api_url == served.url
    env = clean_env(CROSSPOST_HOME=str(home))
    made = run_cli(env, "keys", "create", "--name", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    listed = run_cli(
        {**env, "CROSSPOST_API_KEY": made.stdout.strip()}, "posts", "list", "--json", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    url = run_cli(env, "auth", "url", cwd=tmp_path)
    assert url.stdout.strip() == served.url and "server.json" in url.stderr, url


@pytest.mark.slow
@pytest.mark.parametrize("how", ["--port", "CROSSPOST_PORT"])
def test_serve_refuses_a_taken_port_asked_for(serve: Servers, tmp_path: Path, how: str) -> None:
    """A port asked for by flag or environment and held by another crosspost's API: exit 1,
    one line naming the holder and how to choose; nothing is recorded on the home."""
    other = serve(clean_env(CROSSPOST_HOME=str(tmp_path / "other")), tmp_path)
    port = other.url.rsplit(":", 1)[1]
    home = tmp_path / "home"
    env = clean_env(CROSSPOST_HOME=str(home))
    args = ["serve", "--sandbox", "--sandbox-port", "0"]
    if how == "--port":
        args += ["--port", port]
    else:
        env["CROSSPOST_PORT"] = port
    refused = run_cli(env, *args, cwd=tmp_path, timeout=60)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        f"API port {port} is held by the API of another crosspost; choose a free one with "
        "--port (or CROSSPOST_PORT)"
    ) in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert read_record(home) is None


@pytest.mark.slow
def test_port_0_records_the_port_it_got(serve: Servers, tmp_path: Path) -> None:
    """`--port 0` (any free port): the banner and server.json name the real port, not 0."""
    home = tmp_path / "home"
    served = serve(clean_env(CROSSPOST_HOME=str(home)), tmp_path, "--port", "0")
    assert not served.url.endswith(":0"), served.url
    assert served.banner["api_moved"] is None
    record = read_record(home)
    assert record is not None and record.api_url == served.url
