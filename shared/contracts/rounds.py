"""Splitting a batch of events so each lead appears at most once per part, order kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from shared.contracts.envelope import Envelope

E = TypeVar("E", bound=Envelope)


def rounds_by_lead(events: Sequence[E]) -> list[list[E]]:
    """`events` in rounds holding at most one event per lead: round k has each lead's k-th
    event. Applying the rounds in turn, each with multi-row statements, keeps every lead's
    events in order, and no statement meets the same row twice (which ON CONFLICT forbids)."""
    rounds: list[list[E]] = []
    seen: dict[Any, int] = {}
    for event in events:
        index = seen.get(event.lead_id, 0)
        seen[event.lead_id] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(event)
    return rounds
