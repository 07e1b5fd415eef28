"""HTTP models of ingest's API."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email

MAX_ATTRIBUTE_LENGTH = 2000
MAX_BATCH = 1000
ID_PATTERN = r"^[A-Za-z0-9._-]+$"
CANONICAL_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "job_title",
    "phone",
    "country",
    "company_size",
    "industry",
    "state",
    "language",
    "product_interest",
    "consent",
    "visitor_id",
    "page_url",
)


NO_CONTACT_POINT = "a lead needs an email or a phone number (or, from an ad platform, its lead id)"
# The validation context of a platform's lead (see `FormSubmissionCreate._reachable`).
PLATFORM_LEAD = {"platform_lead_id": True}


class FormSubmissionCreate(BaseModel):
    """A form fill as a browser or a server posts it: an email, a phone number or both. Unknown
    fields are kept as attributes."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    email: EmailStr | None = None
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    job_title: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    industry: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=100)
    language: str | None = Field(
        default=None, max_length=35, description="A language tag or name: de, pt-BR."
    )
    product_interest: str | None = Field(default=None, max_length=200)
    consent: bool | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        # Browsers post empty inputs as "", which means "not given", not "the empty string".
        return None if value == "" else value

    @model_validator(mode="after")
    def _reachable(self, info: ValidationInfo) -> FormSubmissionCreate:
        # A platform's lead carries the platform's own lead id, which identifies it on its own.
        identified = bool(info.context and info.context.get("platform_lead_id"))
        if self.email is None and self.phone is None and not identified:
            raise ValueError(NO_CONTACT_POINT)
        return self

    def extra_fields(self) -> dict[str, str]:
        extras = self.model_extra or {}
        return {str(k): str(v)[:MAX_ATTRIBUTE_LENGTH] for k, v in extras.items() if v is not None}


class SubmissionAccepted(BaseModel):
    lead_id: uuid.UUID
    event_id: uuid.UUID


class ValueTransform(BaseModel):
    """How an incoming field's value is read before it is mapped, for forms built for another
    system: a value table, then a boolean inversion, or a number range made one number."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, str | int | bool | None] = Field(
        default_factory=dict, description="A value table: incoming value -> the value Baton keeps."
    )
    invert: bool = Field(
        default=False,
        description="Read the value as a yes/no and keep its opposite (`emailOptOut=1` -> consent false).",
    )
    number_range: Literal["midpoint", "lower"] | None = Field(
        default=None,
        description="Read `50-200` as one number: the midpoint (125) or the lower bound (50). "
        "`1000+` reads as 1000 either way.",
    )


class FormCreate(BaseModel):
    """A form's configuration; posting an existing id replaces its configuration.

    A webhook provider's answers are mapped the same way: the form `<provider>` (`typeform`,
    `linkedin`, `facebook`, `google-ads`, `hubspot`, `webflow`, `unbounce`) maps all its leads,
    `<provider>.<platform form id>` one form's, keyed by the platform's name for each answer
    (a Typeform ref, a form builder's label, a Meta field or LinkedIn question name)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    field_map: dict[str, str] = Field(
        default_factory=dict,
        description="Incoming field name -> Baton field (" + ", ".join(CANONICAL_FIELDS) + ").",
    )
    utm_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Hidden incoming field -> UTM key (source, medium, campaign, term, content).",
    )
    is_hand_raiser: bool = False
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) browsers may post from; empty allows any.",
    )
    honeypot_field: str | None = Field(
        default="_gotcha", max_length=100, description="A hidden input humans leave empty."
    )
    success_url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://",
        description="Where a browser posting the form is sent (303) after its fill is accepted.",
    )
    allow_return_url: bool = Field(
        default=False,
        description="Send the browser to the post's own `retURL` (Salesforce Web-to-Lead's field) "
        "instead; it must be on one of `allowed_origins` when those are set.",
    )
    value_transforms: dict[str, ValueTransform] = Field(
        default_factory=dict, description="Incoming field name -> how its value is read."
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ValueError(f"{origin!r} is not an origin like https://www.example.com")
        return [o.lower() for o in origins]


class FormRead(FormCreate):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    updated_at: datetime


class SourceCreate(BaseModel):
    """A source and the scope of its API key: activity events as this source, or, with
    `form_ids`, submissions of those forms only (a server posting forms on users' behalf)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    form_ids: list[Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The forms this key may post submissions to; the key then posts no activity.",
    )
    rate_limit_per_minute: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Requests per minute for this key (per replica); the service default when unset.",
    )


class SourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    key_prefix: str
    form_ids: list[str] | None = None
    rate_limit_per_minute: float | None = None
    created_at: datetime
    revoked_at: datetime | None


class SourceCreated(SourceRead):
    api_key: str = Field(description="Shown once: only its hash is stored.")


ActivityType = Literal[
    "page_view",
    "pricing_page_view",
    "content_download",
    "webinar_registered",
    "webinar_attended",
    "event_attended",
    "email_open",
    "email_click",
    "trial_signup",
    "custom",
]


@functools.lru_cache(maxsize=65_536)
def _valid_email(value: str) -> str:
    return validate_email(value)[1]


# EmailStr's own check, remembered: an activity stream names the same people again and again, and
# the check is the largest cost of validating a batch. Failures are not cached (they raise).
KnownEmail = Annotated[
    str, AfterValidator(_valid_email), WithJsonSchema({"type": "string", "format": "email"})
]


class ActivityCreate(BaseModel):
    """One activity: who (a visitor id, an email or both), what and when."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: ActivityType
    occurred_at: datetime | None = Field(default=None, description="Defaults to the time of receipt.")
    visitor_id: str | None = Field(default=None, min_length=1, max_length=200)
    email: KnownEmail | None = None
    url: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=200, description="What a `custom` activity is.")
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _someone_did_it(self) -> ActivityCreate:
        if self.visitor_id is None and self.email is None:
            raise ValueError("an activity needs a visitor_id, an email or both")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at needs a time zone")
        return self


