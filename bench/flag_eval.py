"""What a flag evaluation costs: `FlagCache.evaluate` answering from memory, per case.

Flags are stored in a fresh database and loaded into a cache; each case evaluates one flag
for many tenant ids (so a percentage rollout hashes a different tenant every time), and
the best of `--runs` passes is printed in µs per evaluation. The OpenFeature client's
figure for the same question shows what its hooks and context merging add on top, and the
change check is what the cache's poll costs the database every second. Target (issue 15):
≤ 10 µs per evaluation.

    python -m bench.flag_eval [--tenants 10000] [--runs 5] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from crosspost.flags import manage
from crosspost.flags.cache import FlagCache
from crosspost.flags.openfeature import CrosspostProvider
from crosspost.flags.rules import KNOWN_FLAGS
from crosspost.identity.audit import Actor
from crosspost.store import migrate
from crosspost.store.db import Database

FLAGS: dict[str, dict[str, object]] = {
    "bench.everyone": {},
    "bench.rollout": {"rollout_percent": 25},
    "bench.lists": {
        "rollout_percent": 50,
        "allow_tenants": [f"ten_{n:08d}" for n in range(0, 2000, 2)],
        "deny_tenants": [f"ten_{n:08d}" for n in range(1, 2000, 2)],
    },
    "bench.off": {"enabled": False},
    "bench.killed": {"killed": True, "allow_tenants": ["ten_00000000"]},
}


def _best_us(run: Callable[[], None], count: int, runs: int) -> float:
    run()  # warm up
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


def main() -> None:
    """Store the flags, load them into a cache, time each case, print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'flags.db'}"
    db = Database(url)
    migrate.upgrade(db)
    for key, fields in FLAGS.items():
        manage.set_flag(db, key, fields, actor=Actor.cli(), now=datetime.now(UTC))
    tenants = [f"ten_{n:08d}" for n in range(args.tenants)]
    cache = FlagCache(db, poll_seconds=60).start()
    cases = {
        "on for everyone (100 %)": "bench.everyone",
        "percentage rollout (25 %)": "bench.rollout",
        "allow/deny lists of 1,000": "bench.lists",
        "switched off": "bench.off",
        "killed": "bench.killed",
        "registered, not stored": next(iter(KNOWN_FLAGS)),
        "unknown flag": "bench.unknown",
    }
    print(f"database: {args.database_url or 'embedded SQLite'}; {len(tenants)} tenants, "
          f"best of {args.runs} runs")  # fmt: skip
    for label, key in cases.items():

        def run(key: str = key) -> None:
            evaluate = cache.evaluate
            for tenant in tenants:
                evaluate(key, tenant)

        print(f"  {label:28} {_best_us(run, len(tenants), args.runs):7.2f} µs per evaluation")

    api.set_provider_and_wait(CrosspostProvider(cache))
    client = api.get_client()
    contexts = [EvaluationContext(targeting_key=t) for t in tenants]

    def through_openfeature() -> None:
        for context in contexts:
            client.get_boolean_value("bench.rollout", False, context)

    us = _best_us(through_openfeature, len(contexts), args.runs)
    print(f"  {'OpenFeature client (25 %)':28} {us:7.2f} µs per evaluation")
    checks = 200

    def check_changes() -> None:
        for _ in range(checks):
            cache.refresh()

    us = _best_us(check_changes, checks, args.runs)
    print(f"  {'change check (poll, no change)':28} {us:7.2f} µs per check")
    api.clear_providers()
    cache.close()
    db.dispose()


if __name__ == "__main__":
    main()
