"""/v1/invitations and /v1/users: an admin invites people into the tenant, and sees and
changes its members' roles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from crosspost.api.auth import Principal
from crosspost.api.deps import AdminDep, ServicesDep, client_ip
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.domain.enums import KeyRole
from crosspost.domain.models import Page
from crosspost.domain.people import InvitationCreate, InvitationPublic, MemberPublic, MemberUpdate
from crosspost.errors import NotFound
from crosspost.identity import invitations
from crosspost.identity.audit import record
from crosspost.store import people
from crosspost.store.rows import Row

router = APIRouter(tags=["people"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _invitation(row: Row, url: str | None = None) -> InvitationPublic:
    return InvitationPublic.model_validate({**row, "url": url})


@router.post("/v1/invitations", status_code=201, response_model=InvitationPublic,
             responses=_ERRORS)  # fmt: skip
async def create_invitation(
    body: InvitationCreate,
    request: Request,
    svc: ServicesDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Invite someone by email with a role (default developer); the mail carries a
    single-use link, also in this answer only (a replay answers without it)."""
    actor = principal.actor(client_ip(request))
    made: list[invitations.Link] = []

    def create(conn: Connection) -> tuple[bytes, bytes]:
        link = invitations.invite(
            svc, conn, tenant_id=principal.tenant_id, email=body.email, role=body.role,
            actor=actor, inviter_role=principal.role,
        )  # fmt: skip
        made.append(link)
        kept = _invitation(link.row).model_dump_json().encode()
        return _invitation(link.row, link.url).model_dump_json().encode(), kept

    response = await create_idempotently(svc, principal, request, idempotency_key, create)
    if made:
        # After the commit: a mail server down loses nothing, the link is in the answer.
        await run_in_threadpool(invitations.send_invitation, svc, made[0])
    return response


@router.get("/v1/invitations", response_model=Page[InvitationPublic], responses=_ERRORS)
async def list_invitations(svc: ServicesDep, principal: AdminDep) -> Page[InvitationPublic]:
    """Invitations not yet accepted, revoked or expired, newest first."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return people.invitations(conn, principal.tenant_id, svc.clock.now())

    rows = await svc.db.run(read)
    return Page[InvitationPublic](data=[_invitation(r) for r in rows], has_more=False,
                                  next_cursor=None)  # fmt: skip


@router.delete("/v1/invitations/{invitation_id}", status_code=204, responses=_ERRORS)
async def revoke_invitation(
    invitation_id: str, request: Request, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Revoke an invitation not yet accepted: its link stops working."""

    def write() -> None:
        with svc.db.write() as conn:
            if not people.revoke_invitation(conn, principal.tenant_id, invitation_id,
                                            svc.clock.now()):  # fmt: skip
                raise NotFound(f"no pending invitation {invitation_id!r}")
            record(
                conn, principal.actor(client_ip(request)), "invitation.revoked",
                tenant_id=principal.tenant_id, now=svc.clock.now(),
                target=("invitation", invitation_id),
            )  # fmt: skip

    await svc.db.run(write)
    return Response(status_code=204)


def _member(row: Row) -> MemberPublic:
    return MemberPublic.model_validate({**row, "second_factor": row["totp_enabled_at"] is not None})


@router.get("/v1/users", response_model=Page[MemberPublic], responses=_ERRORS)
async def list_members(svc: ServicesDep, principal: AdminDep) -> Page[MemberPublic]:
    """The tenant's members and their roles, by email."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return people.members(conn, principal.tenant_id)

    rows = await svc.db.run(read)
    return Page[MemberPublic](data=[_member(r) for r in rows], has_more=False, next_cursor=None)


async def _change(
    request: Request, svc: ServicesDep, principal: Principal, user_id: str, role: KeyRole | None
) -> None:
    def write() -> None:
        with svc.db.write() as conn:
            invitations.change_role(
                svc, conn, tenant_id=principal.tenant_id, user_id=user_id, role=role,
                actor=principal.actor(client_ip(request)), actor_role=principal.role,
            )  # fmt: skip

    await svc.db.run(write)


@router.patch("/v1/users/{user_id}", response_model=MemberPublic, responses=_ERRORS)
async def change_member_role(
    user_id: str, body: MemberUpdate, request: Request, svc: ServicesDep, principal: AdminDep
) -> MemberPublic:
    """Give a member another role (only an owner grants or removes `owner`; the last owner
    stays)."""
    await _change(request, svc, principal, user_id, body.role)

    def read() -> Row:
        with svc.db.read() as conn:
            return next(m for m in people.members(conn, principal.tenant_id) if m["id"] == user_id)

    return _member(await svc.db.run(read))


@router.delete("/v1/users/{user_id}", status_code=204, responses=_ERRORS)
async def remove_member(
    user_id: str, request: Request, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Remove a member from the tenant (their sessions in it end at once)."""
    await _change(request, svc, principal, user_id, None)
    return Response(status_code=204)
