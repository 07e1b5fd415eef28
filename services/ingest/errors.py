from __future__ import annotations

from shared.problems import Problem


class IdempotencyKeyReused(Problem):
    """The Idempotency-Key was already used for a different request body."""

    status = 422
    title = "Idempotency key reused"
    slug = "idempotency-key-reused"


class UnsupportedMediaType(Problem):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"
