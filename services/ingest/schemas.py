"""HTTP models of ingest's API."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

MAX_ATTRIBUTE_LENGTH = 2000


class FormSubmissionCreate(BaseModel):
    """A form fill as a browser or a server posts it. Unknown fields are kept as attributes."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    email: EmailStr
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    job_title: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    industry: str | None = Field(default=None, max_length=200)
    consent: bool | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        # Browsers post empty inputs as "", which means "not given", not "the empty string".
        return None if value == "" else value

    def extra_fields(self) -> dict[str, str]:
        extras = self.model_extra or {}
        return {str(k): str(v)[:MAX_ATTRIBUTE_LENGTH] for k, v in extras.items() if v is not None}


class SubmissionAccepted(BaseModel):
    lead_id: uuid.UUID
    event_id: uuid.UUID
