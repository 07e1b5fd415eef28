"""The routing rule language: ordered rules over a lead's facts, each naming who takes the lead.

A rule set is a YAML (or JSON) document validated by these models. Rules are tried in order and
the first whose conditions all hold decides: the account's owner, a named rep, or a pool of
reps shared by weighted round-robin. The last rule must be a catch-all pool, so every lead
reaches a pool or that pool's fallback queue. Everything a rule names (fields, pools) is checked
at load time and every error is reported with its path; rep references are checked against the
team when a draft is stored. Pure: no database, no clock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from services.routing.conditions import (
    LEAD_FIELDS,
    SKILL_FIELDS,
    Condition,
    FieldValue,
    Strict,
    comparable,
    normalize,
    region_of,
)
from shared.authored import DocumentInvalid, load_yaml, validate_document

DEFAULT_RULE_SET = "default.yaml"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]


class RuleSetInvalid(DocumentInvalid):
    """The document is not a valid rule set; `errors` lists every problem with its path."""

    kind = "rule set"


IfUnavailable = Literal["next_rule", "queue"]


class AccountOwnerAction(Strict):
    """The lead's account owner. A lead without an owned account, or whose owner cannot take it
    now, goes on to the next rule (or, with `if_unavailable: queue`, waits for the owner)."""

    type: Literal["account_owner"]
    if_unavailable: IfUnavailable = "next_rule"


class RepAction(Strict):
    """One named rep (email or id)."""

    type: Literal["rep"]
    rep: str = Field(min_length=1, max_length=320)
    if_unavailable: IfUnavailable = "next_rule"


class PoolAction(Strict):
    """A pool: the lead goes to its next rep by weighted round-robin, or to its fallback queue."""

    type: Literal["pool"]
    pool: Slug


Action = Annotated[AccountOwnerAction | RepAction | PoolAction, Field(discriminator="type")]


class Rule(Strict):
    id: Slug
    description: str = ""
    when: list[Condition] = Field(default_factory=list, description="All must hold; none matches every lead.")
    action: Action

    def matches(self, facts: Mapping[str, FieldValue]) -> bool:
        return all(condition.matches(facts.get(condition.field)) for condition in self.when)


class PoolMember(Strict):
    rep: str = Field(min_length=1, max_length=320, description="The rep's email or id.")
    weight: int | None = Field(default=None, ge=1, le=1000, description="Default: the rep's own weight.")


class Pool(Strict):
    """A team or territory: a named set of reps, each with a weight, and its own fairness ledger."""

    id: Slug
    name: str = ""
    members: Literal["all"] | list[PoolMember] = Field(
        description="`all`: every rep, with their own weight; or a list of reps."
    )

    @model_validator(mode="after")
    def _members_once(self) -> Self:
        if isinstance(self.members, list):
            if not self.members:
                raise ValueError("a pool needs at least one member (or `members: all`)")
            repeated = sorted(r for r, n in Counter(m.rep.casefold() for m in self.members).items() if n > 1)
            if repeated:
                raise ValueError(f"a rep is listed twice: {', '.join(repeated)}")
        return self


class Segment(Strict):
    segment: Slug
    min_size: int = Field(ge=0, description="Smallest company size in the segment.")


DEFAULT_SEGMENTS = (
    Segment(segment="enterprise", min_size=1000),
    Segment(segment="mid_market", min_size=100),
    Segment(segment="smb", min_size=0),
)


class RuleSet(Strict):
    """One version of the routing rules."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)
    name: str
    description: str = ""
    segments: list[Segment] = Field(
        default_factory=lambda: list(DEFAULT_SEGMENTS),
        description="Company-size segments, largest first; `segment` is the first the size reaches.",
    )
    common_skills: list[str] = Field(
        default_factory=list,
        description="Skills every rep has (e.g. `en`): leads needing only these need no skilled rep.",
    )
    pools: list[Pool] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)

    def problems(self) -> list[dict[str, Any]]:
        """What the field types cannot check: unique ids, ordered segments, pools that exist,
        and a catch-all pool rule at the end; each problem with its path."""
        problems: list[dict[str, Any]] = []

        def problem(loc: list[str | int], msg: str) -> None:
            problems.append({"loc": loc, "msg": msg, "type": "rule_set"})

        ids: tuple[tuple[str, str, list[str]], ...] = (
            ("pool id", "pools", [p.id for p in self.pools]),
            ("rule id", "rules", [r.id for r in self.rules]),
        )
        for what, key, names in ids:
            for i, name in enumerate(names):
                if name in names[:i]:
                    problem([key, i, "id"], f"duplicate {what} {name!r}")
        sizes = [s.min_size for s in self.segments]
        if sizes != sorted(set(sizes), reverse=True):
            problem(["segments"], "segments must be listed largest first with strictly decreasing min_size")
        known = {p.id for p in self.pools}
        for i, rule in enumerate(self.rules):
            if isinstance(rule.action, PoolAction) and rule.action.pool not in known:
                problem(
                    ["rules", i, "action", "pool"],
                    f"unknown pool {rule.action.pool!r}; pools are {', '.join(sorted(known))}",
                )
        last = self.rules[-1]
        if last.when or not isinstance(last.action, PoolAction):
            problem(
                ["rules", len(self.rules) - 1],
                f"the last rule ({last.id}) must be a catch-all: no conditions and a pool action, "
                "so every lead reaches a pool",
            )
        return problems

    @classmethod
    def from_yaml(cls, text: str) -> Self:
        """Parse and validate a YAML (or JSON) document, raising `RuleSetInvalid` with every error."""
        return cls.from_document(load_yaml(text, RuleSetInvalid))

    @classmethod
    def from_document(cls, document: object) -> Self:
        rule_set, problems = cls.with_problems(document)
        if problems:
            raise RuleSetInvalid(problems)
        return rule_set

    @classmethod
    def with_problems(cls, document: object) -> tuple[Self, list[dict[str, Any]]]:
        """The document as a rule set and its `problems()`, raising `RuleSetInvalid` only when
        the field types fail: a draft can then be checked against the team too, so that every
        error is reported at once rather than one stage after the other."""
        rule_set = validate_document(cls, document, RuleSetInvalid, what="a rule set")
        return rule_set, rule_set.problems()

    def pool(self, pool_id: str) -> Pool:
        return next(p for p in self.pools if p.id == pool_id)

    @property
    def catch_all(self) -> Rule:
        return self.rules[-1]

    def matching(self, facts: Mapping[str, FieldValue]) -> Iterator[Rule]:
        """The rules that match, in order: the first decides unless it falls through."""
        return (rule for rule in self.rules if rule.matches(facts))

    def segment_of(self, company_size: int | None) -> str | None:
        if company_size is None:
            return None
        return next((s.segment for s in self.segments if company_size >= s.min_size), None)

    def facts(self, lead: Mapping[str, Any], **qualification: FieldValue) -> dict[str, FieldValue]:
        """What rules test: the lead snapshot's fields, the qualification's, and the derived ones."""
        facts: dict[str, FieldValue] = {
            name: _scalar(lead.get(name)) for name in LEAD_FIELDS if name not in {"region", "segment"}
        }
        facts.update({k: v for k, v in qualification.items() if v is not None})
        country = comparable(facts.get("country"))
        facts["region"] = region_of(country.upper()) if country else None
        size = facts.get("company_size")
        facts["segment"] = self.segment_of(
            size if isinstance(size, int) and not isinstance(size, bool) else None
        )
        return facts

    def required_skills(self, facts: Mapping[str, FieldValue]) -> frozenset[str]:
        """The skills a rep must hold to take this lead: its language and product interest,
        minus what every rep has."""
        common = {normalize(s) for s in self.common_skills}
        needed = {comparable(facts.get(name)) for name in SKILL_FIELDS}
        return frozenset(s for s in needed if s is not None and s not in common)


