"""`GET /v1/me`: who a token says its bearer is, and what that role may do in this service.

A newcomer holding a token otherwise learns their rights from 403s. The operations listed are
read from the routes' own role checks (`shared.auth.RoleCheck`), so the answer cannot drift from
what the service enforces; the README's role table gives the whole picture across services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from shared.auth import Principal, RoleCheck, current_principal

ME_PATH = "/v1/me"
ROLE_TABLE = "README.md#authentication"


class Operation(BaseModel):
    method: str
    path: str
    summary: str | None = None
    own_only: bool = Field(
        default=False,
        description="A rep (or a manager with a rep id) acts here on their own (team's) records only.",
    )


class MeRead(BaseModel):
    """The bearer of the token, as this service sees them."""

    subject: str
    role: str
    rep_id: uuid.UUID | None = None
    source_id: str | None = None
    service: str
    may: list[Operation] = Field(description="This service's operations that admit the role.")
    roles_documented_at: str = Field(
        default=ROLE_TABLE, description="The role table covering every service, in the README."
    )


def _role_checks(dependant: Dependant) -> Iterator[RoleCheck]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleCheck):
            yield dependency.call
        yield from _role_checks(dependency)


def _own_only(role: str, path: str) -> bool:
    # The role table's "own": a rep reaches only their own records by id; a manager acts on
    # their team's assignments (creating and changing reps is theirs outright).
    return (role == "rep" and "{" in path) or (role == "manager" and "/assignments/{" in path)


def operations_for(routes: Sequence[APIRoute], principal: Principal) -> list[Operation]:
    """The routes whose every role check admits the principal's role."""
    found: list[Operation] = []
    for route in routes:
        checks = list(_role_checks(route.dependant))
        if route.path == ME_PATH or not checks or not all(principal.role in c.roles for c in checks):
            continue
        own_only = _own_only(principal.role.value, route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append(
                Operation(
                    method=method, path=route.path, summary=route.summary or route.name, own_only=own_only
                )
            )
    return sorted(found, key=lambda op: (op.path, op.method))


def me_of(principal: Principal, *, service: str, routes: Sequence[APIRoute]) -> MeRead:
    """What `GET /v1/me` answers the principal on a service with these routes."""
    return MeRead(
        subject=principal.subject,
        role=principal.role.value,
        rep_id=principal.rep_id,
        source_id=principal.source_id,
        service=service,
        may=operations_for(routes, principal),
    )


def me_router(routers: Sequence[APIRouter]) -> APIRouter | None:
    """`GET /v1/me` over the service's `routers`, or None when one of them answers it already
    (routing answers with more: the rep's own queue)."""
    # The routers' own routes, not the app's: an app holds included routers lazily.
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    if any(route.path == ME_PATH and "GET" in (route.methods or ()) for route in routes):
        return None
    router = APIRouter(tags=["authentication"])

    @router.get(
        ME_PATH,
        response_model=MeRead,
        summary="Who this token belongs to and what its role may do here",
    )
    async def read_me(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> MeRead:
        return me_of(principal, service=request.app.state.settings.service_name, routes=routes)

    return router
