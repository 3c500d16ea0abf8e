"""Agents' and admins' sign-in and sessions: the primitives the pages build on
(`web.signin`, `web.sessions`).

A password check is argon2id (about 135 ms and 64 MiB): call these from a worker thread,
never on the event loop. Every failed sign-in counts against its login, known or not; a
login locks after a few failures, longer each time, so guessing is slow and an unknown
login answers exactly as a known one.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from .auth import hash_password, verify_password
from .database import write_transaction
from .errors import HubError
from .schema import admins, agents, person_sessions, sign_in_throttle

FREE_FAILURES = 5  # failures allowed before the login locks
LOCK_FIRST = timedelta(minutes=1)  # then doubled at each further failure
LOCK_MAX = timedelta(hours=24)
SESSION_LENGTH = timedelta(hours=10)  # an agent's working day

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Person:
    kind: str  # agent or admin
    id: uuid.UUID
    login: str
    name: str


@dataclass(frozen=True)
class Session:
    token: str  # for the cookie (HttpOnly, SameSite, Secure behind TLS); shown once
    csrf: str  # for the page's forms
    person: Person
    expires_at: datetime


@functools.cache
def _dummy_hash() -> str:
    # Checked when the login is unknown, so that answer takes as long as a wrong password.
    return hash_password(secrets.token_urlsafe(16))


def wrong_credentials() -> HubError:
    return HubError(401, "wrong_credentials", "Wrong login or password.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _find(engine: Engine, login: str) -> tuple[Person, str | None] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(agents.c.id, agents.c.name, agents.c.password_hash).where(
                agents.c.login == login, agents.c.disabled_at.is_(None)
            )
        ).first()
        if row is not None:
            return Person("agent", row.id, login, row.name), row.password_hash
        row = conn.execute(
            select(admins.c.id, admins.c.name, admins.c.password_hash).where(
                admins.c.login == login
            )
        ).first()
        if row is not None:
            return Person("admin", row.id, login, row.name), row.password_hash
    return None


def sign_in(engine: Engine, login: str, password: str, clock: Clock = _now) -> Session:
    """A new session for the person, or 401 (whatever was wrong) or 429 (locked)."""
    login = login.strip().lower()[:254]
    now = clock()
    with engine.connect() as conn:
        locked = conn.execute(
            select(sign_in_throttle.c.locked_until).where(sign_in_throttle.c.login == login)
        ).scalar()
    if locked is not None and locked > now:
        wait = int((locked - now).total_seconds()) + 1
        raise HubError(
            429,
            "too_many_attempts",
            f"Too many failed attempts: try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    person, stored = _find(engine, login) or (None, None)
    matches = verify_password(stored or _dummy_hash(), password)  # always one argon2 check
    if person is None or stored is None or not matches:
        _count_failure(engine, login, now)
        raise wrong_credentials()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = Session(token, csrf, person, now + SESSION_LENGTH)
    with write_transaction(engine) as conn:
        conn.execute(delete(sign_in_throttle).where(sign_in_throttle.c.login == login))
        conn.execute(
            person_sessions.insert().values(
                token_sha256=_digest(token),
                kind=session.person.kind,
                person_id=session.person.id,
                csrf=csrf,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
    return session


def _count_failure(engine: Engine, login: str, now: datetime) -> None:
    with write_transaction(engine) as conn:
        failures = conn.execute(
            select(sign_in_throttle.c.failures).where(sign_in_throttle.c.login == login)
        ).scalar()
        failures = (failures or 0) + 1
        locked_until = None
        if failures >= FREE_FAILURES:
            locked_until = now + min(LOCK_FIRST * 2 ** (failures - FREE_FAILURES), LOCK_MAX)
        values = {"failures": failures, "locked_until": locked_until, "updated_at": now}
        if failures == 1:
            conn.execute(sign_in_throttle.insert().values(login=login, **values))
        else:
            conn.execute(
                update(sign_in_throttle).where(sign_in_throttle.c.login == login).values(**values)
            )


def session_person(engine: Engine, token: str | None, clock: Clock = _now) -> Session | None:
    """The live session of this cookie token, or None (unknown, signed out, expired, or
    an agent disabled since)."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(person_sessions).where(
                person_sessions.c.token_sha256 == _digest(token),
                person_sessions.c.expires_at > clock(),
            )
        ).first()
        if row is None:
            return None
        if row.kind == "agent":  # an agent disabled since signing in is out at once
            who = select(agents.c.login, agents.c.name).where(
                agents.c.id == row.person_id, agents.c.disabled_at.is_(None)
            )
        else:
            who = select(admins.c.login, admins.c.name).where(admins.c.id == row.person_id)
        person = conn.execute(who).first()
    if person is None:
        return None
    return Session(
        token, row.csrf, Person(row.kind, row.person_id, person.login, person.name), row.expires_at
    )


def sign_out(engine: Engine, token: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            delete(person_sessions).where(person_sessions.c.token_sha256 == _digest(token))
        )


def purge(engine: Engine, clock: Clock = _now) -> dict[str, int]:
    """Drop expired sessions and throttle rows idle for a day."""
    now = clock()
    with write_transaction(engine) as conn:
        sessions = conn.execute(
            delete(person_sessions).where(person_sessions.c.expires_at <= now)
        ).rowcount
        throttles = conn.execute(
            delete(sign_in_throttle).where(
                sign_in_throttle.c.updated_at < now - timedelta(days=1),
                (sign_in_throttle.c.locked_until.is_(None))
                | (sign_in_throttle.c.locked_until < now),
            )
        ).rowcount
    return {"sessions_expired": sessions, "sign_in_throttles_dropped": throttles}
