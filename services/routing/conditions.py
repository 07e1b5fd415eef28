"""The conditions of routing rules: four operators over the lead fields rules may test, and
the facts derived from them (region from country). Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool
FieldValue = str | int | float | bool | None

# What a rule may test: the lead snapshot scoring sends, the qualification, and two derived
# fields (region from country, segment from company size).
LEAD_FIELDS = frozenset(
    {
        "country",
        "region",
        "state",
        "company_size",
        "segment",
        "industry",
        "language",
        "product_interest",
        "grade",
        "score",
        "sla_tier",
        "source",
        "form_id",
        "job_title",
        "company",
        "account_id",
        "account_owner_id",
    }
)
# The lead facts a rep must hold as skills to take the lead (unless every rep holds them).
SKILL_FIELDS = ("language", "product_interest")

REGIONS: Mapping[str, frozenset[str]] = {
    region: frozenset(countries.split(" "))
    for region, countries in {
        "amer": "US CA MX BR AR CL CO PE UY EC VE CR PA GT DO PR",
        "emea": "GB IE DE FR NL BE LU ES PT IT CH AT SE NO DK FI IS PL CZ SK HU RO BG GR HR SI EE LV LT "
        "UA TR IL AE SA QA KW EG MA ZA NG KE",
        "apac": "JP CN HK TW KR SG MY TH VN PH ID IN AU NZ PK BD LK",
    }.items()
}


def _known_field(name: str) -> str:
    if name not in LEAD_FIELDS:
        raise ValueError(f"unknown lead field {name!r}; known fields: {', '.join(sorted(LEAD_FIELDS))}")
    return name


LeadField = Annotated[str, AfterValidator(_known_field)]


def normalize(value: Scalar) -> str:
    """One comparable text form: case-folded strings, 'true'/'false', integral floats as ints."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value.strip().casefold()


def comparable(value: FieldValue) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return normalize(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Equals(Strict):
    """The field equals the value (strings compared case-insensitively)."""

    field: LeadField
    op: Literal["equals"]
    value: Scalar

    def matches(self, value: FieldValue) -> bool:
        return comparable(value) == normalize(self.value)


class In(Strict):
    """The field equals one of the values (strings compared case-insensitively)."""

    field: LeadField
    op: Literal["in"]
    value: list[Scalar] = Field(min_length=1)

    @cached_property
    def _normalized(self) -> frozenset[str]:
        return frozenset(normalize(v) for v in self.value)

    def matches(self, value: FieldValue) -> bool:
        text = comparable(value)
        return text is not None and text in self._normalized


class Exists(Strict):
    """The field has a value (or, with `value: false`, has none)."""

    field: LeadField
    op: Literal["exists"]
    value: bool = True

    def matches(self, value: FieldValue) -> bool:
        return (comparable(value) is not None) == self.value


class Range(Strict):
    """The field, read as a number, lies within [min, max] (either bound may be left out)."""

    field: LeadField
    op: Literal["range"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("range needs at least one of min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is greater than max {self.max}")
        return self

    def matches(self, value: FieldValue) -> bool:
        if value is None or isinstance(value, bool):
            return False
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return False
        if math.isnan(number):
            return False
        return (self.min is None or number >= self.min) and (self.max is None or number <= self.max)


Condition = Annotated[Equals | In | Exists | Range, Field(discriminator="op")]


def region_of(country: str) -> str | None:
    return next((region for region, countries in REGIONS.items() if country in countries), None)
