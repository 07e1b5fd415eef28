"""Feedback's routes for the signed agreement: both teams' scorecards, and the measured rates a
draft is planned with."""

from __future__ import annotations

from fastapi import APIRouter

from services.feedback import agreement
from services.feedback.agreement_schemas import (
    DriftProposalRead,
    DriftProposalsRead,
    PlanningRatesRead,
    ScorecardsRead,
)
from services.feedback.dependencies import FilterDep, ReaderDep, SettingsDep
from shared.contracts import utc_now
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1/agreement", tags=["agreement"])


@router.get(
    "/scorecards",
    summary="Marketing's and sales' scorecards side by side against the signed agreement, with the weekly trend",
)
async def get_scorecards(session: SessionDep, _: ReaderDep) -> ScorecardsRead:
    return ScorecardsRead.of(await agreement.scorecards_report(session, now=utc_now()))


@router.get(
    "/planning-rates",
    summary="The measured funnel rates with Wilson 95 % intervals and the average deal, to plan a draft with",
)
async def get_planning_rates(
    session: SessionDep, _: ReaderDep, where: FilterDep, settings: SettingsDep
) -> PlanningRatesRead:
    return PlanningRatesRead.of(await agreement.planning_evidence(session, where, fx=settings.fx()))


@router.get(
    "/proposals",
    summary="Drift proposals: measured rates outside the signed plan's intervals, and the revised commitment",
)
async def get_drift_proposals(session: SessionDep, _: ReaderDep) -> DriftProposalsRead:
    rows = await agreement.drift_proposals(session)
    return DriftProposalsRead(proposals=[DriftProposalRead.model_validate(r) for r in rows])
