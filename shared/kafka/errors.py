"""Which failures are worth retrying forever and which are the message's own fault."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    InterfaceError,
    OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def is_infrastructure_failure(exc: BaseException) -> bool:
    """True when the database or network failed, not the message.

    Such failures are retried without limit (the consumer pauses rather than dead-letter a
    healthy message during an outage); everything else counts toward the poison limit.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _INFRASTRUCTURE_ERRORS):
            return True
        cause = cause.__cause__ or cause.__context__
        if cause is exc:
            break
    return False
