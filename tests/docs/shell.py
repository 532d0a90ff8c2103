"""One terminal, as a reader of the docs has it: a bash process that runs block after block,
keeping the variables, exported or not, and the working directory each one leaves. A block
runs under `set -eo pipefail` with no standard input; a failing command ends the session,
and the block's code and output are what is reported. Python blocks run with this
interpreter in that shell, so they see what it exported."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from crosspost.cli._home import read_record


@dataclass(frozen=True)
class Ran:
    """How a block (or a probe) ended: exit code (None: still running at the deadline),
    what it printed, how long it took."""

    code: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether it ran to its end with status 0."""
        return self.code == 0


class Session:
    """A bash session in `cwd` with `env`; `home` is the crosspost home its servers use."""

    def __init__(self, cwd: Path, env: dict[str, str], scratch: Path, home: Path) -> None:
        self.cwd, self.scratch, self.home = cwd, scratch, home
        scratch.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._log = (scratch / "session.log").open("wb")
        # Its own process group: the blocks' background servers are stopped with it.
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            text=True,
            start_new_session=True,
        )
        self.background: list[int] = []

    def run(self, text: str, *, python: bool = False, timeout: float = 120) -> Ran:
        """Run `text` (bash, or Python) to its end, or until `timeout` seconds have passed."""
        name, script = self._script(text, python)
        command = f"{shlex.quote(sys.executable)} {script}" if python else f". {script}"
        return self._send(
            name,
            f"set -eo pipefail; {{ {command}\n}} </dev/null >{name}.out 2>{name}.err; "
            f"set +eo pipefail; echo $? >{name}.done\n",
            timeout,
        )

    def start(self, text: str, *, timeout: float = 60) -> Ran:
        """Start `text` in the background and wait until the server it starts on this
        session's home answers `/readyz`; fails when it exits or `timeout` passes first."""
        name, script = self._script(text, False)
        started = time.monotonic()
        ran = self._send(
            name,
            f"( . {script} ) </dev/null >{name}.out 2>{name}.err & "
            f"echo $! >{name}.pid; echo 0 >{name}.done\n",
            10,
        )
        if not ran.ok:
            return ran
        pid = int((self.scratch / f"{name}.pid").read_text())
        self.background.append(pid)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return self._result(name, 1, started)
            if self._serves(pid):
                return self._result(name, 0, started)
            time.sleep(0.1)
        return self._result(name, None, started)

    def _serves(self, pid: int) -> bool:
        """Whether a server started by process `pid` runs on the home and is ready."""
        record = read_record(self.home)
        if record is None or not record.running():
            return False
        try:
            ours = {pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            return False
        if record.pid not in ours:
            return False
        try:
            return httpx.get(f"{record.api_url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def _script(self, text: str, python: bool) -> tuple[str, Path]:
        self._count += 1
        name = str(self.scratch / f"block-{self._count:02d}")
        script = Path(f"{name}.{'py' if python else 'sh'}")
        script.write_text(text)
        return name, script

    def _send(self, name: str, line: str, timeout: float) -> Ran:
        started = time.monotonic()
        assert self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        done = Path(f"{name}.done")
        deadline = started + timeout
        while not done.exists() or not done.read_text().strip():
            if self.proc.poll() is not None:
                return self._result(name, self.proc.returncode, started)
            if time.monotonic() > deadline:
                return self._result(name, None, started)
            time.sleep(0.02)
        return self._result(name, int(done.read_text()), started)

    def _result(self, name: str, code: int | None, started: float) -> Ran:
        def read(suffix: str) -> str:
            path = Path(f"{name}.{suffix}")
            return path.read_text(errors="replace") if path.exists() else ""

        return Ran(code, read("out"), read("err"), time.monotonic() - started)

    def close(self, timeout: float = 30) -> None:
        """Stop the shell and everything it started (SIGTERM, as closing the terminal would;
        SIGKILL for what is left after `timeout`)."""
        procs: list[psutil.Process] = []
        for pid in [self.proc.pid, *self.background]:
            with contextlib.suppress(psutil.NoSuchProcess):
                procs += [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self._log.close()


def session_env(root: Path) -> tuple[dict[str, str], Path]:
    """A fresh machine's user, under `root`: HOME and the XDG folders there, no crosspost
    setting but CROSSPOST_HOME (a home of its own, where the per-user default would be), this
    interpreter's scripts first on PATH, and curl and httpx kept to loopback (any other
    host goes through a proxy that is not there). curl fails on an HTTP error, printing the
    answer: an example that gets one is broken. Returns the environment and the home."""
    home = root / "home"
    data = home / ".local" / "share"
    crosspost_home = data / "crosspost"
    for folder in (home / ".config", data, home / ".cache"):
        folder.mkdir(parents=True, exist_ok=True)
    (home / ".curlrc").write_text("fail-with-body\nshow-error\n")
    nowhere = "http://127.0.0.1:9"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    for variable in ("NO_COLOR", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(variable, None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(data),
        XDG_CACHE_HOME=str(home / ".cache"),
        CROSSPOST_HOME=str(crosspost_home),
        CURL_HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        http_proxy=nowhere,
        https_proxy=nowhere,
        all_proxy=nowhere,
        HTTP_PROXY=nowhere,
        HTTPS_PROXY=nowhere,
        ALL_PROXY=nowhere,
        no_proxy="127.0.0.1,localhost,::1",
        NO_PROXY="127.0.0.1,localhost,::1",
    )
    return env, crosspost_home


def checkout(cwd: Path) -> None:
    """`cwd` as the folder the quick start runs in: its `.venv` (which the quick start's
    install makes) is the environment these tests run in."""
    cwd.mkdir(parents=True, exist_ok=True)
    venv = cwd / ".venv"
    if sys.prefix != sys.base_prefix:
        venv.symlink_to(sys.prefix, target_is_directory=True)
        return
    # Not in a virtual environment: an activate script that puts this interpreter first.
    (venv / "bin").mkdir(parents=True)
    scripts = shlex.quote(str(Path(sys.executable).parent))
    (venv / "bin" / "activate").write_text(f'export PATH={scripts}:"$PATH"\n')
