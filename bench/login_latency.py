"""Sign-in latency of a real `crosspost serve` (Argon2id verification included): p50 and
p99 of successful sign-ins, and of refused ones, with a few clients at once.

    python -m bench.login_latency [--logins 200] [--clients 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench._stack import bench_database, running_server

PASSWORD = "correct horse battery staple"
_LINK = re.compile(r"\?token=([\w-]+)")


def _owner(env: dict[str, str], url: str, email: str) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "crosspost", "tenants", "create", "bench", "--owner-email", email],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    found = _LINK.search(made.stderr)
    if found is None:
        raise RuntimeError(f"no invitation link in: {made.stderr}")
    accepted = httpx.post(
        f"{url}/v1/invitations/accept", json={"token": found.group(1), "password": PASSWORD}
    )
    accepted.raise_for_status()


def _timed(url: str, email: str, password: str, count: int) -> list[float]:
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(count):
            start = time.perf_counter()
            http.post("/v1/auth/login", json={"email": email, "password": password})
            times.append((time.perf_counter() - start) * 1000)
            http.cookies.clear()
    return times


def _report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<22} n={len(times):<5} p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms"
    )


def main() -> None:
    """Start a server, make an owner, time sign-ins; print p50/p99 per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    per_client = max(1, args.logins // args.clients)
    # A high per-address budget: this measures sign-in, not the limit that guards it.
    extra = {"CROSSPOST_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
             "CROSSPOST_LOGIN_MAX_FAILURES": "1000000"}  # fmt: skip
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, workers=0, extra_env=extra) as server,
    ):
        emails = [f"owner{i}@bench.test" for i in range(args.clients)]
        for email in emails:
            _owner(server.env, server.url, email)
        for name, password in (("right password", PASSWORD), ("wrong password", "x" * 12)):
            with ThreadPoolExecutor(args.clients) as pool:
                runs = pool.map(_timed, [server.url] * len(emails), emails,
                                [password] * len(emails), [per_client] * len(emails))  # fmt: skip
                _report(f"{name} ({args.clients} clients)", [t for run in runs for t in run])


if __name__ == "__main__":
    main()
