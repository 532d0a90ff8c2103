"""The last line of defence: a command that fails unexpectedly prints one redacted line
and a documented exit code, never a traceback with secrets; Ctrl-C exits 130 quietly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.served import clean_env, run_cli

PASSWORD = "Sup3rSecretValue99xyz"


def test_an_unexpected_error_prints_one_redacted_line(tmp_path: Path) -> None:
    """A database that refuses connections (its URL holding a password): exit 70, one
    line naming the error, the hint to CROSSPOST_DEBUG, no traceback, no password, no
    API key; with CROSSPOST_DEBUG=1 the traceback, still without them."""
    key = "cp_test_" + "A" * 49
    env = clean_env(
        CROSSPOST_HOME=str(tmp_path / "home"),
        CROSSPOST_DATABASE_URL=f"postgresql://crosspost:{PASSWORD}@127.0.0.1:1/nothing",
        CROSSPOST_API_KEY=key,
    )
    crashed = run_cli(env, "keys", "list", cwd=tmp_path)
    assert crashed.returncode == 70, crashed.stderr
    assert "crosspost stopped on an unexpected error: OperationalError" in crashed.stderr
    assert "run with CROSSPOST_DEBUG=1 for the traceback" in crashed.stderr
    assert "Traceback" not in crashed.stderr and "locals" not in crashed.stderr
    assert PASSWORD not in crashed.stderr + crashed.stdout and key not in crashed.stderr
    debug = run_cli({**env, "CROSSPOST_DEBUG": "1"}, "keys", "list", cwd=tmp_path)
    assert debug.returncode == 70
    assert "Traceback (most recent call last)" in debug.stderr
    assert PASSWORD not in debug.stderr and key not in debug.stderr


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT while a command waits on the API: exit status 130, no traceback."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"), CROSSPOST_API_KEY="cp_test_x")
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "status", "post_x", "--api-url", url],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        listener.settimeout(30)
        conn, _ = listener.accept()  # the command is now waiting for an answer
        with conn:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
