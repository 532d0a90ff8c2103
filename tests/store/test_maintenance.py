"""Hourly maintenance: idempotency keys expire after 24 h; exactly one maintenance job exists."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from crosspost.config import Settings
from crosspost.engine import maintenance
from crosspost.engine.services import Services
from crosspost.jobs import RunAgain
from crosspost.jobs.context import JobContext
from crosspost.store import idempotency, migrate
from crosspost.store.tables import idempotency_keys, jobs


def test_old_idempotency_keys_are_purged_and_the_job_repeats(
    tmp_path: Path, database_url: str
) -> None:
    """Keys older than 24 h go, younger ones stay; the job asks to run again in an hour."""
    settings = Settings(_env_file=None, home=tmp_path, database_url=database_url)  # type: ignore[call-arg]
    svc = Services.build(settings)
    try:
        migrate.upgrade(svc.db)
        now = svc.clock.now()
        with svc.db.write() as conn:
            for key, age in (("old", 25), ("young", 23)):
                idempotency.try_insert(
                    conn,
                    tenant_id="t",
                    key=key,
                    method="POST",
                    path="/v1/posts",
                    fingerprint="f",
                    now=now - timedelta(hours=age),
                )
        maintenance.ensure_scheduled(svc)
        maintenance.ensure_scheduled(svc)  # a second process starting: still one job
        with svc.db.read() as conn:
            kinds = list(conn.execute(sa.select(jobs.c.kind)).scalars())
        assert kinds == [maintenance.KIND]
        [job] = svc.jobs.claim("w", limit=1, lease_seconds=30)
        ctx = JobContext(job, svc.jobs, lease_seconds=30, clock=svc.clock)
        outcome = maintenance.make_handler(svc)(ctx)
        assert isinstance(outcome, RunAgain)
        assert outcome.at - now >= timedelta(minutes=59)
        with svc.db.read() as conn:
            left = list(conn.execute(sa.select(idempotency_keys.c.key)).scalars())
        assert left == ["young"]
    finally:
        svc.close()
