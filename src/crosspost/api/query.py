"""Refuse query parameters an endpoint does not declare: a misspelt filter (`?stauts=failed`)
would otherwise be ignored and answer as if it had not been sent."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from crosspost.errors import InvalidInput


def _declared(dependant: Dependant) -> frozenset[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return frozenset(names)


async def known_query_only(request: Request) -> None:
    """A dependency: 422 `unknown_query_parameter` naming the parameters the route takes.
    Async, though it never waits: a plain function would cost every request a thread hop."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "no query parameters"
        raise InvalidInput(
            f"unknown query parameter {', '.join(unknown)}; {request.method} "
            f"{route.path} takes: {takes}",
            code="unknown_query_parameter",
        )
