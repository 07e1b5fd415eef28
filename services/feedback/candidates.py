"""Points for a candidate rule set: rules a new data source suggests, with no points yet.

The tuner fits the same L2 logistic model as for a rubric's own rules, but a candidate has no
list yet: a profile candidate becomes a fit rule when its weight is positive and a negative rule
when it is negative. Engagement points are positive in the rubric language, so an engagement
candidate with a negative weight is dropped and the model refitted without it (the most negative
first) until every engagement weight is positive: the other rules then carry what it meant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from services.feedback.fitting import FittedModel, fit_keeping_positive
from shared.conditions import Exists, In, Range, comparable, in_range


def fit_with_positive_engagement(
    rows: Sequence[Sequence[float]],
    outcomes: Sequence[bool],
    *,
    rule_ids: Sequence[str],
    kinds: Mapping[str, str],
    regularization: float = 1.0,
) -> FittedModel | None:
    """The model over the candidates that survive the sign constraint on engagement."""
    return fit_keeping_positive(
        rows,
        outcomes,
        rule_ids=rule_ids,
        positive={r for r in rule_ids if kinds[r] == "engagement"},
        regularization=regularization,
    )


def candidate_points(
    model: FittedModel, kinds: Mapping[str, str], *, scale: float
) -> dict[str, tuple[str, int]]:
    """Points for candidate rules that have none yet (a new data source's columns): a profile
    candidate (`kinds[id] == "profile"`) becomes a fit rule when its weight is positive and a
    negative rule when it is negative; an engagement candidate keeps only a positive weight,
    since engagement points are positive. Candidates whose points round to 0 are left out."""
    placed = {}
    for rule_id, weight in zip(model.rule_ids, model.coefficients, strict=True):
        points = round(weight * scale)
        if points == 0 or (kinds[rule_id] == "engagement" and points < 0):
            continue
        kind = "engagement" if kinds[rule_id] == "engagement" else ("fit" if points > 0 else "negative")
        placed[rule_id] = (kind, points)
    return placed


# ---- Rule discovery: candidate rules from the profiles feedback holds -------------------------

# Profile fields of a lead a rubric may test, as scoring names them (`attributes.<name>` are the
# form's own answers). Names, email and phone are never kept: they describe a person, not a market.
DISCOVERABLE_FIELDS = (
    "source",
    "consent",
    "job_title",
    "country",
    "company_size",
    "industry",
    "state",
    "language",
    "product_interest",
    "email_domain",
)
NUMERIC_FIELDS = frozenset({"company_size"})
# Names of answers a CRM or a rep fills in after the lead reached sales: an outcome in disguise.
LEAKY_NAMES = ("status", "stage", "outcome", "converted", "owner", "quality", "tags", "score", "reason")
QUANTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class DiscoveryPolicy:
    """Guardrails of rule discovery, stated in every proposal that uses it."""

    min_support: int = 20
    min_share: float = 0.02
    max_rules_added: int = 5
    # A field filled for this much more of the judged leads than of the leads sales never saw
    # was filled after the outcome (by the CRM or the rep) and is refused.
    max_fill_gap: float = 0.3


def profile_of(ingested: Mapping[str, Any]) -> dict[str, Any]:
    """What feedback keeps of a `lead.ingested` payload for discovery: the fields a rubric may
    test (the email only as its domain) and the form's answers as `attributes.<name>`."""
    profile = {name: ingested.get(name) for name in DISCOVERABLE_FIELDS if name != "email_domain"}
    email = ingested.get("email")
    if isinstance(email, str) and "@" in email:
        profile["email_domain"] = email.rpartition("@")[2].lower()
    for name, value in (ingested.get("attributes") or {}).items():
        profile[f"attributes.{name}"] = value
    return {k: v for k, v in profile.items() if v is not None}


def _fields(profiles: Sequence[Mapping[str, Any]]) -> list[str]:
    attributes = sorted({k for p in profiles for k in p if k.startswith("attributes.")})
    return [*DISCOVERABLE_FIELDS, *attributes]


def _filled(profiles: Sequence[Mapping[str, Any]], field: str) -> float:
    return sum(comparable(p.get(field)) is not None for p in profiles) / len(profiles) if profiles else 0.0


def leaky_fields(
    judged: Sequence[Mapping[str, Any]], unjudged: Sequence[Mapping[str, Any]], policy: DiscoveryPolicy
) -> dict[str, str]:
    """Fields refused because they were (most likely) filled after the outcome, and why."""
    refused = {}
    for field in _fields([*judged, *unjudged]):
        name = field.removeprefix("attributes.").casefold()
        if any(word in name for word in LEAKY_NAMES):
            refused[field] = f"{field}: its name says a CRM or a rep fills it after the outcome"
            continue
        gap = _filled(judged, field) - _filled(unjudged, field)
        if unjudged and gap > policy.max_fill_gap:
            refused[field] = (
                f"{field}: filled for {gap:.0%} more of the judged leads than of the others "
                "(filled after sales saw them)"
            )
    return refused


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "blank"


def profile_candidates(
    profiles: Sequence[Mapping[str, Any]],
    *,
    refused: Iterable[str] = (),
    existing: Iterable[str] = (),
    policy: DiscoveryPolicy | None = None,
) -> list[dict[str, Any]]:
    """A value rule per frequent value of each categorical field and bands cut at the quantiles of
    each numeric one, each as a rubric rule at 0 points (`existing` ids are not reused)."""
    policy = policy or DiscoveryPolicy()
    floor = max(policy.min_support, policy.min_share * len(profiles))
    taken, skip = set(existing), set(refused)
    rules: list[dict[str, Any]] = []

    def add(field: str, label: str, when: dict[str, Any], description: str) -> None:
        rule_id = f"found-{_slug(field.removeprefix('attributes.'))}-{_slug(label)}"[:100]
        if rule_id not in taken:
            taken.add(rule_id)
            rules.append({"id": rule_id, "description": description, "when": when, "points": 0})

    for field in _fields(profiles):
        if field in skip:
            continue
        values = [p.get(field) for p in profiles]
        if field in NUMERIC_FIELDS:
            numbers = sorted(float(v) for v in values if v is not None and in_range(v, None, None))
            if len(numbers) < 2 * floor:
                continue
            cuts = sorted({float(numbers[int(q * len(numbers))]) for q in QUANTILES})
            edges = [None, *cuts, None]
            for low, high in pairwise(edges):
                top = None if high is None else high - 1
                if low is not None and top is not None and top < low:
                    continue
                inside = sum(in_range(v, low, top) for v in values)
                if inside >= floor:
                    label = f"{low or 0:g}-{'' if top is None else f'{top:g}'}"
                    when = {"field": field, "op": "range", "min": low, "max": top}
                    add(field, label, {k: v for k, v in when.items() if v is not None}, f"{field} {label}")
            continue
        spelled: dict[str, str | bool] = {}
        counts: Counter[str] = Counter()
        for value in values:
            text = comparable(value)
            if text is not None and isinstance(value, str | bool):
                spelled.setdefault(text, value.strip() if isinstance(value, str) else value)
                counts[text] += 1
        for text, n in sorted(counts.items()):
            if floor <= n < len(profiles):
                value = spelled[text]
                add(field, text, {"field": field, "op": "in", "value": [value]}, f"{field} is {value}")
        blank = len(profiles) - sum(counts.values())
        if floor <= blank <= len(profiles) - floor:
            add(field, "blank", {"field": field, "op": "exists", "value": False}, f"{field} left blank")
    return rules


_OPERATORS: Mapping[str, Any] = {"in": In[str], "range": Range[str], "exists": Exists[str]}


# Which property of an activity names what it was about, per activity type.
ACTIVITY_SUBJECTS: Mapping[str, str] = {"page_view": "page_path", "form_submission": "form_id"}
COUNT_STEPS = (1, 2, 3)


def activity_key(activity_type: str, properties: Mapping[str, str]) -> str:
    """The name an activity is counted under: its type and, for pages and forms, which one."""
    subject = ACTIVITY_SUBJECTS.get(activity_type)
    value = properties.get(subject) if subject else None
    return f"{activity_type} {value}" if value else activity_type


def activity_candidates(
    counts: Sequence[Mapping[str, int]],
    *,
    existing: Iterable[str] = (),
    policy: DiscoveryPolicy | None = None,
) -> list[dict[str, Any]]:
    """For each activity enough leads did, engagement rules counting each of its first k
    occurrences (k = 1, 2, 3) at 1 point, undecayed: together the model can weigh a second and
    a third visit differently from the first. Each rule's feature is min(count, k)."""
    policy = policy or DiscoveryPolicy()
    floor = max(policy.min_support, policy.min_share * len(counts))
    support = Counter(key for c in counts for key, n in c.items() if n > 0)
    taken = set(existing)
    rules = []
    for key, n in sorted(support.items()):
        if n < floor:
            continue
        activity_type, _, value = key.partition(" ")
        for k in COUNT_STEPS:
            rule_id = f"found-{_slug(key)}-first-{k}"[:100]
            if rule_id in taken:
                continue
            rule: dict[str, Any] = {
                "id": rule_id,
                "description": f"Each of the first {k} of {key}",
                "activity": activity_type,
                "points": 1,
                "max_occurrences": k,
            }
            if value:
                rule["when"] = {"field": ACTIVITY_SUBJECTS[activity_type], "op": "equals", "value": value}
            rules.append(rule)
    return rules


def activity_feature(rule: Mapping[str, Any], counts: Mapping[str, int]) -> float:
    """What an activity candidate scores at 1 point: its occurrences, up to `max_occurrences`."""
    when = rule.get("when")
    key = f"{rule['activity']} {when['value']}" if when else str(rule["activity"])
    return float(min(counts.get(key, 0), int(rule["max_occurrences"])))


def rule_test(rule: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a discovered rule fires for a stored profile, with scoring's own operators (so a
    rule in the draft fires in scoring exactly where discovery saw it fire). Parsed once."""
    when = rule["when"]
    conditions = [
        _OPERATORS[c["op"]].model_validate(c) for c in ([when] if isinstance(when, Mapping) else when)
    ]

    def test(profile: Mapping[str, Any]) -> bool:
        return all(c.matches(profile.get(c.field)) for c in conditions)

    return test
