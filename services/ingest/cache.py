"""Form configurations and API keys cached in-process: every form post needs a form, every
keyed request its key, and both rarely change."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.linkedin import LinkedInQuestion
from services.ingest.repository import FormRepository, SourceRepository
from services.ingest.schemas import FormRead


class FormCache:
    """Configurations for `ttl_s` seconds. A change made through this process applies at once;
    one made through another replica applies here within `ttl_s`. Unknown ids are not cached,
    so a scan of random ids cannot fill memory."""

    def __init__(
        self, *, ttl_s: float, max_forms: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_forms = max_forms
        self.clock = clock
        self._forms: dict[str, tuple[float, FormRead]] = {}

    async def get(self, session: AsyncSession, form_id: str) -> FormRead | None:
        now = self.clock()
        cached = self._forms.get(form_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        row = await FormRepository(session).get(form_id)
        if row is None:
            self._forms.pop(form_id, None)
            return None
        form = FormRead.model_validate(row)
        if len(self._forms) >= self.max_forms:
            self._forms.clear()
        self._forms[form_id] = (now, form)
        return form

    def forget(self, form_id: str) -> None:
        self._forms.pop(form_id, None)


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
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self.clock = clock
        self._keys: dict[str, tuple[float, SourceKey]] = {}

    async def get(self, session: AsyncSession, api_key: str) -> SourceKey | None:
        digest = hash_api_key(api_key)
        now = self.clock()
        cached = self._keys.get(digest)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        row = await SourceRepository(session).by_key_hash(digest)
        if row is None:
            self._keys.pop(digest, None)
            return None
        key = SourceKey(
            source_id=row.id,
            form_ids=frozenset(row.form_ids) if row.form_ids is not None else None,
            rate_limit_per_minute=row.rate_limit_per_minute,
        )
        if len(self._keys) >= self.max_keys:
            self._keys.clear()
        self._keys[digest] = (now, key)
        return key

    def forget(self, source_id: str) -> None:
        for digest in [d for d, (_, key) in self._keys.items() if key.source_id == source_id]:
            del self._keys[digest]


class LinkedInFormCache:
    """LinkedIn lead form questions by form id for `ttl_s` seconds: every lead of a form needs
    them, and a form changes rarely (an edited form's new questions miss the cache and refetch)."""

    def __init__(
        self, *, ttl_s: float, max_forms: int = 1_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_forms = max_forms
        self.clock = clock
        self._forms: dict[str, tuple[float, dict[str, LinkedInQuestion]]] = {}

    def get(self, form: str) -> dict[str, LinkedInQuestion] | None:
        cached = self._forms.get(form)
        if cached is None or self.clock() - cached[0] >= self.ttl_s:
            return None
        return cached[1]

    def put(self, form: str, questions: dict[str, LinkedInQuestion]) -> None:
        if len(self._forms) >= self.max_forms:
            self._forms.clear()
        self._forms[form] = (self.clock(), questions)
