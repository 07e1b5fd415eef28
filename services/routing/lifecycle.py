"""The assignment lifecycle: which outcome may follow which status, what each outcome must carry,
and from which statuses a lead may change hands. Pure."""

from __future__ import annotations

from typing import Final, get_args

from services.routing.errors import DispositionInvalid, IllegalTransition
from shared.contracts import LostReason, Outcome, RejectReason

# A lead must be accepted before it can progress, and a closed one (rejected, won, lost,
# recycled to nurture) stays closed. A lead may go back to nurture at any point before it closes.
# A `queued` lead (handed back, nobody to take it) has no rep to record anything until it is
# routed again.
NEXT_STATUSES: Final[dict[str, frozenset[str]]] = {
    "open": frozenset({"accepted", "rejected", "recycled"}),
    "accepted": frozenset({"sql", "rejected", "lost", "recycled"}),
    "sql": frozenset({"won", "lost", "recycled"}),
    "rejected": frozenset(),
    "won": frozenset(),
    "lost": frozenset(),
    "recycled": frozenset(),
    "queued": frozenset(),
}

ACTIVE_STATUSES: Final = tuple(s for s, nxt in NEXT_STATUSES.items() if nxt)

# A rep hands a lead back before accepting it; once accepted it is theirs, and only a manager
# moves it (a rep who leaves, a territory that changes), or takes one out of the fallback queue.
DECLINABLE: Final = frozenset({"open"})
REASSIGNABLE: Final = frozenset({"open", "accepted", "sql", "queued"})

REJECT_REASONS: Final[frozenset[str]] = frozenset(get_args(RejectReason))
LOST_REASONS: Final[frozenset[str]] = frozenset(get_args(LostReason))


def check_transition(current: str, outcome: Outcome) -> None:
    """Raise `IllegalTransition` (409, with the allowed next states) unless `outcome` may follow."""
    allowed = NEXT_STATUSES[current]
    if outcome not in allowed:
        raise IllegalTransition(current, outcome, allowed)


def check_handover(current: str, action: str, allowed: frozenset[str]) -> None:
    """Raise `IllegalTransition` (409, with the statuses `action` is allowed from) unless it is."""
    if current not in allowed:
        raise IllegalTransition(current, action, allowed, allowed_are="statuses")


def check_details(
    outcome: Outcome,
    *,
    reason_code: str | None,
    note: str | None,
    has_amount: bool,
    has_currency: bool = False,
) -> None:
    """A rejection names a code from the fixed list; a loss a loss code or a note (`other` with a
    note); only a win carries an amount, and a currency only with an amount."""
    noted = bool(note and note.strip())
    if outcome == "rejected" and reason_code not in REJECT_REASONS:
        raise DispositionInvalid(
            "a rejection needs a reason_code, one of " + ", ".join(sorted(REJECT_REASONS))
        )
    if outcome == "lost":
        if reason_code is None and not noted:
            raise DispositionInvalid("a loss needs a reason_code or a note saying why")
        if reason_code is not None and reason_code not in LOST_REASONS:
            raise DispositionInvalid("a loss's reason_code is one of " + ", ".join(sorted(LOST_REASONS)))
        if reason_code == "other" and not noted:
            raise DispositionInvalid("reason_code 'other' needs a note saying what it was")
    if reason_code is not None and outcome not in {"rejected", "lost"}:
        raise DispositionInvalid("only a rejection or a loss carries a reason_code")
    if has_amount and outcome != "won":
        raise DispositionInvalid("only a won disposition carries an amount")
    if has_currency and not has_amount:
        raise DispositionInvalid("a currency comes with an amount")
