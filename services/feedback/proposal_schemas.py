"""HTTP models of rubric proposals: the request's guardrails and the evidence in the answer."""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from services.feedback.activation import Tuning, TuningMethod
from services.feedback.backtest import Backtest
from services.feedback.fitting import FittedModel
from services.feedback.logistic import RulePoints
from services.feedback.schemas import IntervalRead
from services.feedback.tuning import Policy, RuleEvidence


class ProposalCreate(BaseModel):
    """Ask for a rubric proposal: the rubric to start from (scoring's `GET /v1/rubric`) and the
    guardrails; leads are chosen by the same query filters as the reports."""

    rubric: dict[str, Any] = Field(description="The rubric document to tune, as scoring returns it.")
    version: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        max_length=64,
        description="The draft's version; default `<rubric version>-tuned-<UTC timestamp>`.",
    )
    target_precision: float | None = Field(
        default=None, gt=0, lt=1, description="MQL→SQL rate the bar aims for; default 1.25x today's + 5 pts."
    )
    min_outcomes: int = Field(default=30, ge=1, description="Judged MQLs needed before anything is proposed.")
    min_rule_leads: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Judged MQLs a rule must have fired, and not fired, for before its points move.",
    )
    max_points_change: int = Field(
        default=10, ge=0, le=100, description="Largest change of one rule's points."
    )
    max_bar_change: int = Field(
        default=15, ge=0, le=100, description="Largest move of the qualification bar."
    )
    max_rules_added: int = Field(
        default=5, ge=0, le=50, description="Most rules discovered in the profiles one draft adds."
    )
    method: TuningMethod = Field(
        default="logistic",
        description="`logistic`: points from an L2 logistic model of SQL on the rules, the bar kept at "
        "today's MQL volume; `lift`: each rule moved by its own lift, the bar moved to `target_precision`.",
    )
    regularization: float = Field(
        default=1.0,
        gt=0,
        le=1000,
        description="Inverse L2 strength (C) of the logistic model; smaller is stronger.",
    )

    def policy(self) -> Policy:
        return Policy(
            min_outcomes=self.min_outcomes,
            min_rule_leads=self.min_rule_leads,
            max_points_change=self.max_points_change,
            max_bar_change=self.max_bar_change,
            max_rules_added=self.max_rules_added,
            target_precision=self.target_precision,
            regularization=self.regularization,
        )


class RuleEvidenceRead(BaseModel):
    rule_id: str
    kind: str
    points: float
    proposed_points: float
    verdict: str = Field(description="raise, lower, keep (no clear difference) or too few leads to tell.")
    leads: int = Field(description="Judged MQLs the rule fired for.")
    sql: int
    won: int
    revenue: float
    rate: float | None = Field(description="MQL→SQL rate of those leads.")
    interval: IntervalRead | None = Field(description="95 % Wilson interval of `rate`.")
    lift: float | None = Field(description="`rate` over the rate of every judged MQL.")
    model_points: float | None = Field(
        default=None,
        description="The logistic model's points before the change limit; null without evidence.",
    )
    clipped: bool = Field(default=False, description="`proposed_points` was held to `max_points_change`.")

    @classmethod
    def of(cls, row: RuleEvidence, points: RulePoints | None) -> RuleEvidenceRead:
        return cls(
            rule_id=row.rule_id,
            kind=row.kind,
            points=row.points,
            proposed_points=row.proposed_points,
            verdict=row.verdict,
            leads=row.leads,
            sql=row.sql,
            won=row.won,
            revenue=row.revenue,
            rate=row.rate,
            interval=IntervalRead.of(row.interval),
            lift=row.lift,
            model_points=None if points is None else points.model_points,
            clipped=False if points is None else points.clipped,
        )


class BarRead(BaseModel):
    grade: str = Field(description="The grade whose fit floor the loosest MQL criterion requires.")
    current: float
    proposed: float
    precision_before: float | None = Field(description="MQL→SQL rate of the evidence under the rubric as is.")
    precision_after: float | None = Field(description="The same, under the draft.")
    volume_kept: float | None = Field(description="Share of today's MQLs in the evidence the draft keeps.")


class ModelRead(BaseModel):
    outcome: str = Field(description="`sql` (an SQL or a win) or `won`.")
    samples: int = Field(description="Judged MQLs the model was fitted on.")
    positives: int
    regularization: float = Field(description="Inverse L2 strength (C).")
    intercept: float
    coefficients: dict[str, float] = Field(description="Log-odds per firing (per occurrence for engagement).")

    @classmethod
    def of(cls, model: FittedModel | None) -> ModelRead | None:
        if model is None:
            return None
        return cls(
            outcome=model.outcome,
            samples=model.samples,
            positives=model.positives,
            regularization=model.regularization,
            intercept=model.intercept,
            coefficients=dict(zip(model.rule_ids, model.coefficients, strict=True)),
        )


