"""The conditions of routing rules: four of the shared operators (`shared.conditions`) over the
lead fields rules may test, and the facts derived from them (region from country). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared import conditions

# Re-exported for the routing modules that import them from here (to go once they import
# `shared.conditions` themselves).
from shared.conditions import FieldValue as FieldValue
from shared.conditions import comparable as comparable
from shared.conditions import normalize as normalize

# What a rule may test: the lead snapshot scoring sends, the qualification (with the signed
# agreement's persona), and two derived
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
        "persona",
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Equals(conditions.Equals[LeadField]):
    """The field equals the value (strings compared case-insensitively)."""


class In(conditions.In[LeadField]):
    """The field equals one of the values (strings compared case-insensitively)."""


class Exists(conditions.Exists[LeadField]):
    """The field has a value (or, with `value: false`, has none)."""


class Range(conditions.Range[LeadField]):
    """The field, read as a number, lies within [min, max] (either bound may be left out)."""


Condition = Annotated[Equals | In | Exists | Range, Field(discriminator="op")]


def region_of(country: str) -> str | None:
    return next((region for region, countries in REGIONS.items() if country in countries), None)
