"""The worker pool of a process: the job runner with the engine's handlers registered."""

from __future__ import annotations

import os
import socket

from crosspost.engine import (
    account_check,
    exports,
    first_comment,
    maintenance,
    media_fetch,
    post_metrics,
    publish,
    tenants,
)
from crosspost.engine.publish_jobs import KIND
from crosspost.engine.services import Services
from crosspost.jobs import Runner


def build_runner(svc: Services, *, concurrency: int) -> Runner:
    """A runner executing every job kind the engine defines."""
    settings = svc.settings
    maintenance.ensure_scheduled(svc)
    account_check.ensure_scheduled(svc)
    post_metrics.ensure_scheduled(svc)
    return Runner(
        svc.jobs,
        {
            KIND: publish.make_handler(svc),
            maintenance.KIND: maintenance.make_handler(svc),
            account_check.KIND: account_check.make_handler(svc),
            exports.KIND: exports.make_handler(svc),
            tenants.PURGE_KIND: tenants.make_purge_handler(svc),
            post_metrics.PLAN_KIND: post_metrics.make_plan_handler(svc),
            post_metrics.FETCH_KIND: post_metrics.make_fetch_handler(svc),
            media_fetch.KIND: media_fetch.make_handler(svc),
            first_comment.KIND: first_comment.make_handler(svc),
        },
        concurrency=concurrency,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_seconds,
        batch_size=settings.job_batch_size,
        max_errors=settings.job_max_errors,
        clock=svc.clock,
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
    )