class BacktestRead(BaseModel):
    leads: int = Field(description="Scored leads replayed.")
    mqls_current: int
    mqls_draft: int
    volume_change: float | None = Field(description="mqls_draft / mqls_current - 1.")
    judged_current: int = Field(description="Judged MQLs today's rubric qualifies.")
    judged_draft: int = Field(description="Judged MQLs the draft still qualifies.")
    mql_to_sql_current: float | None
    mql_to_sql_draft: float | None = Field(description="Over the judged MQLs the draft keeps.")
    newly_qualified: int = Field(
        description="Draft MQLs today's rubric does not qualify: no evidence on them."
    )
    auc_current: float | None = Field(description="ROC-AUC of today's score for SQL over judged MQLs.")
    auc_draft: float | None

    @classmethod
    def of(cls, backtest: Backtest | None) -> BacktestRead | None:
        return None if backtest is None else cls.model_validate(backtest, from_attributes=True)


class ActivationRead(BaseModel):
    mode: Literal["approval", "auto"] = Field(
        description="`approval`: marketing and sales approve the draft in scoring; `auto`: feedback's "
        "policy flag allows activating it without them (it is within every auto limit)."
    )
    reasons: list[str] = Field(description="Why the draft needs approval.")


class ProposalRead(BaseModel):
    ready: bool = Field(description="A draft is proposed; otherwise `reasons` says why not.")
    reasons: list[str]
    outcomes: int = Field(description="Judged MQLs (rejected, SQL, won or lost) the evidence covers.")
    sql: int
    baseline_rate: float | None
    baseline_interval: IntervalRead | None
    target_precision: float | None
    rules: list[RuleEvidenceRead]
    bar: BarRead | None
    draft: dict[str, Any] | None = Field(description="The proposed rubric: submit it to scoring as a draft.")
    draft_yaml: str | None

    method: TuningMethod
    scale: float | None = Field(description="Points per unit of log-odds (logistic method).")
    model: ModelRead | None = Field(description="The SQL model the points come from.")
    won_model: ModelRead | None = Field(description="The same model fitted on wins, when there are enough.")
    backtest: BacktestRead | None = Field(description="The draft replayed on the stored facts.")
    engagement_scale: float = Field(
        default=1.0,
        description="How much the engagement points move overall; the draft's engagement minimums "
        "move by it, with the grade floors, to keep the MQL volume within the tolerance.",
    )
    held_back: list[str] = Field(
        default_factory=list, description="Which guardrail held back which change, and by how much."
    )
    discovered: list[RuleEvidenceRead] = Field(
        default_factory=list,
        description="Rules the rubric did not name, found in the leads' profiles and added by the "
        "draft: each with its support (`leads`), Wilson interval and lift.",
    )
    guardrails: list[str] = Field(
        default_factory=list, description="The guardrails of rule discovery, and the fields it refused."
    )
    activation: ActivationRead

    @classmethod
    def of(cls, tuning: Tuning) -> ProposalRead:
        result = tuning.result
        proposal = result.proposal
        bar = proposal.bar
        points = {p.rule_id: p for p in result.points}
        return cls(
            ready=proposal.ready,
            reasons=list(proposal.reasons),
            outcomes=proposal.outcomes,
            sql=proposal.sql,
            baseline_rate=proposal.baseline_rate,
            baseline_interval=IntervalRead.of(proposal.baseline_interval),
            target_precision=proposal.target_precision,
            rules=[RuleEvidenceRead.of(r, points.get(r.rule_id)) for r in proposal.rules],
            bar=None
            if bar is None
            else BarRead(
                grade=bar.grade,
                current=bar.current,
                proposed=bar.proposed,
                precision_before=bar.precision_before,
                precision_after=bar.precision_after,
                volume_kept=bar.volume_kept,
            ),
            draft=proposal.draft,
            draft_yaml=None
            if proposal.draft is None
            else yaml.safe_dump(proposal.draft, sort_keys=False, allow_unicode=True),
            method=tuning.method,
            scale=result.scale,
            model=ModelRead.of(result.sql_model),
            won_model=ModelRead.of(result.won_model),
            backtest=BacktestRead.of(result.backtest),
            engagement_scale=result.engagement_scale,
            held_back=list(result.held_back),
            discovered=[RuleEvidenceRead.of(r, None) for r in result.discovered],
            guardrails=list(result.guardrails),
            activation=ActivationRead(mode=tuning.activation.mode, reasons=list(tuning.activation.reasons)),
        )
