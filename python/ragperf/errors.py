"""ragperf's exceptions: one class per kind of failure of the C++ engine (include/ragperf/error.h).

Every class derives from :class:`RagperfError`; where Python has a matching built-in kind the class
derives from it too (``InputError`` is a ``ValueError``, ``TimeoutError`` is the built-in
``TimeoutError``), so ``except ValueError`` keeps working. The message is the C++ message: it names
the failing value and the remedy.
"""

import builtins

__all__ = [
    "RagperfError",
    "ConfigError",
    "ModelError",
    "InputError",
    "ConnectionError",
    "QueryError",
    "PostgresError",
    "PoolExhaustedError",
    "TimeoutError",
    "OverloadedError",
    "UnavailableError",
    "CancelledError",
    "InterfaceError",
]


class RagperfError(Exception):
    """Base of every ragperf exception."""


class ConfigError(RagperfError, ValueError):
    """An invalid setting: environment, ``.env``, profile or argument."""


class ModelError(RagperfError):
    """A model folder is missing, unreadable or inconsistent."""


class InputError(RagperfError, ValueError):
    """Bad input: text that is not valid UTF-8, an unknown table, a wrong dimension ..."""


class ConnectionError(RagperfError, builtins.ConnectionError):
    """A database server cannot be reached or refused the login."""


class QueryError(RagperfError):
    """The database rejected a statement.

    Attributes: ``sqlstate`` (e.g. ``"42P01"``), ``server_message`` and ``statement``.
    """

    sqlstate = ""
    server_message = ""
    statement = ""


#: asyncpg's name for a statement the server rejected.
PostgresError = QueryError


class PoolExhaustedError(RagperfError):
    """No pooled connection became free within the pool's acquire timeout."""


class TimeoutError(RagperfError, builtins.TimeoutError):
    """An operation exceeded its deadline."""


class OverloadedError(RagperfError):
    """A bounded queue is full; retry later."""


class UnavailableError(RagperfError):
    """The component is closed or shutting down."""


class CancelledError(RagperfError):
    """The work was dropped before it ran because its caller gave up (not asyncio's CancelledError)."""


class InterfaceError(RagperfError):
    """The Python API was misused: a released connection used, two operations at once on one connection."""
