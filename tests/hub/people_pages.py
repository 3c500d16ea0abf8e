"""Helpers of the pages' tests: agents and admins with passwords (through `directory`,
as `pvp-hub admin` makes them), signing in through the real form, visits pushed by a
site."""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from pvp_hub import directory
from pvp_hub.schema import person_sessions
from tests.hub.regions import Region, Site, event, push

PASSWORD = "correct horse battery staple"


def agent(region: Region, partner: str, sites: list[str] | None, name: str = "Agent") -> str:
    """A new agent of `partner` for `sites` (None: every site of the region), with
    PASSWORD; its login."""
    login = f"{uuid.uuid4().hex[:10]}@{partner}.fr"
    directory.create_agent(region.engine, region.slug, login, name, partner, sites)
    directory.set_password(region.engine, login, PASSWORD)
    return login


def admin(region: Region) -> str:
    login = f"admin-{uuid.uuid4().hex[:10]}@region.fr"
    directory.create_admin(region.engine, region.slug, login, "Chef de projet")
    directory.set_password(region.engine, login, PASSWORD)
    return login


def form_token(client: httpx.Client, suite: str | None = None) -> str:
    """Open the sign-in form (as a browser does first): its token, also in a cookie."""
    answer = client.get("/connexion", params={"suite": suite} if suite else None)
    assert answer.status_code == 200, answer.text
    found = re.search(r'name="form_token" value="([^"]+)"', answer.text)
    assert found is not None
    return found.group(1)


def post_sign_in(
    client: httpx.Client,
    login: str,
    password: str = PASSWORD,
    suite: str | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> httpx.Response:
    data = {"login": login, "password": password, "suite": suite or ""}
    data["form_token"] = token if token is not None else form_token(client)
    return client.post("/connexion", data=data, headers=headers)


@contextlib.contextmanager
def signed_in(base_url: str, login: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in as `login` through the form."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = post_sign_in(client, login)
        assert answer.status_code == 303, answer.text
        assert client.cookies.get("pvp_hub_session")
        yield client


def visit(
    client: httpx.Client,
    site: Site,
    partner: str,
    ticket: str,
    name: str | None = None,
    at: datetime | None = None,
) -> uuid.UUID:
    """A visit checked in at `site` (and its name shared with consent, when given)."""
    visit_id = uuid.uuid4()
    checked_in = event(visit_id, "checked_in", at)
    checked_in["data"] = {"partner": partner, "ticket": ticket, "kind": "walk_in"}
    events: list[dict[str, Any]] = [checked_in]
    if name is not None:
        events.append(event(visit_id, "name_shared", at, name=name, consent=True))
    answer = push(client, site, events)
    assert answer.status_code == 200, answer.text
    return visit_id


def sessions_of(engine: Engine, login: str) -> int:
    """How many sessions the person with this login has (made by any sign-in)."""
    from pvp_hub.schema import admins, agents

    with engine.connect() as conn:
        ids = [
            *conn.execute(select(agents.c.id).where(agents.c.login == login)).scalars(),
            *conn.execute(select(admins.c.id).where(admins.c.login == login)).scalars(),
        ]
        return int(
            conn.execute(
                select(func.count())
                .select_from(person_sessions)
                .where(person_sessions.c.person_id.in_(ids))
            ).scalar_one()
        )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
