"""Rule conditions: the six operators of the rubric language and the fields they may name.

Conditions are generic over the field type, so a fit rule only accepts lead-profile fields and
an engagement rule only activity properties: a misspelt field fails validation at load time
instead of silently never matching.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | int | float | bool
FieldValue = str | int | float | bool | None

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

F = TypeVar("F", bound=str)


def normalize(value: Scalar) -> str:
    """One comparable text form: case-folded strings, 'true'/'false', integral floats as ints."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value.strip().casefold()


def _present(value: FieldValue) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def comparable(value: FieldValue) -> str | None:
    """The normalized text conditions compare, or None when the field has no value."""
    return normalize(value) if value is not None and _present(value) else None


class _Condition(BaseModel, Generic[F]):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: F

    def matches(self, value: FieldValue) -> bool:
        return self.test(value, comparable(value))

    def test(self, value: FieldValue, text: str | None) -> bool:
        """`matches` with `text = comparable(value)` computed once by the caller, per field."""
        raise NotImplementedError


class Equals(_Condition[F], Generic[F]):
    """The field equals the value (strings compared case-insensitively)."""

    op: Literal["equals"]
    value: Scalar

    @cached_property
    def _target(self) -> str:
        return normalize(self.value)

    def test(self, value: FieldValue, text: str | None) -> bool:
        return text == self._target


class In(_Condition[F], Generic[F]):
    """The field equals one of the values (strings compared case-insensitively)."""

    op: Literal["in"]
    value: list[Scalar] = Field(min_length=1)

    @cached_property
    def _normalized(self) -> frozenset[str]:
        return frozenset(normalize(v) for v in self.value)

    def test(self, value: FieldValue, text: str | None) -> bool:
        return text is not None and text in self._normalized


class Contains(_Condition[F], Generic[F]):
    """The field contains the text, or any of the texts (case-insensitive)."""

    op: Literal["contains"]
    value: str | list[str] = Field(min_length=1)

    @cached_property
    def _needles(self) -> tuple[str, ...]:
        texts = [self.value] if isinstance(self.value, str) else self.value
        return tuple(t.casefold() for t in texts)

    def test(self, value: FieldValue, text: str | None) -> bool:
        if text is None:
            return False
        return any(needle in text for needle in self._needles)


class Regex(_Condition[F], Generic[F]):
    """The pattern is found in the field (case-insensitive search, not a full match)."""

    op: Literal["regex"]
    value: str = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return pattern

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.value, re.IGNORECASE)

    def test(self, value: FieldValue, text: str | None) -> bool:
        if text is None:
            return False
        return self._pattern.search(value if isinstance(value, str) else text) is not None


class Range(_Condition[F], Generic[F]):
    """The field, read as a number, lies within [min, max] (either bound may be left out)."""

    op: Literal["range"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range[F]:
        if self.min is None and self.max is None:
            raise ValueError("range needs at least one of min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is greater than max {self.max}")
        return self

    def test(self, value: FieldValue, text: str | None) -> bool:
        if value is None or isinstance(value, bool):
            return False
        try:
            number = float(value)
        except ValueError:
            return False
        if math.isnan(number):
            return False
        return (self.min is None or number >= self.min) and (self.max is None or number <= self.max)


class Exists(_Condition[F], Generic[F]):
    """The field has a non-empty value (or, with `value: false`, has none)."""

    op: Literal["exists"]
    value: bool = True

    def test(self, value: FieldValue, text: str | None) -> bool:
        return (text is not None) == self.value


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
