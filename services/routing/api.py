"""Routing's HTTP routes: parse transport input, call one use case, map the answer."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from services.routing import dispositions, handovers, reps, rule_versions, service
from services.routing.dependencies import (
    ActiveRulesDep,
    DefaultCurrencyDep,
    ManagerDep,
    PreviewerDep,
    ReaderDep,
    RepOrManagerDep,
    acting_rep,
    actor,
)
from services.routing.errors import RuleSetRejected
from services.routing.lifecycle import NEXT_STATUSES
from services.routing.rules import RuleSet, RuleSetInvalid
from services.routing.schemas import (
    AbsenceCreate,
    AbsenceRead,
    AssignmentRead,
    DeclineCreate,
    DispositionCreate,
    DispositionRead,
    HandoverRead,
    HolidayPut,
    HolidayRead,
    ReassignCreate,
    RepCreate,
    RepRead,
    RepUpdate,
    RoutingPreview,
    RoutingPreviewCreate,
    RuleSetHealthRead,
    RuleSetVersionRead,
    TouchCreate,
)
from shared.authored import parse_body
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1")

Status = Annotated[list[str], Query(description="Assignment statuses to list.")]


@router.get("/reps", tags=["reps"], summary="Every rep with their standing in the rotation")
async def list_reps(session: SessionDep, principal: ReaderDep) -> list[RepRead]:
    return await reps.list_reps(session)


@router.post("/reps", tags=["reps"], status_code=status.HTTP_201_CREATED, summary="Add a rep")
async def register_rep(
    session: SessionDep, principal: ManagerDep, rules: ActiveRulesDep, rep: RepCreate
) -> RepRead:
    return await reps.register_rep(session, rules=rules, rep=rep, by=principal.subject)


@router.patch(
    "/reps/{rep_id}",
    tags=["reps"],
    summary="Switch a rep on or off, change weight, hours or cap (a rep: their own availability)",
)
async def update_rep(
    session: SessionDep,
    principal: RepOrManagerDep,
    rules: ActiveRulesDep,
    rep_id: uuid.UUID,
    changes: RepUpdate,
) -> RepRead:
    return await reps.update_rep(
        session,
        rules=rules,
        rep_id=rep_id,
        changes=changes,
        acting_rep=acting_rep(principal),
        by=principal.subject,
    )


@router.post(
    "/reps/{rep_id}/absences",
    tags=["reps"],
    status_code=status.HTTP_201_CREATED,
    summary="Book out-of-office time (a rep: their own)",
)
async def add_absence(
    session: SessionDep, principal: RepOrManagerDep, rep_id: uuid.UUID, absence: AbsenceCreate
) -> AbsenceRead:
    return await reps.add_absence(
        session, rep_id=rep_id, absence=absence, acting_rep=acting_rep(principal), by=principal.subject
    )


@router.get("/reps/{rep_id}/absences", tags=["reps"], summary="A rep's out-of-office ranges")
async def list_absences(
    session: SessionDep, principal: RepOrManagerDep, rep_id: uuid.UUID
) -> list[AbsenceRead]:
    return await reps.list_absences(session, rep_id=rep_id, acting_rep=acting_rep(principal))


@router.delete("/reps/{rep_id}/absences/{absence_id}", tags=["reps"], status_code=status.HTTP_204_NO_CONTENT)
async def remove_absence(
    session: SessionDep, principal: RepOrManagerDep, rep_id: uuid.UUID, absence_id: uuid.UUID
) -> None:
    await reps.remove_absence(
        session, rep_id=rep_id, absence_id=absence_id, acting_rep=acting_rep(principal), by=principal.subject
    )


@router.get("/reps/{rep_id}/queue", tags=["reps"], summary="A rep's open assignments, most urgent first")
async def rep_queue(
    session: SessionDep,
    principal: RepOrManagerDep,
    rep_id: uuid.UUID,
    status: Status = ["open"],  # noqa: B006
) -> list[AssignmentRead]:
    unknown = set(status) - NEXT_STATUSES.keys()
    if unknown:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{"loc": ("query", "status"), "msg": f"unknown status {sorted(unknown)}", "type": "enum"}]
        )
    return await dispositions.rep_queue(
        session, rep_id=rep_id, acting_rep=acting_rep(principal), statuses=status
    )


@router.get("/leads/{lead_id}/assignment", tags=["assignments"], summary="Who a lead is assigned to, and why")
async def get_lead_assignment(
    session: SessionDep, principal: ReaderDep, lead_id: uuid.UUID
) -> AssignmentRead:
    return await dispositions.get_lead_assignment(session, lead_id=lead_id, acting_rep=acting_rep(principal))


@router.post(
    "/assignments/{assignment_id}/disposition",
    tags=["assignments"],
    status_code=status.HTTP_201_CREATED,
    summary="Record an outcome: accepted, rejected (reason code), sql, won (amount), lost (reason), "
    "recycled (back to nurture)",
)
async def record_disposition(
    session: SessionDep,
    principal: RepOrManagerDep,
    currency: DefaultCurrencyDep,
    assignment_id: uuid.UUID,
    disposition: DispositionCreate,
) -> DispositionRead:
    return await dispositions.record_disposition(
        session,
        assignment_id=assignment_id,
        disposition=disposition,
        actor=actor(principal),
        recorded_by=principal.subject,
        default_currency=currency,
    )


@router.post(
    "/assignments/{assignment_id}/accept",
    tags=["assignments"],
    status_code=status.HTTP_201_CREATED,
    summary="Accept the lead: the disposition `accepted`",
)
async def accept_assignment(
    session: SessionDep, principal: RepOrManagerDep, currency: DefaultCurrencyDep, assignment_id: uuid.UUID
) -> DispositionRead:
    return await dispositions.record_disposition(
        session,
        assignment_id=assignment_id,
        disposition=DispositionCreate(outcome="accepted"),
        actor=actor(principal),
        recorded_by=principal.subject,
        default_currency=currency,
    )


@router.post(
    "/assignments/{assignment_id}/decline",
    tags=["assignments"],
    summary="Hand an open lead back: the rules route it to another rep (or the fallback queue)",
)
async def decline_assignment(
    session: SessionDep,
    principal: RepOrManagerDep,
    rules: ActiveRulesDep,
    assignment_id: uuid.UUID,
    decline: DeclineCreate,
) -> HandoverRead:
    return await handovers.decline_assignment(
        session,
        rules=rules,
        assignment_id=assignment_id,
        decline=decline,
        actor=actor(principal),
        by=principal.subject,
    )


@router.post(
    "/assignments/{assignment_id}/reassign",
    tags=["assignments"],
    summary="Move a lead to a named rep, or to whoever the rules pick next (managers and admins)",
)
async def reassign_assignment(
    session: SessionDep,
    principal: ManagerDep,
    rules: ActiveRulesDep,
    assignment_id: uuid.UUID,
    reassign: ReassignCreate,
) -> HandoverRead:
    return await handovers.reassign_assignment(
        session,
        rules=rules,
        assignment_id=assignment_id,
        reassign=reassign,
        actor=actor(principal),
        by=principal.subject,
    )


@router.post(
    "/assignments/{assignment_id}/touches",
    tags=["assignments"],
    status_code=status.HTTP_201_CREATED,
    summary="Log a call, email, meeting or message; the first one stops the SLA clock",
)
async def log_touch(
    session: SessionDep, principal: RepOrManagerDep, assignment_id: uuid.UUID, touch: TouchCreate
) -> AssignmentRead:
    return await dispositions.log_touch(
        session, assignment_id=assignment_id, touch=touch, actor=actor(principal)
    )


@router.post(
    "/routing/preview",
    tags=["routing"],
    summary="Run a lead through the rules without assigning it: which rule, who would get it, and why",
)
async def preview_assignment(
    session: SessionDep, principal: PreviewerDep, rules: ActiveRulesDep, preview: RoutingPreviewCreate
) -> RoutingPreview:
    return await service.preview_assignment(session, rules=rules, preview=preview)


_rule_set_body = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"$ref": "#/components/schemas/RuleSet"}}
            for media in ("application/yaml", "application/json")
        },
    }
}


async def _rule_set(request: Request) -> tuple[RuleSet, list[dict[str, Any]]]:
    """The rule set document in the body (YAML or JSON) with the problems its field types let
    through (the use case reports them with the team's), or a 422 listing every type error."""
    body = await request.body()
    try:
        return RuleSet.with_problems(parse_body(body, request.headers.get("content-type"), RuleSetInvalid))
    except RuleSetInvalid as exc:
        raise RuleSetRejected(f"{len(exc.errors)} error(s) in the rule set", errors=exc.errors) from exc


RuleSetDep = Annotated[tuple[RuleSet, list[dict[str, Any]]], Depends(_rule_set)]


@router.post(
    "/routing/rules",
    tags=["routing"],
    status_code=status.HTTP_201_CREATED,
    summary="Store a draft routing rule set (YAML or JSON); 422 lists every error with its path",
    openapi_extra=_rule_set_body,
)
async def create_rule_set(
    session: SessionDep, principal: ManagerDep, rules: ActiveRulesDep, draft: RuleSetDep
) -> RuleSetVersionRead:
    rule_set, problems = draft
    return await rule_versions.create_draft(
        session, rules=rules, draft=rule_set, problems=problems, author=principal.subject
    )


@router.get("/routing/rules", tags=["routing"], summary="Every stored routing rule set version")
async def list_rule_sets(session: SessionDep, principal: ManagerDep) -> list[RuleSetVersionRead]:
    return await rule_versions.list_versions(session)


@router.get(
    "/routing/rules/{version}",
    tags=["routing"],
    summary="One routing rule set version with its document (also the configured file's version)",
)
async def get_rule_set(
    session: SessionDep, principal: ManagerDep, rules: ActiveRulesDep, version: str
) -> RuleSetVersionRead:
    return await rule_versions.get_version(session, rules=rules, version=version)


@router.get(
    "/routing/health",
    tags=["routing"],
    summary="The rules routing uses now, checked against today's team: reps gone or off, pools nobody can take leads from",
)
async def rules_in_use_health(
    session: SessionDep, principal: ManagerDep, rules: ActiveRulesDep
) -> RuleSetHealthRead:
    return await rule_versions.health(session, rules=rules, version=None)


@router.get(
    "/routing/rules/{version}/health",
    tags=["routing"],
    summary="One rule set version checked against today's team (e.g. a draft before it is activated)",
)
async def rule_set_health(
    session: SessionDep, principal: ManagerDep, rules: ActiveRulesDep, version: str
) -> RuleSetHealthRead:
    return await rule_versions.health(session, rules=rules, version=version)


@router.post(
    "/routing/rules/{version}/activate",
    tags=["routing"],
    summary="Route with this draft from now on; the previous version is retired",
)
async def activate_rule_set(session: SessionDep, principal: ManagerDep, version: str) -> RuleSetVersionRead:
    return await rule_versions.activate(session, version=version, by=principal.subject)


@router.get("/holidays", tags=["holidays"], summary="Days the SLA clock does not run")
async def list_holidays(session: SessionDep, principal: ReaderDep) -> list[HolidayRead]:
    return await reps.list_holidays(session)


@router.put("/holidays/{day}", tags=["holidays"], summary="Declare a holiday (idempotent)")
async def set_holiday(
    session: SessionDep, principal: ManagerDep, day: date, holiday: HolidayPut
) -> HolidayRead:
    return await reps.set_holiday(session, day=day, name=holiday.name, by=principal.subject)


@router.delete("/holidays/{day}", tags=["holidays"], status_code=status.HTTP_204_NO_CONTENT)
async def remove_holiday(session: SessionDep, principal: ManagerDep, day: date) -> None:
    await reps.remove_holiday(session, day=day, by=principal.subject)
