"""HTTP models of feedback's reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.funnel import Funnel, Stage
from services.feedback.pareto import ParetoRow
from services.feedback.reports import Dimension, MqlMonth, Reasons, SlaShare, Speed
from services.feedback.review import DraftReview
from services.feedback.tuning import Interval

# Any report dimension; the team reports group by the ones below.
GroupBy = Dimension
TeamGroupBy = Literal["sla_tier", "rep_id", "source", "campaign", "month"]


class StageCountRead(BaseModel):
    """Leads that reached one funnel stage."""

    stage: Stage
    count: int


class ConversionRead(BaseModel):
    """The conversion from one stage to a later one: its rate and median time."""

    model_config = ConfigDict(populate_by_name=True)

    from_stage: Stage = Field(alias="from")
    to_stage: Stage = Field(alias="to")
    rate: float | None = Field(description="to / from; null when no lead reached `from`.")
    median_seconds: float | None = Field(
        description="Median time from `from` to `to` over leads with both recorded; null if none."
    )


class FunnelRead(BaseModel):
    """The funnel: leads at each stage and the conversions between them."""

    stages: list[StageCountRead]
    conversions: list[ConversionRead]

    @classmethod
    def of(cls, funnel: Funnel) -> FunnelRead:
        """The funnel computed by `funnel.funnel_from_signatures`."""
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
    """The funnel of the leads sharing one value of the grouping dimension."""

    key: str | None = Field(description="The dimension's value; null when the lead has none.")


class FunnelGroupsRead(BaseModel):
    """The funnel per value of one dimension, largest group first."""

    by: GroupBy
    groups: list[FunnelGroupRead]


class DurationRead(BaseModel):
    """Median and 95th percentile of one duration, over the leads that have it."""

    n: int = Field(description="Leads with both timestamps.")
    p50_s: float | None
    p95_s: float | None


class SpeedRowRead(BaseModel):
    """Speed to lead for one group: system time and human time."""

    key: str | None
    system: DurationRead = Field(description="Form submission to assignment.")
    human: DurationRead = Field(description="Assignment to the rep's first touch.")
    contact: DurationRead = Field(
        description="Assignment to the first real contact (a logged call, email or meeting; accepting is none)."
    )

    @classmethod
    def of(cls, row: Speed) -> SpeedRowRead:
        """A repository's speed row."""
        return cls(
            key=row.key,
            system=DurationRead(n=row.system_n, p50_s=row.system_p50_s, p95_s=row.system_p95_s),
            human=DurationRead(n=row.human_n, p50_s=row.human_p50_s, p95_s=row.human_p95_s),
            contact=DurationRead(n=row.contact_n, p50_s=row.contact_p50_s, p95_s=row.contact_p95_s),
        )


class SpeedToLeadRead(BaseModel):
    """Speed to lead, overall or per group."""

    by: TeamGroupBy | None
    rows: list[SpeedRowRead]


class SlaRowRead(BaseModel):
    """SLA attainment for one group: leads first touched in time, late, or not yet due."""

    key: str | None
    met: int
    missed: int = Field(description="Touched late, or untouched past the deadline.")
    pending: int = Field(description="Untouched, deadline not yet passed; not in the share.")
    share_met: float | None

    @classmethod
    def of(cls, row: SlaShare) -> SlaRowRead:
        """A tally with its share met."""
        return cls(key=row.key, met=row.met, missed=row.missed, pending=row.pending, share_met=row.share_met)


class SlaRead(BaseModel):
    """Sales' side of the agreement: SLA attainment, overall or per group."""

    by: TeamGroupBy | None
    rows: list[SlaRowRead]


class ReasonRead(BaseModel):
    """One rejection or loss reason with its share and running share (a Pareto row)."""

    reason: str
    count: int
    share: float
    cumulative_share: float

    @classmethod
    def of(cls, row: ParetoRow) -> ReasonRead:
        """A Pareto row."""
        return cls(reason=row.reason, count=row.count, share=row.share, cumulative_share=row.cumulative_share)


class ReasonsRead(BaseModel):
    """Why sales rejects leads and why deals are lost, most frequent first."""

    rejected: list[ReasonRead]
    lost: list[ReasonRead]

    @classmethod
    def of(cls, reasons: Reasons) -> ReasonsRead:
        """The reasons report's result."""
        return cls(
            rejected=[ReasonRead.of(r) for r in reasons.rejected],
            lost=[ReasonRead.of(r) for r in reasons.lost],
        )


class MqlMonthRead(BaseModel):
    """MQLs delivered in one month against the agreed monthly number."""

    month: str = Field(description="Calendar month (UTC) of qualification, YYYY-MM.")
    mqls: int = Field(description="First qualifications in the month.")
    target: int | None
    share_of_target: float | None
    re_mqls: int = Field(default=0, description="Re-MQLs: leads back from nurture that qualified again.")

    @classmethod
    def of(cls, row: MqlMonth) -> MqlMonthRead:
        """One month of MQL delivery."""
        return cls(
            month=row.month,
            mqls=row.mqls,
            target=row.target,
            share_of_target=row.share_of_target,
            re_mqls=row.re_mqls,
        )


class MqlDeliveryRead(BaseModel):
    """Marketing's side of the agreement: MQLs delivered each month."""

    monthly_target: int | None
    agreement_version: str | None = Field(
        default=None,
        description="The signed agreement the target comes from (its MQL commitment over its period); "
        "null when it comes from BATON_MQL_MONTHLY_TARGET or there is none.",
    )
    acceptance_commitment: float | None = Field(
        default=None, description="The agreement's quality commitment: the share of MQLs sales accepts."
    )
    months: list[MqlMonthRead]


class IntervalRead(BaseModel):
    """A confidence interval of a rate."""

    low: float
    high: float

    @classmethod
    def of(cls, interval: Interval | None) -> IntervalRead | None:
        """A Wilson interval, or None when there is none."""
        return None if interval is None else cls(low=interval.low, high=interval.high)


class ApprovalRead(BaseModel):
    """One team's approval of a rubric draft."""

    team: str
    approver: str
    approved_at: datetime


class RuleChangeRead(BaseModel):
    """One rule a draft adds, removes or changes, with the outcomes of the leads it fired for."""

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
    """A rubric draft awaiting approval, with the evidence both teams sign on."""

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
        """A draft with the evidence for each rule it changes."""
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
    """The rubric drafts awaiting approval, newest first."""

    scoring_configured: bool = Field(description="False when BATON_SCORING_URL is not set.")
    drafts: list[DraftReviewRead] = Field(description="Newest first.")
