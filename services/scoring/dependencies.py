from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.scoring.agreement import ActiveRubric, Team
from services.scoring.rubric import Rubric
from services.scoring.settings import ScoringSettings
from shared.auth import Forbidden, Principal, Role, require_roles
from shared.runtime import SessionDep


def _active_rubric(request: Request) -> ActiveRubric:
    active: ActiveRubric = request.app.state.active_rubric
    return active


ActiveRubricDep = Annotated[ActiveRubric, Depends(_active_rubric)]


async def _current_rubric(active: ActiveRubricDep, session: SessionDep) -> Rubric:
    return await active.current(session)


CurrentRubric = Annotated[Rubric, Depends(_current_rubric)]

# Everyone inside the company may read scores and the rubric; lead sources may not.
Reader = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.REP, Role.MARKETING, Role.SALES))]
# A lead's score is read by the teams, not by reps: a rep sees the scores of their own leads in
# routing's queue, and scoring does not know who owns which lead.
LeadReader = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]
# Those who write rubrics may draft them and check drafts against the language.
RubricAuthor = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]

_TEAMS: dict[Role, Team] = {Role.MARKETING: "marketing", Role.SALES: "sales"}


async def _approver_team(
    # No admin: each approval speaks for a team (and `/v1/me` lists it for those two roles only).
    principal: Annotated[Principal, Depends(require_roles(Role.MARKETING, Role.SALES, admit_admin=False))],
) -> tuple[Principal, Team]:
    team = _TEAMS.get(principal.role)
    if team is None:
        raise Forbidden("approvals come from a marketing approver and a sales approver; this role is neither")
    return principal, team


Approver = Annotated[tuple[Principal, Team], Depends(_approver_team)]


def _settings(request: Request) -> ScoringSettings:
    settings: ScoringSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ScoringSettings, Depends(_settings)]