def missing_skills(required: frozenset[str], rep_skills: list[str] | tuple[str, ...]) -> list[str]:
    held = {normalize(s) for s in rep_skills}
    return sorted(required - held)


@dataclass(frozen=True)
class RepRef:
    """How a rule set names a rep: by id when the text is a UUID, else by email."""

    text: str

    @property
    def rep_id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.text)
        except ValueError:
            return None

    @property
    def email(self) -> str:
        return self.text.strip().lower()


def rep_references(rule_set: RuleSet) -> list[tuple[list[str | int], str]]:
    """Every rep the document names, with its path, so a draft can be checked against the team."""
    found: list[tuple[list[str | int], str]] = []
    for i, pool in enumerate(rule_set.pools):
        if isinstance(pool.members, list):
            found.extend((["pools", i, "members", j, "rep"], m.rep) for j, m in enumerate(pool.members))
    for i, rule in enumerate(rule_set.rules):
        if isinstance(rule.action, RepAction):
            found.append((["rules", i, "action", "rep"], rule.action.rep))
    return found


def _scalar(value: object) -> FieldValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    """The rule set at `path`, or the packaged default (one pool of every rep) when none is given."""
    if path is None:
        text = (files("services.routing.rulesets") / DEFAULT_RULE_SET).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return RuleSet.from_yaml(text)
