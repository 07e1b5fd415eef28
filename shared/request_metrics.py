"""Request counts and latencies by route template, for every process's `/metrics`."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS


class RequestMetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Label children by their labels: `labels()` takes a lock and builds a key every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            counter = self._counters.get((method, template, status))
            if counter is None:
                counter = self._counters[method, template, status] = HTTP_REQUESTS.labels(
                    method, template, str(status)
                )
            counter.inc()
            latency = self._latencies.get((method, template))
            if latency is None:
                latency = self._latencies[method, template] = HTTP_LATENCY.labels(method, template)
            latency.observe(time.perf_counter() - started)
