"""When a lead a rep already holds shows high intent again, in the agreement's terms: a
hand-raiser form or event, a visit to a page the agreement names (the pricing page unless it
names others), or a score that jumps by at least the agreement's threshold. Pure: each function
takes the facts and answers the reason to tell the rep, or None."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from services.routing.models import Assignment

# A rep holds a lead while it is open or accepted; past that (sql, won, lost...) there is no SLA
# and nothing to hurry for.
HELD_STATUSES = frozenset({"open", "accepted"})
PRICING_PATH = "/pricing"
DEFAULT_PAGES = (PRICING_PATH,)


def is_held_since(assignment: Assignment | None, happened_at: datetime) -> bool:
    """Whether the lead is held and this happened after it was assigned (what led to the
    qualification itself may be read after the assignment: it is not news to the rep)."""
    return (
        assignment is not None and assignment.status in HELD_STATUSES and happened_at > assignment.assigned_at
    )


def activity_reason(
    activity_type: str,
    properties: Mapping[str, str],
    *,
    pages: Collection[str] = DEFAULT_PAGES,
    hand_raiser_activities: Collection[str] = (),
) -> str | None:
    if activity_type in hand_raiser_activities:
        return f"raised a hand ({activity_type.replace('_', ' ')})"
    if activity_type != "page_view":
        return None
    path = properties.get("page_path", "")
    page = next((page for page in pages if page and page in path), None)
    if page is None:
        return None
    return "visited the pricing page" if page == PRICING_PATH else f"visited {page}"


def form_reason(*, is_hand_raiser: bool, form_id: str | None) -> str | None:
    if not is_hand_raiser:
        return None
    return f"asked to talk to sales (form {form_id})" if form_id else "asked to talk to sales"


def score_jump_reason(previous: float | None, score: float, *, threshold: float) -> str | None:
    if previous is None or score - previous < threshold:
        return None
    return f"its score jumped from {previous:g} to {score:g}"
