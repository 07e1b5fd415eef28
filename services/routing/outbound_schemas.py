"""HTTP models of outbound webhooks and the CRM owner write-back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from services.routing.webhooks import SUBSCRIBABLE_EVENTS

CrmName = Literal["hubspot", "salesforce"]
DeliveryStatus = Literal["pending", "delivered", "dead"]
CrmSyncState = Literal["pending", "synced", "failed", "dead"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where deliveries are POSTed.")
    event_types: list[str] = Field(
        min_length=1, description=f"Event types to receive: any of {', '.join(SUBSCRIBABLE_EVENTS)}."
    )
    rep_ids: list[uuid.UUID] = Field(default_factory=list, description="Only these reps' leads (empty: all).")
    pools: list[str] = Field(
        default_factory=list, description="Only leads routed in these pools (empty: all)."
    )
    description: str | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _known_event_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SUBSCRIBABLE_EVENTS))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; subscribable: {list(SUBSCRIBABLE_EVENTS)}")
        return sorted(set(value))


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    rep_ids: list[uuid.UUID]
    pools: list[str]
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs deliveries."
    )
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret (`whsec_...`); shown only now and on rotation.")


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the old secret keeps signing beside the new one (0: stop at once).",
    )


class SecretRotated(BaseModel):
    secret: str
    previous_secret_expires_at: datetime | None


class WebhookAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryRead(BaseModel):
    id: uuid.UUID = Field(description="Also the `webhook-id` header: receivers deduplicate on it.")
    event_id: uuid.UUID
    event_type: str
    lead_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[WebhookAttemptRead]


class CrmIdentityPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crm: CrmName
    crm_user_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The rep's HubSpot owner id or Salesforce User id.",
    )


class CrmIdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rep_id: uuid.UUID
    crm: CrmName
    crm_user_id: str
    updated_at: datetime


class CrmSyncRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    lead_id: uuid.UUID
    crm: CrmName
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    crm_user_id: str
    state: CrmSyncState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    record_id: str | None = Field(description="The CRM's contact or Lead id, once found or created.")
    updated_at: datetime
    synced_at: datetime | None
