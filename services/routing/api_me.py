"""The rep's own view: who they are, their queue and each lead's brief, without knowing their id.

Mounted before `api.router`, so `/v1/reps/me/queue` is matched before `/v1/reps/{rep_id}/queue`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from services.routing import briefs, reps
from services.routing.brief_schemas import LeadBriefRead
from services.routing.dependencies import ReaderDep, RepOrManagerDep, actor
from services.routing.lifecycle import NEXT_STATUSES
from services.routing.schemas import AssignmentRead, RepRead
from shared.auth import Principal, current_principal
from shared.me import MeRead, me_of
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1")

ReaderOfMe = Annotated[Principal, Depends(current_principal)]
Status = Annotated[list[str], Query(description="Assignment statuses to list.")]


class RoutingMeRead(MeRead):
    """The shared answer of `GET /v1/me`, plus the rep record when the token names a rep."""

    rep: RepRead | None = None


@router.get(
    "/me", tags=["authentication"], summary="Who this token belongs to, what it may do here, and its rep"
)
async def get_me(request: Request, principal: ReaderOfMe) -> RoutingMeRead:
    rep = None
    if principal.rep_id is not None:
        # Only a token that names a rep needs the database: the rest of the answer is the token's.
        async with request.app.state.db.transaction() as session:
            rep = await reps.get_rep(session, rep_id=principal.rep_id)
    routes = [route for route in request.app.routes if isinstance(route, APIRoute)]
    me = me_of(principal, service=request.app.state.settings.service_name, routes=routes)
    return RoutingMeRead(**me.model_dump(), rep=rep)


@router.get(
    "/reps/me/queue",
    tags=["reps"],
    summary="The caller's open leads with their briefs, most urgent first (a manager: the team's)",
)
async def my_queue(
    session: SessionDep,
    principal: RepOrManagerDep,
    status: Status = ["open", "accepted"],  # noqa: B006
) -> list[AssignmentRead]:
    unknown = set(status) - NEXT_STATUSES.keys()
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", "status"), "msg": f"unknown status {sorted(unknown)}", "type": "enum"}]
        )
    return await briefs.my_queue(session, actor=actor(principal), statuses=status)


@router.get(
    "/leads/{lead_id}/brief",
    tags=["assignments"],
    summary="Why the lead qualified, what it answered and what it did (a rep: only their own leads)",
)
async def get_lead_brief(session: SessionDep, principal: ReaderDep, lead_id: uuid.UUID) -> LeadBriefRead:
    return await briefs.get_brief(session, lead_id=lead_id, actor=actor(principal))
