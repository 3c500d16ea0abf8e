"""Agents' and admins' sign-in and sessions, on both engines (no page yet: the
primitives the agents' page will call)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from pvp_hub import directory, people
from pvp_hub.database import make_engine, migrate
from pvp_hub.errors import HubError
from pvp_hub.schema import agents
from tests.hub.regions import ENGINES, database_url

PASSWORD = "correct horse battery"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    name = f"people_{request.param}_{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url(request.param, tmp_path, request, name))
    migrate(engine)
    directory.create_region(engine, "r", "Region")
    directory.create_site(engine, "r", "leyme", "Leyme")
    caf = directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}])
    directory.save_partners(engine, "r", caf)
    directory.create_agent(engine, "r", "a.martin@caf.fr", "A. Martin", "caf", ["leyme"])
    directory.set_password(engine, "a.martin@caf.fr", PASSWORD)
    yield engine
    engine.dispose()


def refused(engine: Engine, login: str, password: str, at: datetime) -> HubError:
    with pytest.raises(HubError) as caught:
        people.sign_in(engine, login, password, clock=lambda: at)
    return caught.value


def test_a_session_lives_until_it_expires_or_the_agent_signs_out(engine: Engine) -> None:
    now = datetime.now(UTC)
    session = people.sign_in(engine, " A.Martin@caf.fr ", PASSWORD, clock=lambda: now)
    assert session.person.kind == "agent" and session.person.login == "a.martin@caf.fr"
    found = people.session_person(engine, session.token)
    assert found is not None and found.csrf == session.csrf and found.person == session.person
    assert people.session_person(engine, "forged") is None
    later = now + people.SESSION_LENGTH + timedelta(seconds=1)
    assert people.session_person(engine, session.token, clock=lambda: later) is None
    people.sign_out(engine, session.token)
    assert people.session_person(engine, session.token) is None


def test_wrong_password_unknown_login_and_disabled_agent_get_the_same_answer(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    wrong = refused(engine, "a.martin@caf.fr", "not the password", now)
    unknown = refused(engine, "nobody@caf.fr", PASSWORD, now)
    with engine.begin() as conn:
        conn.execute(update(agents).values(disabled_at=now))
    disabled = refused(engine, "a.martin@caf.fr", PASSWORD, now)
    assert {(e.status, e.code, e.message) for e in (wrong, unknown, disabled)} == {
        (401, "wrong_credentials", "Wrong login or password.")
    }


def test_failures_lock_the_login_longer_each_time(engine: Engine) -> None:
    now = datetime.now(UTC)
    for _ in range(people.FREE_FAILURES):
        assert refused(engine, "a.martin@caf.fr", "guess", now).status == 401
    # Locked: even the right password is refused, with when to try again.
    locked = refused(engine, "a.martin@caf.fr", PASSWORD, now)
    assert locked.status == 429 and locked.headers["Retry-After"] == "61"
    after = now + timedelta(minutes=1, seconds=1)
    assert refused(engine, "a.martin@caf.fr", "guess", after).status == 401
    longer = refused(engine, "a.martin@caf.fr", PASSWORD, after)
    assert longer.status == 429 and longer.headers["Retry-After"] == "121"
    # An unknown login locks the same way: the lock tells nothing of who exists.
    for _ in range(people.FREE_FAILURES):
        refused(engine, "ghost@caf.fr", "guess", now)
    assert refused(engine, "ghost@caf.fr", "guess", now).status == 429
    later = after + timedelta(minutes=2, seconds=1)
    assert people.sign_in(engine, "a.martin@caf.fr", PASSWORD, clock=lambda: later)
    # A success clears the count: one more failure does not lock again.
    assert refused(engine, "a.martin@caf.fr", "guess", later).status == 401
    assert people.sign_in(engine, "a.martin@caf.fr", PASSWORD, clock=lambda: later)


def test_purge_drops_expired_sessions(engine: Engine) -> None:
    now = datetime.now(UTC)
    session = people.sign_in(engine, "a.martin@caf.fr", PASSWORD, clock=lambda: now)
    later = now + people.SESSION_LENGTH + timedelta(minutes=1)
    assert people.purge(engine, clock=lambda: later)["sessions_expired"] == 1
    assert people.session_person(engine, session.token) is None


def test_an_agent_disabled_after_signing_in_is_refused_at_the_next_request(
    engine: Engine,
) -> None:
    session = people.sign_in(engine, "a.martin@caf.fr", PASSWORD)
    assert people.session_person(engine, session.token) is not None
    with engine.begin() as conn:
        conn.execute(update(agents).values(disabled_at=datetime.now(UTC)))
    assert people.session_person(engine, session.token) is None


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(engine: Engine) -> None:
    session = people.sign_in(engine, "a.martin@caf.fr", PASSWORD)
    directory.set_password(engine, "a.martin@caf.fr", "another long password")
    assert people.session_person(engine, session.token) is None
    assert people.sign_in(engine, "a.martin@caf.fr", "another long password")
