"""Revenue attribution, as pure logic: which touches of a won lead get credit for its amount.

A touch is a lead's ingestion or an activity that carried campaign or UTM data. Three models,
side by side, because each answers a different question: first touch (what found the lead),
last touch (what closed the gap to the form or the deal), linear (everything that helped, in
equal shares). Touches after the win cannot have caused it and are left out; a won deal with
no touch at all is credited to `UNATTRIBUTED`, so every model adds up to the same revenue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

UNATTRIBUTED = "(no touchpoint)"
INGESTED = "ingested"
AD_KEYS = ("ad_name", "ad_id")

AttributionKey = Literal["source", "campaign"]


@dataclass(frozen=True)
class Touch:
    occurred_at: datetime
    kind: str
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    ad: str | None = None
    utm: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A digest of the touch's facts: the same touch from any delivery gets the same key."""
        facts = [
            self.occurred_at.astimezone(UTC).isoformat(),
            self.kind,
            self.source,
            self.medium,
            self.campaign,
            self.ad,
            sorted(self.utm.items()),
        ]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


@dataclass(frozen=True)
class WonDeal:
    won_at: datetime
    amount: Decimal
    touches: tuple[Touch, ...]
    currency: str | None = None


@dataclass
class Credit:
    key: str | None
    deals: int = 0
    first_touch: Decimal = Decimal(0)
    last_touch: Decimal = Decimal(0)
    linear: Decimal = Decimal(0)


def touch_from_ingestion(
    *, submitted_at: datetime, source: str, utm: Mapping[str, str], attributes: Mapping[str, str]
) -> Touch:
    """The ingestion as a touch: its UTM source when tagged (the channel), else where it came from."""
    return Touch(
        occurred_at=submitted_at,
        kind=INGESTED,
        source=utm.get("source") or source,
        medium=utm.get("medium"),
        campaign=utm.get("campaign"),
        ad=next((attributes[k] for k in AD_KEYS if attributes.get(k)), None) or utm.get("content"),
        utm=dict(utm),
    )


def touch_from_activity(
    *, occurred_at: datetime, activity_type: str, properties: Mapping[str, str]
) -> Touch | None:
    """An activity is a touch only when it carries campaign or UTM data (`utm.*`, `campaign`);
    a plain page view is engagement, not a marketing touch."""
    utm = {k.removeprefix("utm."): v for k, v in properties.items() if k.startswith("utm.") and v}
    campaign = utm.get("campaign") or properties.get("campaign") or None
    if not utm and campaign is None:
        return None
    return Touch(
        occurred_at=occurred_at,
        kind=activity_type,
        source=utm.get("source"),
        medium=utm.get("medium"),
        campaign=campaign,
        ad=next((properties[k] for k in AD_KEYS if properties.get(k)), None) or utm.get("content"),
        utm=utm,
    )


def attribute(deals: Iterable[WonDeal], *, by: Callable[[Touch], str | None]) -> list[Credit]:
    """Each deal's amount credited to the `by` value of its touches under the three models;
    the largest linear credit first (then by key)."""
    credits: dict[str | None, Credit] = {}

    def credit(key: str | None) -> Credit:
        return credits.setdefault(key, Credit(key))

    for deal in deals:
        touches = sorted(
            (t for t in deal.touches if t.occurred_at <= deal.won_at), key=lambda t: (t.occurred_at, t.key)
        )
        if not touches:
            row = credit(UNATTRIBUTED)
            row.deals += 1
            row.first_touch += deal.amount
            row.last_touch += deal.amount
            row.linear += deal.amount
            continue
        credit(by(touches[0])).first_touch += deal.amount
        credit(by(touches[-1])).last_touch += deal.amount
        share = deal.amount / len(touches)
        for touch in touches:
            credit(by(touch)).linear += share
        for key in {by(t) for t in touches}:
            credit(key).deals += 1
    return sorted(credits.values(), key=lambda c: (-c.linear, c.key is None, c.key or ""))


KEYS: Mapping[AttributionKey, Callable[[Touch], str | None]] = {
    "source": lambda t: t.source,
    "campaign": lambda t: t.campaign,
}
