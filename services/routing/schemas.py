"""HTTP models of routing's API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.routing.brief_schemas import LeadBriefRead
from shared.contracts.events import LostReason, Outcome, RejectReason, TouchChannel

CURRENCY_PATTERN = r"^[A-Z]{3}$"


def _known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"


def _local_time(value: object) -> object:
    # Hours are wall-clock times in the rep's own time zone; an offset would silently shift them.
    if isinstance(value, str) and not re.fullmatch(LOCAL_TIME_PATTERN, value):
        raise ValueError("use a local HH:MM or HH:MM:SS without an offset (the rep's time zone applies)")
    return value


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    PlainSerializer(lambda t: t.strftime("%H:%M:%S"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN, "examples": ["09:00"]}),
]


class WorkingHours(BaseModel):
    """Local working hours; `end` before `start` means a shift across midnight."""

    start: LocalTime
    end: LocalTime
    days: list[int] = Field(default=[0, 1, 2, 3, 4], description="ISO weekdays minus one: 0 = Monday.")

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("days must be non-empty weekday numbers 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))


SlackUserId = Annotated[
    str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$", description="Slack member id to mention, e.g. U024BE7LH.")
]
SlackWebhookUrl = Annotated[
    str,
    Field(
        pattern=r"^https?://\S+$",
        max_length=2000,
        description="The rep's own Slack incoming webhook (a DM or their channel); never shown back.",
    ),
]
NotifyChannel = Literal["slack", "email"]


def _channels(value: list[str] | None) -> list[str] | None:
    return None if value is None else sorted(set(value))


class RepCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    active: bool = True
    weight: int = Field(default=1, ge=1, le=1000)
    timezone: str = "UTC"
    skills: list[str] = Field(default_factory=list, max_length=50)
    working_hours: WorkingHours | None = None
    max_open: int | None = Field(default=None, ge=0, description="Cap on open assignments.")
    max_per_day: int | None = Field(
        default=None, ge=0, description="Cap on new assignments per day, in the rep's own time zone."
    )
    manager_id: uuid.UUID | None = Field(
        default=None, description="The rep's manager, who is notified when the rep breaches an SLA."
    )
    slack_webhook_url: SlackWebhookUrl | None = None
    slack_user_id: SlackUserId | None = None
    notify_channels: list[NotifyChannel] = Field(
        default_factory=list,
        description="Where the rep is told of assignments, hand-overs and SLA reminders: `slack` (their "
        "webhook, else the team's with their mention), `email` (their email address).",
    )

    _tz = field_validator("timezone")(_known_timezone)
    _unique_channels = field_validator("notify_channels")(_channels)


class RepUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    weight: int | None = Field(default=None, ge=1, le=1000)
    timezone: str | None = None
    working_hours: WorkingHours | None = None
    max_open: int | None = Field(default=None, ge=0)
    max_per_day: int | None = Field(default=None, ge=0)
    skills: list[str] | None = Field(default=None, max_length=50)
    manager_id: uuid.UUID | None = None
    slack_webhook_url: SlackWebhookUrl | None = None
    slack_user_id: SlackUserId | None = None
    notify_channels: list[NotifyChannel] | None = None

    _unique_channels = field_validator("notify_channels")(_channels)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _known_timezone(value)


class AbsenceCreate(BaseModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ends_after_start(self) -> AbsenceCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AbsenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rep_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    note: str | None


class RepRead(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    active: bool
    weight: int
    timezone: str
    skills: list[str]
    working_hours: WorkingHours | None
    max_open: int | None
    max_per_day: int | None = None
    created_at: datetime
    assigned: int = Field(description="Leads assigned to this rep by round-robin so far, across pools.")
    manager_id: uuid.UUID | None = None
    paused_at: datetime | None = Field(
        default=None, description="When the SLA policy switched the rep off for repeated breaches."
    )
    paused_reason: str | None = None
    slack_user_id: str | None = None
    slack_webhook_set: bool = Field(
        default=False, description="Whether the rep has a Slack webhook of their own."
    )
    notify_channels: list[str] = Field(default_factory=list)


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    lead_id: uuid.UUID
    rep_id: uuid.UUID
    status: str
    sla_tier: str
    sla_due_at: datetime
    sla_breached_at: datetime | None
    assigned_at: datetime
    qualified_at: datetime
    first_touch_at: datetime | None
    first_contact_at: datetime | None = Field(
        default=None, description="The first logged call, email or meeting; accepting is not contact."
    )
    attempts: int = Field(default=0, description="Touches logged: the agreement's attempts before dropping.")
    contact_breached_at: datetime | None = None
    lead: dict[str, Any]
    strategy: str
    decision: dict[str, Any]
    brief: LeadBriefRead | None = Field(
        default=None, description="Why the lead qualified, its form answers and what it did."
    )


class DispositionCreate(BaseModel):
    """An outcome. `rejected` needs a `reason_code` from the fixed list; `lost` a loss code or a
    `note` (`other` with a note); `won` may carry an `amount` in a `currency` (ISO 4217; the
    service's default currency when omitted)."""

    outcome: Outcome
    reason_code: RejectReason | LostReason | None = Field(
        default=None,
        description="Rejected: bad_data, not_our_icp, no_budget, no_authority, no_need, student, "
        "competitor, duplicate, already_in_pipeline. Lost: price, competitor, no_decision, timing, "
        "product_fit, other.",
    )
    note: str | None = Field(default=None, max_length=2000, description="The rep's own words.")
    reason: str | None = Field(
        default=None,
        max_length=2000,
        deprecated=True,
        description="Deprecated: the free text, now `note`; read as `note` when that is absent.",
    )
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(
        default=None,
        pattern=CURRENCY_PATTERN,
        description="ISO 4217 code of `amount`; the service's default (BATON_DEFAULT_CURRENCY) if omitted.",
    )

    @model_validator(mode="before")
    @classmethod
    def _reason_is_the_note(cls, data: Any) -> Any:
        # Clients written before reason codes send their free text as `reason`.
        if isinstance(data, dict) and data.get("reason") is not None:
            if data.get("note") is not None:
                raise ValueError("give the free text as `note` only (`reason` is its deprecated name)")
            data = {**data, "note": data["reason"], "reason": None}
        return data

    @property
    def free_text(self) -> str | None:
        return self.note.strip() or None if self.note else None


class TouchCreate(BaseModel):
    channel: TouchChannel
    note: str | None = Field(default=None, max_length=2000)


class DispositionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    outcome: Outcome
    reason: str | None = Field(description="Why, readable: the note, else the label of the reason code.")
    reason_code: str | None = None
    note: str | None = None
    amount: Decimal | None
    currency: str | None = None
    recorded_at: datetime
    event_id: uuid.UUID


class DeclineCreate(BaseModel):
    """A rep hands an open lead back; the rules route it to someone else."""

    reason: str = Field(min_length=1, max_length=2000, description="Why the rep cannot take it.")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why the lead is handed back")
        return value.strip()


class ReassignCreate(BaseModel):
    """A manager moves a lead: to `rep_id`, or, without one, to whoever the rules pick next."""

    rep_id: uuid.UUID | None = Field(
        default=None, description="The rep to take the lead; omit to let the rules pick."
    )
    reason: str | None = Field(default=None, max_length=2000)


class HandoverRead(BaseModel):
    """Where a lead went when it changed hands: to a rep (`assignment.rep_id`), or, with nobody
    to take it, into the fallback queue (`queued`, `assignment.status` is `queued`)."""

    assignment: AssignmentRead
    from_rep_id: uuid.UUID
    to_rep_id: uuid.UUID | None = None
    queued: bool = False
    queue: str | None = Field(default=None, description="The fallback queue the lead waits in.")


class PreviewLead(BaseModel):
    """The lead as scoring's `lead.qualified` snapshot carries it, so an assignment's `lead` can
    be pasted in as it is. Rules test the fields below `last_name`; the others are accepted and
    ignored, and `grade` stands in for the top-level one when that is left out."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = None
    last_name: str | None = None
    grade: str | None = None
    country: str | None = None
    state: str | None = None
    company: str | None = None
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    industry: str | None = None
    job_title: str | None = None
    language: str | None = None
    product_interest: str | None = None
    source: str | None = None
    form_id: str | None = None
    account_id: uuid.UUID | None = None
    account_owner_id: uuid.UUID | None = None
    sealed: str | None = Field(
        default=None, description="The snapshot's sealed fields, opened already: ignored."
    )


class RoutingPreviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(default=None, description="When the lead would qualify; default now.")
    lead: PreviewLead = Field(default_factory=PreviewLead)
    grade: str | None = None
    score: float | None = None
    sla_tier: str | None = None

    def qualification(self) -> dict[str, str | float | None]:
        return {"grade": self.grade or self.lead.grade, "score": self.score, "sla_tier": self.sla_tier}


class RankedRep(BaseModel):
    rep_id: uuid.UUID
    rep_name: str | None = None
    weight: int | None = None
    share: float | None = Field(
        default=None, description="Credited assignments per unit of weight; lowest goes next."
    )
    last_assigned_at: datetime | None = None


class SkippedRep(BaseModel):
    rep_id: uuid.UUID
    rep_name: str | None = None
    reason: str = Field(
        description="inactive, missing_skill, away, capped, daily_cap, outside_hours or escalated_from."
    )
    missing: list[str] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="With missing_skill: the skills the rep lacks.",
    )


class PassedOverRule(BaseModel):
    rule: str
    rep_id: uuid.UUID | None = None
    rep_name: str | None = None
    reason: str = Field(description="no_account_owner, unknown_rep, or why the named rep was skipped.")


class RoutingPreview(BaseModel):
    """The decision trace routing would record: the rule that matched, the ranking, who is
    skipped and why, each rep named; and, when nobody can take the lead, the fallback queue
    it would wait in."""

    rules_version: str
    rule: str
    action: str = Field(description="account_owner, rep or pool.")
    pool: str | None = None
    strategy: str
    decided_at: datetime
    required_skills: list[str] = Field(default_factory=list)
    passed_over: list[PassedOverRule] = Field(default_factory=list)
    pool_level: float | None = None
    chosen: uuid.UUID | None = None
    chosen_name: str | None = None
    tie_break: str | None = None
    eligible: list[RankedRep]
    skipped: list[SkippedRep]
    queued: bool = Field(
        default=False, description="Nobody can take the lead now: it would wait in the fallback queue."
    )
    queue: str | None = Field(
        default=None,
        description="With `queued`: the fallback queue it would wait in (its pool, or rule:<id>).",
    )
    outcome: str = Field(default="", description="The answer in one sentence.")


class HolidayPut(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class HolidayRead(BaseModel):
    day: date
    name: str


class RuleSetFindingRead(BaseModel):
    """One place where the rules and the team have drifted apart."""

    loc: list[str | int] = Field(description="The path of the part of the rule set at fault.")
    problem: Literal["rep_unknown", "rep_off", "pool_without_active_rep", "rule_to_pool_without_active_rep"]
    detail: str


class RuleSetHealthRead(BaseModel):
    """A rule set checked against today's team: reps it names who are gone or switched off, and
    pools (and the rules that feed them) with nobody active to take a lead."""

    version: str
    in_use: bool = Field(description="Whether routing decides with this version now.")
    healthy: bool
    findings: list[RuleSetFindingRead]


class RuleSetVersionRead(BaseModel):
    """A routing rule set version: `draft`, `active`, `retired`, or `configured` (the file
    routing uses until a version is activated)."""

    version: str
    status: str
    name: str
    created_by: str
    created_at: datetime | None = None
    activated_at: datetime | None = None
    previous_version: str | None = Field(default=None, description="Set on activation: the version retired.")
    document: dict[str, Any] | None = None
