"""Form configurations, API keys and LinkedIn form questions cached in-process: every form post
needs a form, every keyed request its key, every LinkedIn lead its form, and all rarely change."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.linkedin import LinkedInQuestion
from services.ingest.repository import FormRepository, SourceRepository
from services.ingest.schemas import FormRead

V = TypeVar("V")


class Timed(Generic[V]):
    """Values by key for `ttl_s` seconds, at most `max_items` of them (beyond, it starts afresh:
    a flood of keys costs a re-read, never memory)."""

    def __init__(self, *, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.clock = clock
        self._items: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | None:
        cached = self._items.get(key)
        if cached is None or self.clock() - cached[0] >= self.ttl_s:
            return None
        return cached[1]

    def put(self, key: str, value: V) -> None:
        if len(self._items) >= self.max_items:
            self._items.clear()
        self._items[key] = (self.clock(), value)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def forget_where(self, drop: Callable[[V], bool]) -> None:
        for key in [k for k, (_, value) in self._items.items() if drop(value)]:
            del self._items[key]


class FormCache:
    """Configurations for `ttl_s` seconds. A change made through this process applies at once;
    one made through another replica applies here within `ttl_s`. Unknown ids are not cached,
    so a scan of random ids cannot fill memory."""

    def __init__(
        self, *, ttl_s: float, max_forms: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._forms = Timed[FormRead](ttl_s=ttl_s, max_items=max_forms, clock=clock)

    def cached(self, form_id: str) -> FormRead | None:
        return self._forms.get(form_id)

    async def get(self, session: AsyncSession, form_id: str) -> FormRead | None:
        form = self._forms.get(form_id)
        if form is None:
            row = await FormRepository(session).get(form_id)
            if row is None:
                return None
            form = FormRead.model_validate(row)
            self._forms.put(form_id, form)
        return form

    def forget(self, form_id: str) -> None:
        self._forms.forget(form_id)


def uncached() -> FormCache:
    """A cache that always reads the database (for callers without an app)."""
    return FormCache(ttl_s=0)


def hash_api_key(api_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is safe here (no dictionary to attack).
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class SourceKey:
    """What a live API key may do: post activity as its source, or submit the forms it names."""

    source_id: str
    form_ids: frozenset[str] | None
    rate_limit_per_minute: float | None

    @property
    def posts_activity(self) -> bool:
        return self.form_ids is None

    def may_submit(self, form_id: str) -> bool:
        return self.form_ids is not None and form_id in self.form_ids


class SourceKeyCache:
    """Live keys by hash for `ttl_s` seconds. A revocation through this process applies at once;
    one through another replica within `ttl_s`. Unknown keys are not cached."""

    def __init__(
        self, *, ttl_s: float, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys = Timed[SourceKey](ttl_s=ttl_s, max_items=max_keys, clock=clock)

    async def get(self, session: AsyncSession, api_key: str) -> SourceKey | None:
        digest = hash_api_key(api_key)
        key = self._keys.get(digest)
        if key is None:
            row = await SourceRepository(session).by_key_hash(digest)
            if row is None:
                return None
            key = SourceKey(
                source_id=row.id,
                form_ids=frozenset(row.form_ids) if row.form_ids is not None else None,
                rate_limit_per_minute=row.rate_limit_per_minute,
            )
            self._keys.put(digest, key)
        return key

    def forget(self, source_id: str) -> None:
        self._keys.forget_where(lambda key: key.source_id == source_id)


def linkedin_form_cache(*, ttl_s: float) -> Timed[dict[str, LinkedInQuestion]]:
    """LinkedIn lead form questions by form id: every lead of a form needs them, and a form changes
    rarely (an edited form's new questions miss the cache and are fetched)."""
    return Timed(ttl_s=ttl_s, max_items=1_000)
