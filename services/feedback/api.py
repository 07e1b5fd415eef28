"""Feedback's HTTP routes: the reports both teams read, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.feedback import agreement, proposals, service
from services.feedback.activation import AutoActivation
from services.feedback.attribution import AttributionKey
from services.feedback.dependencies import FilterDep, ReaderDep, SettingsDep
from services.feedback.funnel import Funnel
from services.feedback.hand_raiser_schemas import HandRaisersRead
from services.feedback.proposal_schemas import ProposalCreate, ProposalRead
from services.feedback.revenue_schemas import AttributionRead, ReverseFunnelRead
from services.feedback.schemas import (
    DraftReviewRead,
    DraftReviewsRead,
    FunnelGroupRead,
    FunnelGroupsRead,
    FunnelRead,
    GroupBy,
    MqlDeliveryRead,
    MqlMonthRead,
    ReasonsRead,
    SlaRead,
    SlaRowRead,
    SpeedRowRead,
    SpeedToLeadRead,
    TeamGroupBy,
)
from services.feedback.scoring_client import ScoringClient
from shared.contracts import utc_now
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1", tags=["reports"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

# `source` as a grouping is the channel, like the `channel` filter (the name predates the filter's).
GroupByQuery = Annotated[
    GroupBy,
    Query(
        description="Group by `source` (the channel: `form`, a webhook provider), `campaign`, `form_id`, "
        "`grade`, `rubric_version`, `rep_id`, `sla_tier` or `month`."
    ),
]
TeamGroupByQuery = Annotated[
    TeamGroupBy | None,
    Query(description="Split by `sla_tier`, `rep_id`, `source` (the channel), `campaign` or `month`."),
]


@router.get("/funnel", summary="Leads at each stage and the conversion between stages")
async def get_funnel(session: SessionDep, _: ReaderDep, where: FilterDep) -> FunnelRead:
    return FunnelRead.of(await service.funnel_report(session, where))


@router.get(
    "/funnel.csv",
    summary="The funnel as CSV: one row per stage with the conversion into it",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_funnel_csv(session: SessionDep, _: ReaderDep, where: FilterDep) -> Response:
    funnel = await service.funnel_report(session, where)
    return _csv(["stage", "count", "conversion_rate"], _funnel_rows(funnel), "funnel.csv")


@router.get("/funnel/groups", summary="The funnel per source, campaign, grade, rubric version, rep or month")
async def get_funnel_groups(
    session: SessionDep, _: ReaderDep, where: FilterDep, by: GroupByQuery
) -> FunnelGroupsRead:
    groups = await service.funnel_by(session, where, by=by)
    return FunnelGroupsRead(
        by=by,
        groups=[
            FunnelGroupRead(key=g.key, **FunnelRead.of(g.funnel).model_dump(by_alias=True)) for g in groups
        ],
    )


@router.get(
    "/funnel/groups.csv",
    summary="The grouped funnel as CSV: one row per group and stage",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_funnel_groups_csv(
    session: SessionDep, _: ReaderDep, where: FilterDep, by: GroupByQuery
) -> Response:
    groups = await service.funnel_by(session, where, by=by)
    rows = [[g.key or "", *row] for g in groups for row in _funnel_rows(g.funnel)]
    return _csv([by, "stage", "count", "conversion_rate"], rows, f"funnel-by-{by}.csv")


@router.get("/speed-to-lead", summary="p50/p95 of form→assignment and assignment→first touch")
async def get_speed_to_lead(
    session: SessionDep,
    _: ReaderDep,
    where: FilterDep,
    by: TeamGroupByQuery = None,
) -> SpeedToLeadRead:
    rows = await service.speed_to_lead(session, where, by=by)
    return SpeedToLeadRead(by=by, rows=[SpeedRowRead.of(r) for r in rows])


@router.get("/sla/first-touch", summary="Sales' SLA: share of assigned leads first touched in time")
async def get_first_touch_sla(
    session: SessionDep,
    _: ReaderDep,
    where: FilterDep,
    by: TeamGroupByQuery = None,
) -> SlaRead:
    rows = await service.sla_attainment(session, where, by=by, now=utc_now())
    return SlaRead(by=by, rows=[SlaRowRead.of(r) for r in rows])


@router.get("/sla/mql-delivery", summary="Marketing's SLA: MQLs delivered per month against the target")
async def get_mql_delivery(
    session: SessionDep, _: ReaderDep, where: FilterDep, settings: SettingsDep
) -> MqlDeliveryRead:
    signed = await agreement.signed_target(session, configured=settings.mql_monthly_target)
    months = await service.mql_delivery(session, where, monthly_target=signed.monthly_target)
    return MqlDeliveryRead(
        monthly_target=signed.monthly_target,
        agreement_version=signed.rubric_version,
        acceptance_commitment=signed.acceptance_commitment,
        months=[MqlMonthRead.of(m) for m in months],
    )


@router.get("/reasons", summary="Rejection and loss reasons, most frequent first (Pareto)")
async def get_reasons(session: SessionDep, _: ReaderDep, where: FilterDep) -> ReasonsRead:
    return ReasonsRead.of(await service.reasons_report(session, where))


@router.get(
    "/reports/attribution",
    summary="Won revenue by source or campaign: first-touch, last-touch and linear attribution",
)
async def get_attribution(
    session: SessionDep,
    _: ReaderDep,
    where: FilterDep,
    settings: SettingsDep,
    by: Annotated[
        AttributionKey,
        Query(description="Credit `source` (a touch's UTM source, else its channel) or `campaign`."),
    ] = "source",
) -> AttributionRead:
    report = await service.revenue_attribution(session, where, by=by, fx=settings.fx())
    return AttributionRead.of(report)


@router.get(
    "/reports/reverse-funnel",
    summary="From a revenue goal, the won deals, SQLs, MQLs and leads needed each month",
    responses={422: {"description": "Bad parameters, or a rate the history cannot measure yet."}},
)
async def get_reverse_funnel(
    session: SessionDep,
    _: ReaderDep,
    where: FilterDep,
    revenue_goal: Annotated[
        Decimal,
        Query(gt=0, le=Decimal("1e12"), decimal_places=2, description="Revenue to win over `months`."),
    ],
    settings: SettingsDep,
    months: Annotated[int, Query(ge=1, le=60, description="Months the goal covers.")] = 12,
) -> ReverseFunnelRead:
    plan = await service.reverse_funnel(
        session, where, revenue_goal=revenue_goal, months=months, fx=settings.fx()
    )
    return ReverseFunnelRead.of(plan)


@router.get(
    "/reports/proposals",
    tags=["tuning"],
    summary="Rubric drafts awaiting approval in scoring, with the outcome evidence for each changed rule",
    responses={502: {"description": "Scoring did not answer."}},
)
async def get_drafts_under_review(
    session: SessionDep, _: ReaderDep, where: FilterDep, settings: SettingsDep, request: Request
) -> DraftReviewsRead:
    if settings.scoring_url is None:
        return DraftReviewsRead(scoring_configured=False, drafts=[])
    # The reader's own token goes to scoring: they see there exactly what they may see.
    scoring = ScoringClient(settings.scoring_url, authorization=request.headers["authorization"])
    reviews = await service.review_drafts(session, where, scoring=scoring)
    return DraftReviewsRead(scoring_configured=True, drafts=[DraftReviewRead.of(r) for r in reviews])


@router.post(
    "/proposals",
    tags=["tuning"],
    summary="Propose a rubric from outcomes: a logistic model's points, per-rule evidence, a backtest",
)
async def create_proposal(
    session: SessionDep, principal: ReaderDep, where: FilterDep, body: ProposalCreate, settings: SettingsDep
) -> ProposalRead:
    version = body.version or _default_version(str(body.rubric.get("version", "rubric")))
    auto = AutoActivation(
        allowed=settings.tuning_auto_activate,
        max_points_change=settings.tuning_auto_max_points_change,
        max_bar_change=settings.tuning_auto_max_bar_change,
        max_volume_change=settings.tuning_auto_max_volume_change,
    )
    tuning = await proposals.propose_rubric(
        session,
        where,
        rubric=body.rubric,
        version=version,
        policy=body.policy(),
        method=body.method,
        auto=auto,
        actor=principal.subject,
    )
    return ProposalRead.of(tuning)


def _default_version(base: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{base[:40]}-tuned-{stamp}"


def _funnel_rows(funnel: Funnel) -> list[list[str]]:
    rows = []
    for s in funnel.stages:
        conversion = funnel.rate_into(s.stage)
        rows.append([s.stage.value, str(s.count), "" if conversion is None else f"{conversion:.6f}"])
    return rows


def _csv(header: list[str], rows: list[list[str]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/reports/hand-raisers",
    tags=["tuning"],
    summary="How hand-raiser MQLs convert per form, persona and grade, with 95 % Wilson intervals",
)
async def get_hand_raisers(session: SessionDep, _: ReaderDep, where: FilterDep) -> HandRaisersRead:
    return HandRaisersRead.of(await service.hand_raiser_conversion(session, where))
