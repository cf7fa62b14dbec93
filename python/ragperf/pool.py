"""DatabaseConnectionPool: the guide's asyncpg-style pool on ragperf's C++ libpq pool."""

import asyncio

from . import _core
from ._bridge import check_positive_int, check_seconds, check_text, pending
from .errors import InterfaceError

__all__ = ["DatabaseConnectionPool", "Connection", "Record"]


class Record:
    """One row, as asyncpg's Record: ``row[0]``, ``row["text"]``, ``dict(row)``, ``row.get("x")``."""

    __slots__ = ("_names", "_index", "_values")

    def __init__(self, names, index, values):
        self._names = names
        self._index = index
        self._values = values

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                raise KeyError(f"the row has no column {key!r}; its columns: {', '.join(self._names)}") from None
        return self._values[key]

    def get(self, key, default=None):
        i = self._index.get(key)
        return default if i is None else self._values[i]

    def keys(self):
        return iter(self._names)

    def values(self):
        return iter(self._values)

    def items(self):
        return zip(self._names, self._values)

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __contains__(self, key):
        return key in self._index

    def __eq__(self, other):
        if isinstance(other, Record):
            return self._values == other._values
        if isinstance(other, tuple):
            return self._values == other
        return NotImplemented

    def __hash__(self):
        return hash(self._values)

    def __repr__(self):
        return "<Record " + " ".join(f"{k}={v!r}" for k, v in self.items()) + ">"


def _records(result):
    names, rows, _ = result
    index = {n: i for i, n in enumerate(names)}
    return [Record(names, index, r) for r in rows]


class _Executor:
    """fetch / fetchrow / fetchval / execute over a ``_query(sql, args)`` coroutine."""

    async def execute(self, query, *args):
        """Runs one statement; returns its status text (e.g. ``"INSERT 0 1"``)."""
        return (await self._query(query, args))[2]

    async def fetch(self, query, *args):
        """Every row, as Records."""
        return _records(await self._query(query, args))

    async def fetchrow(self, query, *args):
        """The first row, or None."""
        rows = _records(await self._query(query, args))
        return rows[0] if rows else None

    async def fetchval(self, query, *args, column=0):
        """One value of the first row (``column``: index or name), or None when there is no row."""
        row = await self.fetchrow(query, *args)
        return None if row is None else row[column]


class Connection(_Executor):
    """A pooled connection (from ``pool.acquire()``), used by one task at a time."""

    #: Seconds release() waits for the end of a statement whose caller was cancelled (the server
    #: was sent a cancel request) before it hands the connection back anyway (the pool then
    #: closes it instead of reusing it).
    release_wait = 1.0

    def __init__(self, core):
        self._core = core
        self._inflight = None  # the future of the statement running now

    async def _query(self, query, args):
        check_text(query, "query")
        if self._core.released:
            raise InterfaceError("this connection was released back to the pool; acquire another")
        if self._inflight is not None:
            raise InterfaceError("another operation is in progress on this connection")
        fut, resolve = pending()
        handle = self._core.query(query, args, resolve)
        self._inflight = fut
        fut.add_done_callback(self._statement_done)
        # Shielded, so the connection counts as busy until the statement has really ended: a
        # cancelled caller makes the pool send PostgreSQL a cancel request and read the
        # statement's end (the connection stays usable), as asyncpg does.
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            handle.cancel()
            raise

    def _statement_done(self, fut):
        self._inflight = None
        if not fut.cancelled():
            fut.exception()  # retrieved here, so an abandoned statement's error is not reported

    def transaction(self):
        """``async with conn.transaction():`` BEGIN, then COMMIT (or ROLLBACK on an exception)."""
        return _Transaction(self)

    def get_server_pid(self):
        return self._core.backend_pid

    def is_closed(self):
        return self._core.released

    async def _release(self):
        if self._core.released:
            return
        cancelled = False  # this task was cancelled meanwhile: the release still completes
        if self._inflight is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._inflight), self.release_wait)
            except asyncio.CancelledError:
                cancelled = True
            except Exception:  # its caller gave up on its outcome; a timeout hands it back busy
                pass
        fut, resolve = pending()
        self._core.release(resolve)
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            cancelled = True  # the release goes on by itself
        if cancelled:
            raise asyncio.CancelledError


class _Transaction:
    def __init__(self, conn):
        self._conn = conn

    async def __aenter__(self):
        await self._conn.execute("BEGIN")
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        return False


class _Acquire:
    def __init__(self, pool):
        self._pool = pool
        self._conn = None

    def __await__(self):
        return self._pool._acquire().__await__()

    async def __aenter__(self):
        self._conn = await self._pool._acquire()
        return self._conn

    async def __aexit__(self, exc_type, exc, tb):
        conn, self._conn = self._conn, None
        await conn._release()
        return False