class ActivityBatch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class ValidActivityBatch(BaseModel):
    """An `ActivityBatch` whose every item is valid: what most batches are, so the route tries
    this first, straight from the JSON body (the items parsed and validated in one pass)."""

    events: list[ActivityCreate] = Field(min_length=1, max_length=MAX_BATCH)


class ActivityResult(BaseModel):
    index: int
    status: Literal["accepted", "rejected"]
    reason: str | None = None
    lead_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = Field(default=None, description="Null while the visitor is anonymous.")


class ActivityBatchResult(BaseModel):
    accepted: int
    rejected: int
    results: list[ActivityResult]


class LeadNotFetched(BaseModel):
    """A platform lead the platform's API refused for good (deleted, unreadable with this token):
    acknowledged, so the platform stops retrying it, with the reason."""

    external_id: str
    reason: str


class WebhookAccepted(BaseModel):
    provider: str
    leads: list[SubmissionAccepted] = Field(default_factory=list)
    duplicates: int = 0
    erased: int = 0
    not_fetched: list[LeadNotFetched] = Field(
        default_factory=list, description="Leads the platform's API refused for good, with the reason."
    )
    quarantine_id: uuid.UUID | None = Field(
        default=None,
        description="Set when the delivery could not be mapped: it is kept whole, to be replayed "
        "(POST /v1/quarantine/{id}/replay); answered 2xx so the platform does not retry it.",
    )
    quarantine_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Every lead of the delivery that was quarantined (a Meta delivery may carry "
        "several leads; the others are still accepted). `quarantine_id` is the first of them.",
    )


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class ErasureDone(BaseModel):
    lead_id: uuid.UUID


class AccountCreate(BaseModel):
    """An account, known by its company's email domain; posting a known domain updates it."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=3, max_length=255, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    name: str = Field(min_length=1, max_length=300)
    owner_id: uuid.UUID | None = Field(default=None, description="The rep who owns the account.")


class AccountRead(AccountCreate):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime


class QuarantinedDeliveryRead(BaseModel):
    """An authenticated delivery that could not be mapped to a lead, kept whole."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: str = Field(description="The platform it came from (the webhook's provider).")
    reason: str = Field(description="unmappable, invalid_fields or no_contact_point.")
    detail: dict[str, Any] = Field(description="What could not be mapped: the message and field errors.")
    body: str = Field(description="The raw body as received (UTF-8; undecodable bytes replaced).")
    params: dict[str, str] = Field(description="The request parameters the platform's parser reads.")
    received_at: datetime
    replayed_at: datetime | None = None
    lead_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None

    @field_validator("body", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class QuarantineReplay(BaseModel):
    """How to read the delivery this time: the mapping fixed since it was quarantined."""

    model_config = ConfigDict(extra="forbid")

    field_map: dict[str, str] = Field(
        default_factory=dict,
        description="The platform's field name -> Baton field, applied on top of the provider's own "
        "mapping (" + ", ".join(CANONICAL_FIELDS) + ").",
    )


class QuarantineReplayed(BaseModel):
    id: uuid.UUID
    status: Literal["replayed", "already_replayed"] = Field(
        description="already_replayed: an earlier replay made the lead; this one changed nothing."
    )
    lead_id: uuid.UUID
    event_id: uuid.UUID


class ImportRowResult(BaseModel):
    row: int = Field(description="The row's number in the file, its header not counted (first row: 1).")
    status: Literal["created", "duplicate", "rejected"] = Field(
        description="duplicate: an earlier import (or run) already brought this row; nothing new."
    )
    lead_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = Field(default=None, description="The `lead.ingested` announced (live mode).")
    errors: list[dict[str, Any]] = Field(default_factory=list)


class ImportResult(BaseModel):
    mode: Literal["live", "history"]
    created: int
    duplicates: int
    rejected: int
    rows: list[ImportRowResult]
