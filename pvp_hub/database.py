"""The hub's one database: a SQLAlchemy engine on SQLite or PostgreSQL, and its migrations.

The hub uses SQLAlchemy Core (no ORM) on a synchronous engine, called from the web
framework's thread pool: statements are compiled once and cached by SQLAlchemy, and the
async ORM layer (measured at 2.9x the cost of a bare driver) stays out of the hot path.
The site routes' statements are hand-written SQL (steps.py), run on this engine's driver
or, on PostgreSQL, by asyncpg on the event loop (pg_async.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement

# Writes on SQLite take the write lock at BEGIN: a deferred transaction that read and
# then writes fails at once with SQLITE_BUSY instead of waiting (busy_timeout).
IMMEDIATE = "pvp_immediate"
SQLITE_BUSY_MS = 5000


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for `url`; a SQLite file (and its folder) is created on first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=False,  # a dead connection fails one request, which the site retries
    )


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # SQLAlchemy's driver would BEGIN lazily and deferred; the hub issues BEGIN itself.
    dbapi_connection.isolation_level = None
    for pragma in (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={SQLITE_BUSY_MS}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ):
        dbapi_connection.execute(pragma)


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed at the end, rolled back on any error."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads, begun explicitly and committed at the end (rolled
    back on an error). Explicitly: statements run on the driver's cursor do not begin
    SQLAlchemy's transaction, so its commit() would do nothing and the pool would roll
    the driver's transaction back; and psycopg forgets its prepared statements at every
    ROLLBACK, so every statement would be planned anew by PostgreSQL on every request."""
    with engine.connect() as conn, conn.begin():
        yield conn


# ------------------------------------------------------------ the hot statements' fast path
_COMPILED: dict[tuple[int, str], tuple[str, tuple[str, ...] | None]] = {}


def run_on_driver(
    conn: Connection,
    statement: ClauseElement,
    params: Mapping[str, Any],
    stream: bool = False,
) -> Any:
    """Run `statement` on the driver's own cursor, on `conn`'s connection and in its
    transaction: its SQL is compiled once per dialect by SQLAlchemy, and the few types
    the hub's hot statements bind are converted here as SQLAlchemy's would (UUIDs as 32
    hex characters, timestamps as naive UTC text and JSON as text on SQLite; JSON as
    `Jsonb` on psycopg). About a quarter of the CPU of `conn.execute` (the token check:
    0.06 against 0.23 ms); the rows come back as
    the driver gives them. The caller closes the returned cursor. `statement` must live
    as long as the process (built once, at import): its compiled SQL is cached by its id.
    With `stream`, PostgreSQL's rows come from a server-side cursor as they are fetched
    (SQLite's always do), so a large read is never held in memory whole."""
    dialect = conn.dialect
    key = (id(statement), dialect.name)
    compiled = _COMPILED.get(key)
    if compiled is None:
        done = statement.compile(dialect=dialect)
        positions = getattr(done, "positiontup", None)  # qmark (SQLite): the names' order
        order = tuple(positions) if dialect.positional and positions else None
        compiled = _COMPILED[key] = (done.string, order)
    sql, order = compiled
    if dialect.name == "sqlite":
        values = {name: _sqlite_value(value) for name, value in params.items()}
    else:
        values = {name: _psycopg_value(value) for name, value in params.items()}
    driver = conn.connection.dbapi_connection
    if stream and dialect.name != "sqlite":
        cursor = driver.cursor(name=f"pvp_{uuid.uuid4().hex}")  # type: ignore[union-attr]
    else:
        cursor = driver.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, tuple(values[name] for name in order) if order else values)
    return cursor


_QMARK: dict[str, str] = {}


def sql_on_driver(conn: Connection, sql: str, params: Sequence[Any], many: bool = False) -> Any:
    """Run hand-written `sql` (`%s` placeholders, replaced by `?` on SQLite) on the
    driver's own cursor, as `run_on_driver` does: for the statements whose number of
    bind parameters follows the batch (psycopg caches the parsing of a short query, not
    of the long ones SQLAlchemy renders for a multi-row insert). `many`: `params` is a
    sequence of rows, run as one `executemany`. The caller closes the returned cursor."""
    convert = _psycopg_value
    if conn.dialect.name == "sqlite":
        sql = _QMARK.get(sql) or _QMARK.setdefault(sql, sql.replace("%s", "?"))
        convert = _sqlite_value
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if many:
        cursor.executemany(sql, [tuple(map(convert, row)) for row in params])
    else:
        cursor.execute(sql, tuple(map(convert, params)))
    return cursor


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _psycopg_value(value: Any) -> Any:
    # psycopg takes UUIDs and aware datetimes as they are: only JSON needs wrapping (a
    # call per bound value, so exact types are tested, the cheapest test).
    kind = type(value)
    if kind is dict or kind is list:
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    if kind is datetime and value.tzinfo is None:
        return value.astimezone(UTC)  # taken as local time, as on SQLite
    return value


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """A UUID column's value as the driver gives it: a UUID (psycopg) or 32 hex (SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def is_postgresql(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*(.+)$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def script_heads(folder: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The newest revision(s) of the migrations folder, read from the files' own
    `revision = "..."` and `down_revision = ...` lines without Alembic (whose import
    costs a start more than the rest of this check); None if a file does not read as
    expected."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        named = _QUOTED.findall(revision[0]) if len(revision) == 1 else []
        if len(named) != 1 or len(down) != 1:
            return None
        revisions.add(named[0])
        parents.update(_QUOTED.findall(down[0]))
    heads = frozenset(revisions - parents)
    return heads or None


def at_head(engine: Engine) -> bool:
    """Whether the database's `alembic_version` names exactly the migrations folder's
    head(s): nothing to migrate. False when in doubt (no such table yet, say)."""
    from sqlalchemy import inspect

    heads = script_heads()
    if heads is None:
        return False
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return frozenset(rows) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic), under a lock on PostgreSQL so
    hub processes starting together do not race. A database already at the head is left
    as it is without loading Alembic (each start and each admin command asks)."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        if is_postgresql(conn):
            conn.execute(text("SELECT pg_advisory_lock(7046150)"))
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if is_postgresql(conn):
                conn.execute(text("SELECT pg_advisory_unlock(7046150)"))
                conn.commit()