class DatabaseConnectionPool(_Executor):
    """A PostgreSQL connection pool with asyncpg's call style and ``$1`` parameters.

    Arguments left ``None`` come from the settings: ``DATABASE_URL`` (else libpq's ``PG*``
    variables), ``MIN_POOL_SIZE``, ``MAX_POOL_SIZE``, ``CONNECTION_POOL_SIZE`` (environment > .env >
    ``RAGPERF_PROFILE``). ``dsn``: ``"postgresql://user:pass@host:port/db"`` or libpq's
    ``"host=... dbname=..."``. ``acquire_timeout``: seconds a caller waits for a free connection
    before PoolExhaustedError (default 10).

    Parameters: None, bool, int, float, str (typed by the statement, so ``'[0.1,...]'`` works for
    ``$1::vector``), bytes, dict (jsonb), datetime / date, Decimal, UUID, and a list / tuple / numpy
    array of numbers (a pgvector ``vector``, sent in binary). pgvector columns come back as float32
    numpy arrays.

    Example::

        pool = DatabaseConnectionPool()          # DATABASE_URL
        await pool.initialize()
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT text FROM docs ORDER BY embedding <=> $1 LIMIT 4", vec)
        await pool.close()
    """

    def __init__(self, host=None, port=None, database=None, user=None, password=None, min_size=None,
                 max_size=None, *, dsn=None, acquire_timeout=None, connect_timeout=None, monitor=None):
        if isinstance(host, str) and ("://" in host or "=" in host) and dsn is None:
            dsn, host = host, None  # DatabaseConnectionPool("postgresql://...")
        for name, value in (("dsn", dsn), ("host", host), ("database", database), ("user", user),
                            ("password", password)):
            if value is not None:
                check_text(value, name)
        port = check_positive_int(port, "port")
        if min_size is not None:
            if isinstance(min_size, bool) or not isinstance(min_size, int):
                raise TypeError(f"min_size must be an int, not {type(min_size).__name__}")
        max_size = check_positive_int(max_size, "max_size")
        acquire_timeout = check_seconds(acquire_timeout, "acquire_timeout")
        connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._monitor = monitor
        self._core = _core.Pool(dsn, host, port, database, user, password, min_size, max_size,
                                acquire_timeout, connect_timeout,
                                monitor._core if monitor is not None else None)

    async def initialize(self):
        """Opens ``min_size`` connections. ConnectionError naming the server when it cannot."""
        fut, resolve = pending()
        self._core.initialize(resolve)
        await fut
        return self

    def acquire(self):
        """``async with pool.acquire() as conn:`` (or ``conn = await pool.acquire()`` and
        ``await pool.release(conn)``). Waits up to ``acquire_timeout``, then PoolExhaustedError."""
        return _Acquire(self)

    async def _acquire(self):
        fut, resolve = pending()
        handle = self._core.acquire(resolve)
        # A cancelled caller leaves the pool's queue at once (a connection handed out meanwhile
        # goes back when its dropped result is freed).
        fut.add_done_callback(lambda f: handle.cancel() if f.cancelled() else None)
        return Connection(await fut)

    async def release(self, connection):
        """Hands a connection from ``await pool.acquire()`` back."""
        if not isinstance(connection, Connection):
            raise TypeError(f"connection must be a ragperf Connection, not {type(connection).__name__}")
        await connection._release()

    async def _query(self, query, args):
        check_text(query, "query")
        fut, resolve = pending()
        handle = self._core.query(query, args, resolve)
        # A cancelled caller: PostgreSQL is asked to stop the statement.
        fut.add_done_callback(lambda f: handle.cancel() if f.cancelled() else None)
        return await fut

    async def health_check(self):
        """``SELECT 1`` on a pooled connection: True, or False when the database is unreachable."""
        fut, resolve = pending()
        self._core.health_check(resolve)
        return await fut

    def get_stats(self):
        """``pool_size``, ``pool_free``, ``total_queries``, ``in_use``, ``requests_waiting``,
        ``acquires``, ``acquire_timeouts``, ``pool_min``, ``pool_max`` ..."""
        return self._core.get_stats()

    @property
    def closed(self):
        return self._core.closed

    async def close(self, timeout=5.0):
        """Closes the pool (waiting up to ``timeout`` seconds for connections in use)."""
        timeout = check_seconds(timeout, "timeout", allow_none=False)
        await asyncio.to_thread(self._core.close, timeout)

    async def __aenter__(self):
        return await self.initialize()

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()
        return False

    def __repr__(self):
        return f"DatabaseConnectionPool({self._core.describe()})"
