"""Backtest and diff: what a draft rubric would change, before anyone signs it.

Both are pure. The backtest replays each lead's stored activities through the active rubric
and the draft, evaluating at every activity's time, because qualification happens once, at the
first moment a lead meets the definition. Profiles are today's (the latest known values), so
fit reflects what we know now rather than what we knew then.

Outcomes come from sales' dispositions. Only leads the active rubric qualified were ever worked,
so a draft's newly qualified leads have no outcome yet: precision is measured on the leads with
one, and the report says how many that is.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.scoring.evaluation import Activity, Evaluation, Profile
from services.scoring.rubric import Rubric

SAMPLE_SIZE = 50
GOOD_OUTCOMES = frozenset({"accepted", "sql", "won"})
SQL_OUTCOMES = frozenset({"sql", "won"})
Section = Literal["fit", "negative", "engagement"]


@dataclass(frozen=True)
class LeadHistory:
    lead_id: uuid.UUID
    profile: Profile
    activities: Sequence[Activity]
    outcomes: frozenset[str] = frozenset()


class RubricOutcome(BaseModel):
    version: str
    mqls: int
    by_reason: dict[str, int]
    by_grade: dict[str, int]
    mqls_with_outcome: int = Field(description="MQLs sales recorded an outcome for.")
    mql_to_sql_rate: float | None = Field(
        description="MQLs that became SQL or won, over MQLs with an outcome."
    )
    precision: float | None = Field(description="MQLs accepted, SQL or won, over MQLs with an outcome.")
    recall: float | None = Field(description="Leads accepted, SQL or won that this rubric qualified.")


class BacktestReport(BaseModel):
    """The draft next to the active rubric over the same leads."""

    leads: int
    leads_with_good_outcome: int
    active: RubricOutcome
    draft: RubricOutcome
    newly_qualified: int
    dropped_out: int
    newly_qualified_sample: list[uuid.UUID] = Field(description=f"Up to {SAMPLE_SIZE} lead ids.")
    dropped_out_sample: list[uuid.UUID] = Field(description=f"Up to {SAMPLE_SIZE} lead ids.")


@dataclass
class _Tally:
    version: str
    mqls: set[uuid.UUID] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)
    grades: Counter[str] = field(default_factory=Counter)
    judged: int = 0
    good: int = 0
    sql: int = 0

    def add(self, history: LeadHistory, first_mql: Evaluation | None, last: Evaluation) -> None:
        self.grades[last.grade] += 1
        if first_mql is None:
            return
        self.mqls.add(history.lead_id)
        self.reasons[first_mql.qualification_reason or "unknown"] += 1
        if history.outcomes:
            self.judged += 1
            self.good += bool(history.outcomes & GOOD_OUTCOMES)
            self.sql += bool(history.outcomes & SQL_OUTCOMES)

    def outcome(self, good_leads: int) -> RubricOutcome:
        return RubricOutcome(
            version=self.version,
            mqls=len(self.mqls),
            by_reason=dict(sorted(self.reasons.items())),
            by_grade=dict(sorted(self.grades.items())),
            mqls_with_outcome=self.judged,
            mql_to_sql_rate=_ratio(self.sql, self.judged),
            precision=_ratio(self.good, self.judged),
            recall=_ratio(self.good, good_leads),
        )


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def replay(rubric: Rubric, history: LeadHistory) -> tuple[Evaluation | None, Evaluation | None]:
    """(the first qualifying evaluation, the last evaluation) over the lead's activity times."""
    first_mql: Evaluation | None = None
    last: Evaluation | None = None
    for moment in sorted({a.occurred_at for a in history.activities}):
        last = rubric.evaluate(history.profile, history.activities, now=moment)
        if first_mql is None and last.is_mql:
            first_mql = last
    return first_mql, last


def backtest(active: Rubric, draft: Rubric, histories: Iterable[LeadHistory]) -> BacktestReport:
    tallies = (_Tally(active.version), _Tally(draft.version))
    leads = good_leads = 0
    for history in histories:
        results = [replay(rubric, history) for rubric in (active, draft)]
        if any(last is None for _, last in results):
            continue
        leads += 1
        good_leads += bool(history.outcomes & GOOD_OUTCOMES)
        for tally, (first_mql, last) in zip(tallies, results, strict=True):
            assert last is not None
            tally.add(history, first_mql, last)
    gained = sorted(tallies[1].mqls - tallies[0].mqls)
    lost = sorted(tallies[0].mqls - tallies[1].mqls)
    return BacktestReport(
        leads=leads,
        leads_with_good_outcome=good_leads,
        active=tallies[0].outcome(good_leads),
        draft=tallies[1].outcome(good_leads),
        newly_qualified=len(gained),
        dropped_out=len(lost),
        newly_qualified_sample=gained[:SAMPLE_SIZE],
        dropped_out_sample=lost[:SAMPLE_SIZE],
    )


class RuleChange(BaseModel):
    section: Section
    rule_id: str
    change: Literal["added", "removed", "changed"]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class RubricDiff(BaseModel):
    """Rule-by-rule differences, plus the sections (grades, qualification, SLA...) that changed."""

    from_version: str
    to_version: str
    rules: list[RuleChange]
    changed_sections: list[str]


def diff_rubrics(old: Rubric, new: Rubric) -> RubricDiff:
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    rules: list[RuleChange] = []
    sections: tuple[Section, ...] = ("fit", "negative", "engagement")
    for section in sections:
        old_rules = {r["id"]: r for r in before[section]}
        new_rules = {r["id"]: r for r in after[section]}
        for rule_id in sorted(old_rules.keys() | new_rules.keys()):
            was, now = old_rules.get(rule_id), new_rules.get(rule_id)
            if was == now:
                continue
            change: Literal["added", "removed", "changed"] = (
                "added" if was is None else "removed" if now is None else "changed"
            )
            rules.append(RuleChange(section=section, rule_id=rule_id, change=change, before=was, after=now))
    other = [key for key in before if key not in sections and key != "version" and before[key] != after[key]]
    return RubricDiff(from_version=old.version, to_version=new.version, rules=rules, changed_sections=other)
