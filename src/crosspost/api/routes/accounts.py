"""/v1/accounts: the tenant's connected social accounts (never their tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import (
    AccountsWriteDep,
    PostsReadDep,
    ServicesDep,
    client_ip,
    require_flag,
)
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey, run_idempotently
from crosspost.domain.enums import Platform
from crosspost.domain.models import (
    AccountDisconnected,
    AccountImport,
    AccountPublic,
    BudgetPublic,
    ConnectLink,
    ConnectRequest,
)
from crosspost.engine.accounts import import_account
from crosspost.engine.connect import start_connect
from crosspost.engine.disconnect import disconnect_account
from crosspost.engine.pacing import account_budgets, budget_view
from crosspost.errors import NotFound
from crosspost.platforms.registry import client_for
from crosspost.store import accounts
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
_ERRORS = problem_responses(401, 404)
_IMPORT_ERRORS = problem_responses(401, 403, 415, 422)


def _public(row: Row) -> AccountPublic:
    granted = list(row["scopes"] or [])
    wanted = client_for(Platform(row["platform"])).oauth_scopes
    missing = [s for s in wanted if s not in granted] if granted else None
    return AccountPublic.model_validate({**row, "scopes_missing": missing})


@router.get("", response_model=list[AccountPublic], responses=_ERRORS)
async def list_accounts(svc: ServicesDep, principal: PostsReadDep) -> list[AccountPublic]:
    """Accounts usable with this key's mode (test keys see sandbox accounts only)."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return accounts.find_accounts(conn, principal.tenant_id, mode=principal.mode.value)

    rows = await svc.db.run(read)
    return [_public(r) for r in rows]


@router.get("/{account_id}", response_model=AccountPublic, responses=_ERRORS)
async def get_account(account_id: str, svc: ServicesDep, principal: PostsReadDep) -> AccountPublic:
    """One account: status, token expiry, scopes, last publish and last error, and where
    it stands in each of the platform's call budgets (used, remaining, when room comes
    back)."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return accounts.get_account(conn, principal.tenant_id, account_id)

    row = await svc.db.run(read)
    if row is None or row["mode"] != principal.mode.value:
        raise NotFound(f"no account {account_id!r}")
    standing = await svc.db.run(account_budgets, svc, row)
    budgets = [BudgetPublic.model_validate(budget_view(b)) for b in standing]
    return _public(row).model_copy(update={"budgets": budgets})


@router.delete("/{account_id}", response_model=AccountDisconnected, responses=_ERRORS)
async def disconnect(
    request: Request, account_id: str, svc: ServicesDep, principal: AccountsWriteDep
) -> AccountDisconnected:
    """Disconnect an account: revoke our access at the platform where it allows that
    (YouTube, X, LinkedIn, TikTok; the answer says when it does not), erase the stored
    credentials, and fail its targets still to publish with `account_disconnected`.
    Connecting it again later makes it active again."""
    require_flag(request, "accounts.disconnect", principal.tenant_id)
    actor = principal.actor(client_ip(request))
    # A thread of its own: the revocation is a call to the platform, which on SQLite (where
    # db.run works inline) would hold the event loop for its whole round trip.
    done = await run_in_threadpool(
        lambda: disconnect_account(
            svc,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            account_id=account_id,
            actor=actor,
        )
    )
    return AccountDisconnected(
        account_id=done.account["id"], status=done.account["status"],
        platform_revocation=done.platform_revocation, revocation_detail=done.revocation_detail,
        failed_targets=done.failed_targets,
    )  # fmt: skip


@router.post("", status_code=201, response_model=AccountPublic, responses=_IMPORT_ERRORS)
async def import_tokens(
    body: AccountImport,
    request: Request,
    svc: ServicesDep,
    principal: AccountsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Connect an account from tokens you already hold. The same platform user again is a
    reconnection (200): the new tokens replace the old and parked targets resume."""

    def work(idem: Idempotency) -> Response:
        account_id, created = import_account(
            svc, tenant_id=principal.tenant_id, mode=principal.mode, body=body
        )
        # Importing is itself idempotent (the same user is reconnected), so the answer may
        # be recorded after the import's own transaction without risking a second account.
        with svc.db.write() as conn:
            row = accounts.get_account(conn, principal.tenant_id, account_id)
            assert row is not None
            answer = _public(row).model_dump_json().encode()
            status = 201 if created else 200
            idem.finish(conn, status, answer)
        return Response(answer, status_code=status, media_type="application/json")

    # The import asks the platform who the token belongs to.
    return await run_idempotently(svc, principal, request, idempotency_key, work)


@router.post("/connect", status_code=201, response_model=ConnectLink, responses=_IMPORT_ERRORS)
async def connect(
    body: ConnectRequest, svc: ServicesDep, principal: AccountsWriteDep
) -> ConnectLink:
    """Start connecting an account by OAuth: send the user to `authorize_url`; the platform
    returns them to `/v1/oauth/callback`, which stores the account."""
    started = await svc.db.run(
        start_connect,
        svc,
        tenant_id=principal.tenant_id,
        mode=principal.mode,
        platform=body.platform,
        return_to=body.return_to,
    )
    return ConnectLink(authorize_url=started.authorize_url, expires_at=started.expires_at)
