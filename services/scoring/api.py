"""Scoring's HTTP routes: parse transport input, call one use case, map the answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status

from services.scoring import agreement, service
from services.scoring.backtest import BacktestReport, RubricDiff, diff_rubrics
from services.scoring.dependencies import (
    ActiveRubricDep,
    Approver,
    CurrentRubric,
    LeadReader,
    Reader,
    RubricAuthor,
    SettingsDep,
)
from services.scoring.errors import RubricRejected
from services.scoring.feedback_client import FeedbackClient
from services.scoring.rubric import Rubric, RubricInvalid
from services.scoring.schemas import RubricValidated, RubricVersionRead, ScoreHistory, ScoreRead, ShadowReport
from shared.authored import parse_body
from shared.contracts import utc_now
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.get("/leads/{lead_id}/score", summary="A lead's score, the rules that fired and the rubric version")
async def read_score(
    _: LeadReader,
    lead_id: uuid.UUID,
    session: SessionDep,
    rubric: CurrentRubric,
    as_of: Annotated[
        Literal["last_event", "now"],
        Query(description="`last_event`: the stored score; `now`: re-evaluated with decay up to now."),
    ] = "last_event",
) -> ScoreRead:
    if as_of == "now":
        return await service.get_current_score(session, rubric=rubric, lead_id=lead_id, now=utc_now())
    return await service.get_score(session, lead_id=lead_id)


@router.get("/leads/{lead_id}/score/history", summary="How a lead's score moved, and why")
async def read_score_history(
    _: LeadReader,
    lead_id: uuid.UUID,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ScoreHistory:
    return await service.get_score_history(session, lead_id=lead_id, limit=limit)


@router.get("/rubric", summary="The active rubric", response_model=Rubric)
async def read_rubric(rubric: CurrentRubric, _: Reader) -> Rubric:
    return rubric


@router.get("/rubric/schema", summary="JSON Schema of the rubric language")
async def read_rubric_schema(_: Reader) -> dict[str, Any]:
    return Rubric.model_json_schema()


_draft_body = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"$ref": "#/components/schemas/Rubric"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Rubric"}},
        },
    }
}


async def _draft(request: Request) -> Rubric:
    """The rubric document in the body (YAML or JSON), or a 422 listing every error."""
    body = await request.body()
    try:
        return Rubric.from_document(parse_body(body, request.headers.get("content-type"), RubricInvalid))
    except RubricInvalid as exc:
        raise RubricRejected(f"{len(exc.errors)} error(s) in the rubric", errors=exc.errors) from exc


DraftDep = Annotated[Rubric, Depends(_draft)]


@router.post(
    "/rubrics/validate",
    summary="Check a rubric document (YAML or JSON); 422 lists every error with its path",
    openapi_extra=_draft_body,
)
async def validate_rubric(_: RubricAuthor, draft: DraftDep) -> RubricValidated:
    return RubricValidated(
        version=draft.version,
        rule_counts={
            "fit": len(draft.fit),
            "negative": len(draft.negative),
            "engagement": len(draft.engagement),
        },
    )


@router.post(
    "/rubrics/diff",
    summary="Compare a draft with the active rubric, rule by rule",
    openapi_extra=_draft_body,
)
async def diff_rubric(_: RubricAuthor, draft: DraftDep, active: CurrentRubric) -> RubricDiff:
    return diff_rubrics(active, draft)


@router.post(
    "/rubrics/backtest",
    summary="Replay known leads through a draft and the active rubric; compare who qualifies",
    openapi_extra=_draft_body,
)
async def backtest_rubric(
    _: RubricAuthor,
    draft: DraftDep,
    active: CurrentRubric,
    session: SessionDep,
    max_leads: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> BacktestReport:
    return await service.backtest_draft(session, active=active, draft=draft, max_leads=max_leads)


@router.get("/rubrics", summary="Every rubric version: drafts, the active one, retired ones")
async def list_rubrics(_: Reader, session: SessionDep) -> list[RubricVersionRead]:
    return await agreement.list_versions(session)


@router.post(
    "/rubrics",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft rubric (YAML or JSON)",
    openapi_extra=_draft_body,
)
async def create_rubric(
    principal: RubricAuthor, draft: DraftDep, session: SessionDep, active: ActiveRubricDep
) -> RubricVersionRead:
    return await agreement.create_draft(session, draft=draft, author=principal.subject, active=active)


@router.get("/rubrics/{version}", summary="One rubric version with its approvals and re-scoring progress")
async def read_rubric_version(_: Reader, version: str, session: SessionDep) -> RubricVersionRead:
    return await agreement.get_version(session, version=version)


@router.put("/rubrics/{version}", summary="Edit a draft; withdraws its approvals", openapi_extra=_draft_body)
async def update_rubric(
    principal: RubricAuthor, version: str, draft: DraftDep, session: SessionDep
) -> RubricVersionRead:
    return await agreement.update_draft(session, version=version, draft=draft, actor=principal.subject)


@router.post(
    "/rubrics/{version}/approvals",
    summary="Approve a draft for your team (marketing or sales, from the caller's role)",
)
async def approve_rubric(approver: Approver, version: str, session: SessionDep) -> RubricVersionRead:
    principal, team = approver
    return await agreement.approve(session, version=version, team=team, approver=principal.subject)


@router.post(
    "/rubrics/{version}/activate",
    summary="Activate a draft both teams approved; re-scores every known lead in the background",
)
async def activate_rubric(principal: RubricAuthor, version: str, session: SessionDep) -> RubricVersionRead:
    return await agreement.activate(session, version=version, actor=principal.subject)


@router.put(
    "/rubrics/{version}/shadow", summary="Score live traffic with a draft, alongside the active rubric"
)
async def start_shadow(principal: RubricAuthor, version: str, session: SessionDep) -> RubricVersionRead:
    return await agreement.set_shadow(session, version=version, enabled=True, actor=principal.subject)


@router.delete("/rubrics/{version}/shadow", summary="Stop scoring live traffic with a draft")
async def stop_shadow(principal: RubricAuthor, version: str, session: SessionDep) -> RubricVersionRead:
    return await agreement.set_shadow(session, version=version, enabled=False, actor=principal.subject)


@router.get("/rubrics/{version}/shadow", summary="A shadowing draft's would-be MQLs next to the real ones")
async def read_shadow(_: Reader, version: str, session: SessionDep) -> ShadowReport:
    return await agreement.shadow_report(session, version=version)


@router.get("/rubrics/{version}/diff", summary="Compare a version with another (default: the active rubric)")
async def diff_rubric_version(
    _: Reader,
    version: str,
    session: SessionDep,
    active: ActiveRubricDep,
    against: Annotated[str | None, Query(description="The version to compare with.")] = None,
) -> RubricDiff:
    return await agreement.diff_versions(session, version=version, against=against, active=active)


@router.post("/rubrics/{version}/backtest", summary="Backtest a stored version against the active rubric")
async def backtest_rubric_version(
    _: RubricAuthor,
    version: str,
    session: SessionDep,
    active: ActiveRubricDep,
    current: CurrentRubric,
    max_leads: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> BacktestReport:
    draft = await active.version(session, version)
    return await service.backtest_draft(session, active=current, draft=draft, max_leads=max_leads)


@router.get(
    "/agreement/evidence",
    summary="Feedback's evidence for signing: measured rates with intervals, both scorecards, drift proposals",
    responses={502: {"description": "Feedback did not answer."}},
)
async def read_agreement_evidence(_: Reader, settings: SettingsDep, request: Request) -> dict[str, Any]:
    feedback_url = settings.feedback_url or settings.dashboard_url
    if feedback_url is None:
        return {"dashboard_configured": False}
    # The signer's own token goes to feedback: they see there exactly what they may see.
    feedback = FeedbackClient(feedback_url, authorization=request.headers["authorization"])
    return {"dashboard_configured": True, **await feedback.evidence()}
