"""Browser-facing protection for form posts: rate limits, origins, honeypots. Pure and in-process."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import Counter

HONEYPOT_TRIPPED = Counter(
    "baton_ingest_honeypot_tripped_total",
    "Form posts that filled the honeypot field: answered 202, stored and published nothing.",
    ["form_id"],
)
RATE_LIMITED = Counter("baton_ingest_rate_limited_total", "Requests refused with 429.", ["scope"])


class TokenBucket:
    """Per-key token buckets held in this process (so a limit applies per replica), evicting the
    least recently seen key beyond `max_keys` so a flood of addresses cannot exhaust memory."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, *, per_minute: float | None = None) -> float:
        """Take one token: 0 when allowed, else the seconds until one is available. `per_minute`
        overrides the rate for this key (an API key's own limit); its burst is at most a minute's."""
        rate, burst = self.rate, self.burst
        if per_minute is not None:
            rate, burst = per_minute / 60.0, min(self.burst, max(1.0, float(int(per_minute))))
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate if rate > 0 else math.inf
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(min(wait_s, 3600))))


class ClientNetworks:
    """Addresses exempt from rate limiting (loopback by default: local tools and benchmarks)."""

    def __init__(self, cidrs: Iterable[str], *, max_remembered: int = 10_000) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self.max_remembered = max_remembered
        # Parsing an address costs more than the rest of a rate-limit check; answers are kept
        # (beyond `max_remembered` addresses it starts afresh, so a flood costs CPU, not memory).
        self._answers: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        key = str(host)
        answer = self._answers.get(key)
        if answer is None:
            if len(self._answers) >= self.max_remembered:
                self._answers.clear()
            answer = self._answers[key] = self._member(key)
        return answer

    def _member(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def origin_allowed(allowed: list[str], origin: str | None, referer: str | None) -> bool:
    """Whether a browser post comes from one of the form's origins (any, when none is set).

    Browsers send `Origin` on every cross-site POST; `Referer` is the fallback for the few that
    strip it. A request with neither is refused: a server posting a form should use the API.
    """
    if not allowed:
        return True
    candidate = origin
    if not candidate and referer:
        scheme, _, rest = referer.partition("://")
        candidate = f"{scheme}://{rest.split('/', 1)[0]}"
    return candidate is not None and candidate.lower().rstrip("/") in allowed


def honeypot_tripped(honeypot_field: str | None, fields: Mapping[str, Any]) -> bool:
    if not honeypot_field:
        return False
    value = fields.get(honeypot_field)
    return value is not None and str(value).strip() != ""
