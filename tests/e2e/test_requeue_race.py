"""A target the publish job parks (account needs a reconnect) or fails frees the job's
dedupe key in that same commit: a reconnect or retry that follows at once queues a new
publish job, which survives the old job's completion instead of being swallowed by it.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from crosspost.engine import publish, publish_jobs
from crosspost.jobs.context import Done, JobContext
from crosspost.store.tables import jobs, social_accounts
from tests.e2e.conftest import Stack


def test_a_reconnect_right_after_the_job_parks_its_target_is_not_lost(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(workers=0)
    made = stack.http.post("/v1/posts", json={"text": "parked, then resumed", "targets": ["x"]})
    assert made.status_code == 201, made.text
    target_id = made.json()["targets"][0]["id"]
    key = publish_jobs.dedupe_key(target_id)
    with stack.svc.db.write() as conn:
        conn.execute(
            social_accounts.update()
            .where(social_accounts.c.id == made.json()["targets"][0]["account_id"])
            .values(status="needs_reauth")
        )
    [job] = stack.svc.jobs.claim("w", limit=1, lease_seconds=30, kinds=[publish_jobs.KIND])
    ctx = JobContext(job, stack.svc.jobs, lease_seconds=30, clock=stack.svc.clock)
    assert isinstance(publish.make_handler(stack.svc)(ctx), Done)
    # The runner has not deleted the finished job yet; a reconnect queues the target again.
    with stack.svc.db.write() as conn:
        again = stack.svc.jobs.enqueue(
            conn, publish_jobs.KIND, {"target_id": target_id}, dedupe_key=key
        )
    assert again is not None and again != job.id
    assert stack.svc.jobs.complete([job.lease]) == {job.id}
    with stack.svc.db.read() as conn:
        left = conn.execute(sa.select(jobs.c.id).where(jobs.c.dedupe_key == key)).scalars().all()
    assert left == [again]
