"""Distributions of releases: `/v1/releases/{id}/distributions` to send a release out and
list where it went, `/v1/distributions/{id}` to follow one, retry it or take it down.

Writing needs `posts:write`, reading `posts:read`. Each attempt is a `/v1/jobs` job
(`kind: distribution`); its progress and webhooks follow the delivery.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.engine import Connection

from crosspost.api.deps import PostsReadDep, PostsWriteDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.distribution import distributions, releases
from crosspost.domain.models import LedgerEventPublic
from crosspost.domain.music import (
    Channel,
    CostEstimate,
    DistributionList,
    DistributionPublic,
    DistributionRequest,
)
from crosspost.store import distributions as rows
from crosspost.store import ledger
from crosspost.store.rows import Row

router = APIRouter(tags=["releases"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "/v1/releases/{release_id}/distributions",
    status_code=202,
    response_model=DistributionList,
    responses=_ERRORS,
)
async def distribute(
    release_id: str,
    body: DistributionRequest,
    request: Request,
    svc: ServicesDep,
    principal: PostsWriteDep,
) -> DistributionList:
    """Send a release out on each channel (202): the batch is delivered to the distributor,
    then each store's answer follows (`GET /v1/distributions/{id}`, webhooks
    `distribution.status_changed`, `distribution.live`, `distribution.failed`). A channel
    the release is already out on is 409; a release date in the past 422."""

    def work() -> DistributionList:
        with svc.db.write() as conn:
            started = distributions.start(
                svc, conn, tenant_id=principal.tenant_id, release_id=release_id, body=body
            )
            return DistributionList(data=distributions.views(conn, started))

    answer = await svc.db.run(work)
    request.app.state.wake_workers()
    return answer


@router.get(
    "/v1/releases/{release_id}/distributions/estimate",
    response_model=CostEstimate,
    responses=_ERRORS,
)
async def estimate_distribution(
    release_id: str,
    svc: ServicesDep,
    principal: PostsReadDep,
    channels: Annotated[list[Channel], Query(min_length=1, max_length=4)],
) -> CostEstimate:
    """What sending the release out on `channels` (repeat the parameter) would cost, from
    this server's price table (`CROSSPOST_DISTRIBUTION_COSTS`), before anything is sent."""

    def read() -> CostEstimate:
        with svc.db.read() as conn:
            return distributions.estimate(
                svc, conn, tenant_id=principal.tenant_id, release_id=release_id,
                channels=channels,
            )  # fmt: skip

    return await svc.db.run(read)


@router.get(
    "/v1/releases/{release_id}/distributions",
    response_model=DistributionList,
    responses=_ERRORS,
)
async def list_distributions(
    release_id: str, svc: ServicesDep, principal: PostsReadDep
) -> DistributionList:
    """Where a release was sent, by channel, with each store's status."""

    def read() -> DistributionList:
        with svc.db.read() as conn:
            releases.get(conn, principal.tenant_id, release_id)
            return DistributionList(
                data=distributions.views(conn, rows.of_release(conn, release_id))
            )

    return await svc.db.run(read)


@router.get(
    "/v1/distributions/{distribution_id}", response_model=DistributionPublic, responses=_ERRORS
)
async def get_distribution(
    distribution_id: str, svc: ServicesDep, principal: PostsReadDep
) -> DistributionPublic:
    """A distribution: its status, attempt, batch, error and each store's status and URL."""

    def read() -> DistributionPublic:
        with svc.db.read() as conn:
            row = distributions.get(conn, principal.tenant_id, distribution_id)
            return _view(conn, row)

    return await svc.db.run(read)


@router.get(
    "/v1/distributions/{distribution_id}/ledger",
    response_model=list[LedgerEventPublic],
    responses=_ERRORS,
)
async def get_distribution_ledger(
    distribution_id: str, svc: ServicesDep, principal: PostsReadDep
) -> list[Row]:
    """Every step of a distribution in order: created, each status with its batch and
    attempt, and the error that ended one."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            distributions.get(conn, principal.tenant_id, distribution_id)
            return ledger.list_distribution_events(conn, principal.tenant_id, distribution_id)

    return await svc.db.run(read)


@router.post(
    "/v1/distributions/{distribution_id}/retry",
    status_code=202,
    response_model=DistributionPublic,
    responses=_ERRORS,
)
async def retry_distribution(
    distribution_id: str, request: Request, svc: ServicesDep, principal: PostsWriteDep
) -> DistributionPublic:
    """Deliver a failed distribution again, as a new batch (409 unless it failed)."""

    def work() -> DistributionPublic:
        with svc.db.write() as conn:
            row = distributions.retry(
                svc, conn, tenant_id=principal.tenant_id, distribution_id=distribution_id
            )
            return _view(conn, row)

    answer = await svc.db.run(work)
    request.app.state.wake_workers()
    return answer


@router.post(
    "/v1/distributions/{distribution_id}/takedown",
    status_code=202,
    response_model=DistributionPublic,
    responses=_ERRORS,
)
async def take_down(
    distribution_id: str, request: Request, svc: ServicesDep, principal: PostsWriteDep
) -> DistributionPublic:
    """Withdraw the release from every store of the channel (a takedown message); the
    distribution ends `taken_down` once every store has withdrawn it."""

    def work() -> DistributionPublic:
        with svc.db.write() as conn:
            row = distributions.take_down(
                svc, conn, tenant_id=principal.tenant_id, distribution_id=distribution_id
            )
            return _view(conn, row)

    answer = await svc.db.run(work)
    request.app.state.wake_workers()
    return answer


def _view(conn: Connection, row: Row) -> DistributionPublic:
    return distributions.views(conn, [row])[0]
