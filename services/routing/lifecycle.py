"""The assignment lifecycle: which outcome may follow which status. Pure."""

from __future__ import annotations

from typing import Final

from services.routing.errors import DispositionInvalid, IllegalTransition
from shared.contracts import Outcome

# A lead must be accepted before it can progress, and a closed one (rejected, won, lost) stays closed.
NEXT_STATUSES: Final[dict[str, frozenset[str]]] = {
    "open": frozenset({"accepted", "rejected"}),
    "accepted": frozenset({"sql", "rejected", "lost"}),
    "sql": frozenset({"won", "lost"}),
    "rejected": frozenset(),
    "won": frozenset(),
    "lost": frozenset(),
}

ACTIVE_STATUSES: Final = tuple(s for s, nxt in NEXT_STATUSES.items() if nxt)


def check_transition(current: str, outcome: Outcome) -> None:
    """Raise `IllegalTransition` (409, with the allowed next states) unless `outcome` may follow."""
    allowed = NEXT_STATUSES[current]
    if outcome not in allowed:
        raise IllegalTransition(current, outcome, allowed)


def check_details(outcome: Outcome, *, reason: str | None, has_amount: bool) -> None:
    """A rejection must say why; only a win carries an amount."""
    if outcome == "rejected" and not (reason and reason.strip()):
        raise DispositionInvalid("a rejection needs a reason")
    if has_amount and outcome != "won":
        raise DispositionInvalid("only a won disposition carries an amount")
