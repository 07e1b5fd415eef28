"""HTTP models of feedback's reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.funnel import Funnel, Stage
from services.feedback.pareto import ParetoRow
from services.feedback.repository import Dimension, Speed
from services.feedback.review import DraftReview
from services.feedback.service import MqlMonth, Reasons, SlaShare
from services.feedback.tuning import Interval

GroupBy = Dimension
TeamGroupBy = Literal["sla_tier", "rep_id", "source", "campaign", "month"]


class StageCountRead(BaseModel):
    stage: Stage
    count: int


class ConversionRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_stage: Stage = Field(alias="from")
    to_stage: Stage = Field(alias="to")
    rate: float | None = Field(description="to / from; null when no lead reached `from`.")
    median_seconds: float | None = Field(
        description="Median time from `from` to `to` over leads with both recorded; null if none."
    )


class FunnelRead(BaseModel):
    stages: list[StageCountRead]
    conversions: list[ConversionRead]

    @classmethod
    def of(cls, funnel: Funnel) -> FunnelRead:
        return cls(
            stages=[StageCountRead(stage=s.stage, count=s.count) for s in funnel.stages],
            conversions=[
                ConversionRead(
                    from_stage=c.from_stage, to_stage=c.to_stage, rate=c.rate, median_seconds=c.median_s
                )
                for c in funnel.conversions
            ],
        )


class FunnelGroupRead(FunnelRead):
    key: str | None = Field(description="The dimension's value; null when the lead has none.")


class FunnelGroupsRead(BaseModel):
    by: GroupBy
    groups: list[FunnelGroupRead]


class DurationRead(BaseModel):
    n: int = Field(description="Leads with both timestamps.")
    p50_s: float | None
    p95_s: float | None


class SpeedRowRead(BaseModel):
    key: str | None
    system: DurationRead = Field(description="Form submission to assignment.")
    human: DurationRead = Field(description="Assignment to the rep's first touch.")

    @classmethod
    def of(cls, row: Speed) -> SpeedRowRead:
        return cls(
            key=row.key,
            system=DurationRead(n=row.system_n, p50_s=row.system_p50_s, p95_s=row.system_p95_s),
            human=DurationRead(n=row.human_n, p50_s=row.human_p50_s, p95_s=row.human_p95_s),
        )


class SpeedToLeadRead(BaseModel):
    by: TeamGroupBy | None
    rows: list[SpeedRowRead]


class SlaRowRead(BaseModel):
    key: str | None
    met: int
    missed: int = Field(description="Touched late, or untouched past the deadline.")
    pending: int = Field(description="Untouched, deadline not yet passed; not in the share.")
    share_met: float | None

    @classmethod
    def of(cls, row: SlaShare) -> SlaRowRead:
        return cls(key=row.key, met=row.met, missed=row.missed, pending=row.pending, share_met=row.share_met)


class SlaRead(BaseModel):
    by: TeamGroupBy | None
    rows: list[SlaRowRead]


class ReasonRead(BaseModel):
    reason: str
    count: int
    share: float
    cumulative_share: float

    @classmethod
    def of(cls, row: ParetoRow) -> ReasonRead:
        return cls(reason=row.reason, count=row.count, share=row.share, cumulative_share=row.cumulative_share)


class ReasonsRead(BaseModel):
    rejected: list[ReasonRead]
    lost: list[ReasonRead]

    @classmethod
    def of(cls, reasons: Reasons) -> ReasonsRead:
        return cls(
            rejected=[ReasonRead.of(r) for r in reasons.rejected],
            lost=[ReasonRead.of(r) for r in reasons.lost],
        )


class MqlMonthRead(BaseModel):
    month: str = Field(description="Calendar month (UTC) of qualification, YYYY-MM.")
    mqls: int
    target: int | None
    share_of_target: float | None

    @classmethod
    def of(cls, row: MqlMonth) -> MqlMonthRead:
        return cls(month=row.month, mqls=row.mqls, target=row.target, share_of_target=row.share_of_target)


class MqlDeliveryRead(BaseModel):
    monthly_target: int | None
    months: list[MqlMonthRead]


class IntervalRead(BaseModel):
    low: float
    high: float

    @classmethod
    def of(cls, interval: Interval | None) -> IntervalRead | None:
        return None if interval is None else cls(low=interval.low, high=interval.high)


class ApprovalRead(BaseModel):
    team: str
    approver: str
    approved_at: datetime


class RuleChangeRead(BaseModel):
    rule_id: str
    section: str
    change: str = Field(description="added, removed or changed.")
    points_before: float | None
    points_after: float | None
    leads: int = Field(description="Judged MQLs the rule fired for.")
    sql: int
    rate: float | None = Field(description="Their MQL→SQL rate.")
    interval: IntervalRead | None = Field(description="95 % Wilson interval of `rate`.")
    lift: float | None = Field(description="`rate` over the rate of every judged MQL.")


class DraftReviewRead(BaseModel):
    version: str
    created_by: str
    created_at: datetime
    approvals: list[ApprovalRead]
    missing_approvals: list[str]
    outcomes: int = Field(description="Judged MQLs behind the evidence.")
    sql: int
    changes: list[RuleChangeRead]

    @classmethod
    def of(cls, r: DraftReview) -> DraftReviewRead:
        d = r.draft
        return cls(
            version=d.version,
            created_by=d.created_by,
            created_at=d.created_at,
            approvals=[
                ApprovalRead(team=a.team, approver=a.approver, approved_at=a.approved_at) for a in d.approvals
            ],
            missing_approvals=list(d.missing_approvals),
            outcomes=r.outcomes,
            sql=r.sql,
            changes=[
                RuleChangeRead(
                    rule_id=c.change.rule_id,
                    section=c.change.section,
                    change=c.change.change,
                    points_before=c.change.points_before,
                    points_after=c.change.points_after,
                    leads=c.evidence.leads if c.evidence else 0,
                    sql=c.evidence.sql if c.evidence else 0,
                    rate=c.evidence.rate if c.evidence else None,
                    interval=IntervalRead.of(c.evidence.interval) if c.evidence else None,
                    lift=c.evidence.lift if c.evidence else None,
                )
                for c in r.changes
            ],
        )


class DraftReviewsRead(BaseModel):
    scoring_configured: bool = Field(description="False when BATON_SCORING_URL is not set.")
    drafts: list[DraftReviewRead] = Field(description="Newest first.")
