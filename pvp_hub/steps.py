"""The site routes' work as plain generators, and the synchronous runner that drives them.

The rules of the token check, `GET /site`, the push and the pull are written once, as
generators that do no I/O: each yields the statements it needs (`Sql`, with `%s`
placeholders) and is sent back their rows, then returns its answer. A runner owns the
connection and the transaction:

- `run_sync` (here): on the SQLAlchemy engine's driver (sqlite3, psycopg), in a worker
  thread; SQLite always goes this way, and so do the CLI and the tests' direct calls.
- `pg_async.AsyncDatabase.run`: on asyncpg, on the event loop (no thread hop), for the
  hub's site routes on PostgreSQL.

A generator is given the engine's dialect name, so it may group its statements where the
engine allows (PostgreSQL's data-modifying CTEs: a push in three statements there) while
its rules stay the same. A step that only the synchronous side can run (`SyncOnly`: code
that works on a SQLAlchemy connection, such as a document's bytes dropped when consent is
withdrawn) makes the async runner roll back and hand the whole request to `run_sync`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from .database import read_transaction, sql_on_driver, write_transaction

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement: `%s` placeholders (`?` on SQLite, `$n` on asyncpg). Its rows come
    back as a list of tuples (empty for a statement without rows). `many`: `params` is a
    sequence of rows, run as one `executemany` (its rows are not returned)."""

    text: str
    params: Sequence[Any] = ()
    many: bool = False


@dataclass(frozen=True, slots=True)
class SyncOnly:
    """A step run on the synchronous runner's SQLAlchemy connection, in its transaction;
    what `call` returns is sent back to the generator."""

    call: Callable[[Connection], Any]


Step = Sql | SyncOnly
Steps = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class Work(Generic[T]):
    """A request's work: `steps(dialect)` makes a fresh generator (a runner may start it
    over elsewhere); `write`: in one write transaction (else reads, each statement
    may run on its own)."""

    steps: Callable[[str], Steps[T]]
    write: bool


def run_sync(engine: Engine, work: Work[T]) -> T:
    """Drive `work` on the engine, in one transaction."""
    begin = write_transaction if work.write else read_transaction
    with begin(engine) as conn:
        return drive(conn, work.steps(conn.dialect.name))


def drive(conn: Connection, steps: Steps[T]) -> T:
    """Drive `steps` on `conn`, in its transaction."""
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            if isinstance(step, SyncOnly):
                answer = step.call(conn)
                continue
            cursor = sql_on_driver(conn, step.text, step.params, many=step.many)
            try:
                answer = cursor.fetchall() if cursor.description else []
            finally:
                cursor.close()
    except StopIteration as done:
        return done.value
