"""HTTP models of the hand-raiser report."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.feedback.hand_raisers import Conversion, HandRaiserReport
from services.feedback.schemas import IntervalRead


class ConversionRead(BaseModel):
    key: str | None = Field(description="The form id, persona or grade; null when the lead has none.")
    mqls: int
    judged: int = Field(description="MQLs sales has decided on: rejected, SQL, won or lost.")
    sql: int = Field(description="Judged MQLs that became SQLs (or won).")
    won: int
    rate: float | None = Field(description="MQL→SQL rate of the judged MQLs.")
    interval: IntervalRead | None = Field(description="95 % Wilson interval of `rate`.")
    lift: float | None = Field(description="`rate` over the rate of every judged MQL.")

    @classmethod
    def of(cls, row: Conversion) -> ConversionRead:
        return cls(
            key=row.key,
            mqls=row.mqls,
            judged=row.judged,
            sql=row.sql,
            won=row.won,
            rate=row.rate,
            interval=IntervalRead.of(row.interval),
            lift=row.lift,
        )


class HandRaisersRead(BaseModel):
    """Hand-raiser MQLs (a hand-raiser form or event qualified them at once) and how they convert."""

    baseline_rate: float | None = Field(description="MQL→SQL of every judged MQL: the lifts' base.")
    hand_raisers: ConversionRead = Field(description="Every hand-raiser MQL.")
    by_threshold: ConversionRead = Field(description="The MQLs that qualified by grade and score.")
    by_form: list[ConversionRead] = Field(description="Hand-raiser MQLs per form they arrived through.")
    by_persona: list[ConversionRead] = Field(description="Hand-raiser MQLs per agreement persona.")
    by_grade: list[ConversionRead] = Field(
        description="Hand-raiser MQLs per grade when they qualified: the evidence for `hand_raiser_min_grade`."
    )

    @classmethod
    def of(cls, report: HandRaiserReport) -> HandRaisersRead:
        return cls(
            baseline_rate=report.baseline_rate,
            hand_raisers=ConversionRead.of(report.hand_raisers),
            by_threshold=ConversionRead.of(report.by_threshold),
            by_form=[ConversionRead.of(r) for r in report.by_form],
            by_persona=[ConversionRead.of(r) for r in report.by_persona],
            by_grade=[ConversionRead.of(r) for r in report.by_grade],
        )
