"""The rep's own view: who they are, their queue and each lead's brief, without knowing their id.

Mounted before `api.router`, so `/v1/reps/me/queue` is matched before `/v1/reps/{rep_id}/queue`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from services.routing import briefs, reps
from services.routing.brief_schemas import LeadBriefRead
from services.routing.dependencies import ReaderDep, RepOrManagerDep, actor
from services.routing.lifecycle import NEXT_STATUSES
from services.routing.schemas import AssignmentRead, RepRead
from shared.auth import Forbidden, Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1")

RepDep = Annotated[Principal, Depends(require_roles(Role.REP))]
Status = Annotated[list[str], Query(description="Assignment statuses to list.")]


@router.get("/me", tags=["reps"], summary="The rep the token belongs to")
async def get_me(session: SessionDep, principal: RepDep) -> RepRead:
    # An admin passes every role check; only a token that names a rep has a record to answer.
    if principal.rep_id is None:
        raise Forbidden("this token names no rep: /v1/me answers a rep's own token")
    return await reps.get_rep(session, rep_id=principal.rep_id)


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
