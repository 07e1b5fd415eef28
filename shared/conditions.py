"""The operators authored rules test lead fields with, and the one text form they compare.

Scoring's rubric and routing's rules are written in the same condition language: `equals`,
`in`, `contains`, `regex`, `range`, `exists`, comparing case-insensitively. The operators are
generic over the field's type, so each document narrows `field` to the names it knows (a
misspelt field fails validation at load time instead of silently never matching), and each
service subclasses the operators it offers under names of its own.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | int | float | bool
FieldValue = str | int | float | bool | None

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


def comparable(value: FieldValue) -> str | None:
    """The normalized text conditions compare, or None when the field has no value (blank text
    counts as none)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return normalize(value)


def in_range(value: FieldValue, low: float | None, high: float | None) -> bool:
    """Whether `value`, read as a number, lies within [low, high]; booleans, text that is no
    number and NaN never do."""
    if value is None or value.__class__ is bool:
        return False
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return False
    if math.isnan(number):
        return False
    return (low is None or number >= low) and (high is None or number <= high)


class Operator(BaseModel, Generic[F]):
    """A test of one field; `field` is the document's own field type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: F

    def matches(self, value: FieldValue) -> bool:
        return self.test(value, comparable(value))

    def test(self, value: FieldValue, text: str | None) -> bool:
        """`matches` with `text = comparable(value)` computed once by the caller, per field."""
        raise NotImplementedError


class Equals(Operator[F], Generic[F]):
    """The field equals the value (strings compared case-insensitively)."""

    op: Literal["equals"]
    value: Scalar

    @cached_property
    def _target(self) -> str:
        return normalize(self.value)

    def test(self, value: FieldValue, text: str | None) -> bool:
        return text == self._target


class In(Operator[F], Generic[F]):
    """The field equals one of the values (strings compared case-insensitively)."""

    op: Literal["in"]
    value: list[Scalar] = Field(min_length=1)

    @cached_property
    def _normalized(self) -> frozenset[str]:
        return frozenset(normalize(v) for v in self.value)

    def test(self, value: FieldValue, text: str | None) -> bool:
        return text is not None and text in self._normalized


class Contains(Operator[F], Generic[F]):
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


class Regex(Operator[F], Generic[F]):
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
        # Text is searched as written (not stripped or case-folded); IGNORECASE handles case.
        return self._pattern.search(value if isinstance(value, str) else text) is not None


class Range(Operator[F], Generic[F]):
    """The field, read as a number, lies within [min, max] (either bound may be left out)."""

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

    def test(self, value: FieldValue, text: str | None) -> bool:
        return in_range(value, self.min, self.max)


class Exists(Operator[F], Generic[F]):
    """The field has a non-empty value (or, with `value: false`, has none)."""

    op: Literal["exists"]
    value: bool = True

    def test(self, value: FieldValue, text: str | None) -> bool:
        return (text is not None) == self.value
