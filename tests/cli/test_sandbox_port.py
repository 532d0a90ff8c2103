"""A second crosspost on one machine never uses the first one's fakes: each server runs its
own (or shares its own home's `crosspost sandbox`), moves off a port someone else holds and
says so, and refuses a port asked for explicitly when it is taken (issue 13, item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crosspost.cli._home import write_record
from crosspost.cli._sandbox import home_fakes
from crosspost.config import Settings
from crosspost.media.samples import make_video
from tests.served import Served, Servers, clean_env, port_held, run_cli

# The default ports 8000 and 8010 are one machine-wide resource: under pytest-xdist
# every test that takes or holds them runs on the same worker, one at a time.
pytestmark = pytest.mark.xdist_group("default_ports")

DEFAULT_FAKES_PORT = 8010


@pytest.fixture
def port_8010_held() -> Iterator[None]:
    """The default fakes port held by something that is not this test's crosspost: a bare
    listener of this process, or whatever already holds it on this machine."""
    with port_held(DEFAULT_FAKES_PORT):
        yield


def _publish(served: Served, home: Path, tmp_path: Path) -> dict[str, object]:
    """A key made on `home`, a clip published to youtube through `served`: the post."""
    env = {**served.env, "CROSSPOST_HOME": str(home)}
    made = run_cli(env, "keys", "create", "--name", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env |= {"CROSSPOST_API_KEY": made.stdout.strip(), "CROSSPOST_API_URL": served.url}
    clip = tmp_path / "clip.mp4"
    if not clip.exists():
        make_video(clip, seconds=1.0)
    published = run_cli(env, "publish", str(clip), "--to", "youtube", "--json", cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    post: dict[str, object] = json.loads(published.stdout)
    return post


def _fake_posts(served: Served) -> list[dict[str, object]]:
    """The videos the youtube fake of `served` holds."""
    return list(served.fake("youtube", "state")["posts"])


@pytest.mark.slow
def test_two_servers_on_one_machine_each_own_their_fakes(
    serve: Servers, tmp_path: Path, port_8010_held: None
) -> None:
    """Port 8010 held by another process: two servers of two homes, started as a user would
    (no port given), each move to a free port of their own, say so loudly, print the fakes
    they own, and each publishes to its own fakes."""
    homes = [tmp_path / "a", tmp_path / "b"]
    started = [
        serve(clean_env(CROSSPOST_HOME=str(home)), tmp_path, default_fakes_port=True)
        for home in homes
    ]
    urls = [s.fakes_url for s in started]
    assert len(set(urls)) == 2 and not any(u.endswith(f":{DEFAULT_FAKES_PORT}") for u in urls)
    for served in started:
        assert f"sandbox port {DEFAULT_FAKES_PORT} is held by" in served.stderr, served.stderr
        assert "instead" in served.stderr
        owned = served.banner["sandbox_fakes"]
        assert owned["shared"] is False and owned["pid"] > 0 and owned["moved"], owned
    for served, home in zip(started, homes, strict=True):
        post = _publish(served, home, tmp_path)
        assert post["status"] == "published", post
    # Each server's post reached its own fakes, and only those.
    assert [len(_fake_posts(s)) for s in started] == [1, 1]


def _start_sandbox(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], Any]:
    """`crosspost sandbox --port 0 --json` as a process; returns it and its banner."""
    out = cwd / "sandbox.out"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "sandbox", "--port", "0", "--json"],
            env=env,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            banner = json.loads(out.read_text())
            break
        except ValueError:
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
    return proc, banner


@pytest.mark.slow
def test_serve_shares_its_homes_sandbox_and_refuses_another_crossposts_port(
    serve: Servers, tmp_path: Path
) -> None:
    """`crosspost sandbox` on home A: `serve --sandbox` on home A shares those fakes and
    says whose they are; a server of home B told to use that port refuses, naming the
    holder, and left to choose, runs fakes of its own."""
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    env_a = clean_env(CROSSPOST_HOME=str(home_a))
    proc, sandbox = _start_sandbox(env_a, tmp_path)
    try:
        served = serve(env_a, tmp_path, default_fakes_port=True)
        owned = served.banner["sandbox_fakes"]
        assert owned == {"url": sandbox["url"], "pid": proc.pid, "shared": True, "moved": None}
        post = _publish(served, home_a, tmp_path)
        assert post["status"] == "published", post
        assert len(_fake_posts(served)) == 1
        port = sandbox["url"].rsplit(":", 1)[1]
        env_b = clean_env(CROSSPOST_HOME=str(home_b))
        refused = run_cli(
            env_b, "serve", "--sandbox", "--sandbox-port", port, cwd=tmp_path, timeout=60
        )
        assert refused.returncode == 1, refused.stderr
        assert f"sandbox port {port} is held by the fakes of another crosspost (pid {proc.pid})" \
            in refused.stderr, refused.stderr  # fmt: skip
        other = serve(clean_env(CROSSPOST_HOME=str(home_b)), tmp_path)
        assert (
            other.fakes_url != sandbox["url"] and other.banner["sandbox_fakes"]["shared"] is False
        )
        again = run_cli(env_a, "sandbox", "--port", "0", cwd=tmp_path)
        assert again.returncode == 1 and "already runs on" in again.stderr, again.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert not (home_a / "sandbox.json").exists()


def test_a_worker_uses_the_fakes_of_the_server_on_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crosspost worker` without a sandbox port reaches the fakes the home's server uses
    (which may have moved off 8010); an explicit port wins."""
    monkeypatch.delenv("CROSSPOST_SANDBOX_PORT", raising=False)
    write_record(tmp_path, api_url="http://127.0.0.1:8000", sandbox=True,
                 fakes_url="http://127.0.0.1:8042")  # fmt: skip
    settings = home_fakes(Settings(_env_file=None, home=tmp_path))
    assert settings.sandbox_base_url == "http://127.0.0.1:8042"
    monkeypatch.setenv("CROSSPOST_SANDBOX_PORT", "8099")
    settings = home_fakes(Settings(_env_file=None, home=tmp_path))
    assert settings.sandbox_base_url == "http://127.0.0.1:8099"
