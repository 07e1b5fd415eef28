"""Structured JSON logs: one JSON object per line, event names as dotted keys."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from shared.tracing import current_trace_id

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_PHONE = re.compile(r"\+\d[\d ()-]{6,18}\d")


def redact(text: str) -> str:
    """Mask personal data that may ride along in messages and tracebacks (a validation error
    quotes its input): emails keep their first letter and domain, phone numbers go entirely."""
    return _PHONE.sub("+***", _EMAIL.sub(r"\1***@\2", text))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        trace_id = current_trace_id()
        if trace_id:
            entry.setdefault("trace_id", trace_id)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def configure_logging(*, service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports every rebalance and reconnect at INFO; keep them for debugging only.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
