"""A worker process's pools: the engine's runner (publishing and the rest) and the studio's
own runner for the long jobs (renders, auto_fit's variants, highlight detection,
transcription, pipeline runs, release deliveries), so a queue of them never holds up a post.

Each runner claims only its own job kinds; `render_workers` sizes the studio pool (0: this
process runs none, another worker does).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from crosspost.distribution import artwork_job, distribution_job
from crosspost.engine.services import Services
from crosspost.engine.worker import build_runner
from crosspost.jobs import Runner
from crosspost.jobs.context import Handler
from crosspost.pipeline import generate, notify, run_job
from crosspost.studio import fit_job, highlights_job, transcribe_job
from crosspost.studio.render_job import make_render_handler
from crosspost.studio.renders import RENDER_KIND

HandlerFactory = Callable[[Services], Handler]
STUDIO_POLL_SECONDS = 1.0

# The studio pool's job kinds and how to build each one's handler.
STUDIO_HANDLERS: Mapping[str, HandlerFactory] = {
    RENDER_KIND: make_render_handler,
    fit_job.KIND: fit_job.make_handler,
    highlights_job.KIND: highlights_job.make_handler,
    transcribe_job.KIND: transcribe_job.make_handler,
    # The content pipeline's runs: downloads and transcription, long like the rest.
    run_job.KIND: run_job.make_handler,
    generate.KIND: generate.make_handler,
    notify.KIND: notify.make_handler,
    # Music releases' deliveries: uploads of whole albums, long like renders.
    distribution_job.KIND: distribution_job.make_handler,
    artwork_job.KIND: artwork_job.make_handler,
}


def build_studio_runner(
    svc: Services, *, concurrency: int, handlers: Mapping[str, HandlerFactory] = STUDIO_HANDLERS
) -> Runner:
    """A runner of the studio's job kinds only, `concurrency` at once."""
    settings = svc.settings
    return Runner(
        svc.jobs,
        {kind: make(svc) for kind, make in handlers.items()},
        concurrency=concurrency,
        lease_seconds=settings.job_lease_seconds,
        # A render lasts seconds to minutes: noticing one queued by another process a second
        # late costs nothing, and the pool's polling stays light beside the engine's (this
        # process's API and PostgreSQL's NOTIFY wake it at once anyway).
        poll_seconds=max(settings.job_poll_seconds, STUDIO_POLL_SECONDS),
        # Claim only what can start now: a claimed render waiting for a thread would hold
        # its lease while another worker could have rendered it.
        batch_size=1,
        max_errors=settings.job_max_errors,
        clock=svc.clock,
        worker_id=f"{socket.gethostname()}:{os.getpid()}:studio",
    )


def build_runners(
    svc: Services, *, concurrency: int, studio: Mapping[str, HandlerFactory] = STUDIO_HANDLERS
) -> list[Runner]:
    """The process's runners: the engine's with `concurrency` threads (none when 0) first,
    then the studio's with `render_workers` threads (none when 0). Start, wake and stop
    them all."""
    runners = []
    if concurrency > 0:
        runners.append(build_runner(svc, concurrency=concurrency))
    if svc.settings.render_workers > 0 and studio:
        runners.append(
            build_studio_runner(svc, concurrency=svc.settings.render_workers, handlers=studio)
        )
    return runners


class Wakeable(Protocol):
    """A runner or a webhook dispatcher: told when work was queued."""

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        ...


def wake_all(pools: Sequence[Wakeable]) -> Callable[[], None] | None:
    """What the API calls after queueing work: wake every pool (None without any)."""
    if not pools:
        return None

    def wake() -> None:
        for pool in pools:
            pool.wake()

    return wake
