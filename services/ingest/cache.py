"""Form configurations cached in-process: every form post needs one, and they rarely change."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.repository import FormRepository
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
