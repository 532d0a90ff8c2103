"""The closing line of a test run counts its skips by reason, so a run that leaves out the
PostgreSQL and Redis tests says so instead of passing in silence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ENV, REDIS_ENV, REQUIRE_ENV

ROOT = Path(__file__).resolve().parents[2]

SUITE = '''
import pytest
from tests.conftest import PG_ENV, REDIS_ENV, service_url

@pytest.mark.parametrize("n", range(3))
def test_pg(n):
    """Needs PostgreSQL."""
    service_url(PG_ENV)

def test_redis():
    """Needs Redis."""
    service_url(REDIS_ENV)

@pytest.mark.skipif(True, reason="not on this machine")
def test_marked():
    """Skipped by a mark."""

def test_runs():
    """Runs."""
'''


def _run(tmp_path: Path, *args: str) -> str:
    (tmp_path / "test_sample.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if k not in {PG_ENV, REDIS_ENV, REQUIRE_ENV}}
    env["PYTHONPATH"] = str(ROOT)
    plugins = ["-p", "tests.conftest", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", "test_sample.py", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_run_ends_with_one_line_counting_skips_by_reason(
    tmp_path: Path, workers: list[str]
) -> None:
    """Five skips, three reasons: one line, the most frequent first, before pytest's own
    closing counts (under pytest-xdist too); without -rs no per-test skip lines."""
    lines = _run(tmp_path, "-rfExX", *workers).splitlines()
    summary = next(i for i, line in enumerate(lines) if "skipped:" in line)
    assert lines[summary] == (
        f"5 skipped: PostgreSQL tests need {PG_ENV} (3); Redis tests need {REDIS_ENV} (1); "
        "not on this machine (1) (-rs lists each test)"
    )
    assert "1 passed, 5 skipped" in lines[-1] and summary < len(lines) - 1
    assert not any(line.startswith("SKIPPED") for line in lines)


def test_rs_still_lists_each_skipped_test(tmp_path: Path) -> None:
    """-rs brings back pytest's own per-test lines beside the count."""
    out = _run(tmp_path, "-rs")
    assert "SKIPPED [" in out and "5 skipped: PostgreSQL" in out
