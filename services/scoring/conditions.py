"""Rubric conditions: the six operators of the rule language (`shared.conditions`) over the
fields a rubric may name.

A fit rule only accepts lead-profile fields and an engagement rule only activity properties: a
misspelt field fails validation at load time instead of silently never matching.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shared.conditions import Contains, Equals, Exists, In, Range, Regex

PROFILE_FIELDS = frozenset(
    {
        "email",
        "email_domain",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "phone",
        "country",
        "company_size",
        "industry",
        "source",
        "consent",
    }
)
PROFILE_PREFIXES = ("attributes.", "utm.")

ACTIVITY_FIELDS = frozenset(
    {"form_id", "source", "page_path", "content_id", "campaign", "webinar_id", "hand_raiser"}
)
ACTIVITY_PREFIXES = ("utm.", "properties.")

ActivityType = Literal[
    "form_submission",
    "page_view",
    "content_download",
    "webinar_attended",
    "event_attended",
    "email_click",
]


def _known_field(known: frozenset[str], prefixes: tuple[str, ...], what: str) -> AfterValidator:
    def check(name: str) -> str:
        if name in known or any(name.startswith(p) and len(name) > len(p) for p in prefixes):
            return name
        allowed = ", ".join(sorted(known)) + ", " + ", ".join(f"{p}<name>" for p in prefixes)
        raise ValueError(f"unknown {what} field {name!r}; known fields: {allowed}")

    return AfterValidator(check)


ProfileField = Annotated[str, _known_field(PROFILE_FIELDS, PROFILE_PREFIXES, "lead")]
ActivityField = Annotated[str, _known_field(ACTIVITY_FIELDS, ACTIVITY_PREFIXES, "activity")]

# Concrete classes (not bare parametrizations) give the published JSON Schema readable names.


class ProfileEquals(Equals[ProfileField]):
    pass


class ProfileIn(In[ProfileField]):
    pass


class ProfileContains(Contains[ProfileField]):
    pass


class ProfileRegex(Regex[ProfileField]):
    pass


class ProfileRange(Range[ProfileField]):
    pass


class ProfileExists(Exists[ProfileField]):
    pass


class ActivityEquals(Equals[ActivityField]):
    pass


class ActivityIn(In[ActivityField]):
    pass


class ActivityContains(Contains[ActivityField]):
    pass


class ActivityRegex(Regex[ActivityField]):
    pass


class ActivityRange(Range[ActivityField]):
    pass


class ActivityExists(Exists[ActivityField]):
    pass


ProfileCondition = Annotated[
    ProfileEquals | ProfileIn | ProfileContains | ProfileRegex | ProfileRange | ProfileExists,
    Field(discriminator="op"),
]
ActivityCondition = Annotated[
    ActivityEquals | ActivityIn | ActivityContains | ActivityRegex | ActivityRange | ActivityExists,
    Field(discriminator="op"),
]
# Either kind, for the evaluators that test fit and engagement conditions alike.
Condition = ProfileCondition | ActivityCondition
