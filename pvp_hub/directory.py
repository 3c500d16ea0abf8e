"""Who is who: regions, sites, partners, agents, admins and site tokens.

What `pvp-hub admin ...` calls. Every change a site must learn (its own record, the
region's partners) also appends a row to `changes`, in the same transaction: the pull
endpoint's cursor walks that log.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, text, update

from pvp_common.rooms import is_local
from pvp_tui.core.config import Partner, parse_partner_tables

from . import auth
from .database import is_postgresql, run_on_driver, write_transaction
from .errors import HubError
from .schema import (
    admins,
    agent_sites,
    agents,
    changes,
    partners,
    person_sessions,
    regions,
    site_tokens,
    sites,
)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # the site config's own rule for ids
LOGIN_RE = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


def refused(message: str, code: str = "refused") -> HubError:
    return HubError(400, code, message)


def now() -> datetime:
    return datetime.now(UTC)


def _slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise refused(f"{what} {value!r}: lowercase letters, digits and dashes (at most 32)")
    return value


def _name(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 200 or any(not ch.isprintable() for ch in value):
        raise refused(f"{what}: a name of 1 to 200 printable characters")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise refused(f"unknown time zone {value!r} (for example 'Europe/Paris')") from None
    return value


def record_change(
    conn: Connection,
    region_id: uuid.UUID,
    kind: str,
    object_id: uuid.UUID,
    site_id: uuid.UUID | None = None,
) -> None:
    """Append to the change log. On PostgreSQL the log is locked against other writers
    first, so sequence numbers commit in order and no reader's cursor skips one (unless
    the caller took that lock for the whole transaction: `changes_locked`)."""
    if is_postgresql(conn) and getattr(_HELD, "conn", None) is not conn:
        run_on_driver(conn, _LOCK_CHANGES, {}).close()
    params = {"region": region_id, "site": site_id, "kind": kind, "object": object_id, "at": now()}
    run_on_driver(conn, _NEW_CHANGE, params).close()


_LOCK_CHANGES = text("LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE")
_HELD = threading.local()


@contextlib.contextmanager
def changes_locked(conn: Connection) -> Iterator[None]:
    """Take the change log's lock once for the rest of `conn`'s transaction (a batch of
    changes): `record_change` on `conn`, in this thread, then does not take it again."""
    if is_postgresql(conn):
        run_on_driver(conn, _LOCK_CHANGES, {}).close()
    _HELD.conn = conn
    try:
        yield
    finally:
        _HELD.conn = None


_NEW_CHANGE = changes.insert().values(
    region_id=bindparam("region"),
    site_id=bindparam("site"),
    kind=bindparam("kind"),
    object_id=bindparam("object"),
    at=bindparam("at"),
)


# ------------------------------------------------------------------------------ regions
def create_region(engine: Engine, slug: str, name: str) -> uuid.UUID:
    region_id = uuid.uuid4()
    with write_transaction(engine) as conn:
        if conn.execute(
            select(regions.c.id).where(regions.c.slug == _slug(slug, "region"))
        ).first():
            raise refused(f"region {slug!r} already exists", "exists")
        conn.execute(
            regions.insert().values(
                id=region_id, slug=slug, name=_name(name, "region name"), created_at=now()
            )
        )
    return region_id


def list_regions(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(regions).order_by(regions.c.slug)).mappings().all()
    return [dict(r) for r in rows]


def region_id_of(conn: Connection, slug: str | None) -> uuid.UUID:
    """The region named `slug`; with no name, the only region (refused when there are
    several, so an admin never acts on the wrong one)."""
    if slug is None:
        ids = conn.execute(select(regions.c.id).limit(2)).scalars().all()
        if len(ids) == 1:
            return ids[0]
        raise refused(
            "no region yet: create one with `pvp-hub admin region add`"
            if not ids
            else "there are several regions: say which with --region",
            "region_needed",
        )
    found = conn.execute(select(regions.c.id).where(regions.c.slug == slug)).scalar()
    if found is None:
        raise HubError(404, "unknown_region", f"unknown region {slug!r}")
    return found


# -------------------------------------------------------------------------------- sites
def create_site(
    engine: Engine, region: str | None, slug: str, name: str, timezone: str = "Europe/Paris"
) -> uuid.UUID:
    site_id = uuid.uuid4()
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        _slug(slug, "site")
        if site_id_of(conn, region_id, slug, missing_ok=True):
            raise refused(f"site {slug!r} already exists in this region", "exists")
        conn.execute(
            sites.insert().values(
                id=site_id,
                region_id=region_id,
                slug=slug,
                name=_name(name, "site name"),
                timezone=_timezone(timezone),
                created_at=now(),
            )
        )
        record_change(conn, region_id, "site", site_id, site_id=site_id)
    return site_id


def site_id_of(
    conn: Connection, region_id: uuid.UUID, slug: str, missing_ok: bool = False
) -> uuid.UUID | None:
    found = conn.execute(
        select(sites.c.id).where(sites.c.region_id == region_id, sites.c.slug == slug)
    ).scalar()
    if found is None and not missing_ok:
        raise HubError(404, "unknown_site", f"unknown site {slug!r} in this region")
    return found


def list_sites(engine: Engine, region: str | None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        region_id = region_id_of(conn, region)
        rows = conn.execute(
            select(sites.c.slug, sites.c.name, sites.c.timezone, sites.c.id)
            .where(sites.c.region_id == region_id)
            .order_by(sites.c.slug)
        ).mappings()
        return [dict(r) for r in rows]


# ----------------------------------------------------------------------------- partners
@dataclass(frozen=True)
class RoomApi:
    """A partner whose rooms are made through a server-to-server API (the state's Visio)."""

    url: str
    domains: tuple[str, ...]


def partner_row(partner: Partner, room_api: RoomApi | None = None) -> dict[str, Any]:
    """A partner as the hub stores and serves it: the shape of a site config's table."""
    hours = {
        day: [f"{_hhmm(start)}-{_hhmm(end)}" for start, end in spans]
        for day, spans in partner.hours.items()
    }
    room: dict[str, Any] | None = None
    if room_api is not None:
        room = {"kind": "api", "url": room_api.url, "domains": list(room_api.domains)}
    elif partner.room_url:
        room = {"kind": "url", "url": partner.room_url, "domains": list(partner.room_domains)}
    return {
        "slug": partner.id,
        "name": partner.name,
        "prefix": partner.prefix,
        "interview_minutes": partner.interview_minutes,
        "hours": hours,
        "document_types": list(partner.document_types),
        "room": room,
    }


def partner_row_public(row: Any) -> dict[str, Any]:
    """A stored partner as sites receive it (the shape of a site config's table)."""
    return {
        "id": row["slug"],
        "name": row["name"],
        "prefix": row["prefix"],
        "interview_minutes": row["interview_minutes"],
        "hours": row["hours"],
        "document_types": row["document_types"],
        "room": row["room"],
    }


def _hhmm(moment: time) -> str:
    # The config reads "24:00" as the end of the day (time.max); write it back the same way.
    return "24:00" if moment == time.max else f"{moment:%H:%M}"


def check_partners(tables: Any) -> list[Partner]:
    """Partners from site-config-shaped tables, by the site config's own rules."""
    parsed, problems = parse_partner_tables(tables)
    if problems:
        raise HubError(400, "invalid_partner", "the partner is not valid", problems)
    return parsed


def check_room_api(url: str, domains: list[str]) -> RoomApi:
    parts = urlsplit(url)
    local = parts.scheme == "http" and is_local(parts.hostname or "")  # a stand-in, in tests
    if (parts.scheme != "https" and not local) or not parts.hostname:
        raise refused(f"room API {url!r}: must be an https:// URL")
    if parts.hostname not in domains:
        raise refused(f"room API {url!r}: its host {parts.hostname} is not in the room domains")
    return RoomApi(url, tuple(domains))


def save_partners(
    engine: Engine, region: str | None, items: list[Partner], room_api: RoomApi | None = None
) -> list[str]:
    """Create or replace partners by id; what each one was ("added" / "updated")."""
    results: list[str] = []
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        for partner in items:
            row = partner_row(partner, room_api)
            existing = conn.execute(
                select(partners.c.id).where(
                    partners.c.region_id == region_id, partners.c.slug == partner.id
                )
            ).scalar()
            clash = conn.execute(
                select(partners.c.slug).where(
                    partners.c.region_id == region_id,
                    partners.c.prefix == partner.prefix,
                    partners.c.slug != partner.id,
                )
            ).scalar()
            if clash:
                raise refused(
                    f"partner {partner.id}: prefix {partner.prefix!r} is already {clash}'s "
                    "(tickets would clash)"
                )
            if existing is None:
                existing = uuid.uuid4()
                conn.execute(
                    partners.insert().values(
                        id=existing, region_id=region_id, updated_at=now(), **row
                    )
                )
                results.append(f"{partner.id}: added")
            else:
                conn.execute(
                    update(partners)
                    .where(partners.c.id == existing)
                    .values(updated_at=now(), removed_at=None, **row)  # a removed one: back
                )
                results.append(f"{partner.id}: updated")
            record_change(conn, region_id, "partner", existing)
    return results


def list_partners(engine: Engine, region: str | None) -> list[dict[str, Any]]:
    """The region's partners in its directory (not those removed)."""
    with engine.connect() as conn:
        region_id = region_id_of(conn, region)
        rows = conn.execute(
            select(partners)
            .where(partners.c.region_id == region_id, partners.c.removed_at.is_(None))
            .order_by(partners.c.slug)
        ).mappings()
        return [dict(r) for r in rows]


def remove_partner(engine: Engine, region: str | None, slug: str) -> str:
    """Take a partner out of the directory: the sites stop offering it at their next pull
    and keep its name for past visits. Its row stays (agents, reports, its ticket prefix:
    adding it again brings it back)."""
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        found = conn.execute(
            select(partners.c.id, partners.c.removed_at).where(
                partners.c.region_id == region_id, partners.c.slug == slug
            )
        ).first()
        if found is None:
            raise HubError(404, "unknown_partner", f"unknown partner {slug!r}")
        if found.removed_at is not None:
            raise refused(f"partner {slug} is already removed", "already_removed")
        conn.execute(update(partners).where(partners.c.id == found.id).values(removed_at=now()))
        record_change(conn, region_id, "partner", found.id)
    return f"{slug}: removed"


# ------------------------------------------------------------------- agents and admins
def create_agent(
    engine: Engine,
    region: str | None,
    login: str,
    name: str,
    partner: str,
    site_slugs: list[str] | None,
) -> uuid.UUID:
    """An agent of one partner, for the listed sites (None: every site of the region)."""
    agent_id = uuid.uuid4()
    login = _login(login)
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        partner_id = conn.execute(
            select(partners.c.id).where(
                partners.c.region_id == region_id, partners.c.slug == partner
            )
        ).scalar()
        if partner_id is None:
            raise HubError(404, "unknown_partner", f"unknown partner {partner!r} in this region")
        _login_free(conn, login)
        site_ids = [site_id_of(conn, region_id, s) for s in site_slugs or []]
        conn.execute(
            agents.insert().values(
                id=agent_id,
                region_id=region_id,
                partner_id=partner_id,
                login=login,
                name=_name(name, "agent name"),
                all_sites=site_slugs is None,
                created_at=now(),
            )
        )
        for site_id in dict.fromkeys(site_ids):
            conn.execute(agent_sites.insert().values(agent_id=agent_id, site_id=site_id))
    return agent_id


def list_agents(engine: Engine, region: str | None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        region_id = region_id_of(conn, region)
        site_list = (
            select(func.count())
            .select_from(agent_sites)
            .where(agent_sites.c.agent_id == agents.c.id)
            .scalar_subquery()
        )
        rows = conn.execute(
            select(
                agents.c.login,
                agents.c.name,
                partners.c.slug.label("partner"),
                agents.c.all_sites,
                site_list.label("site_count"),
                agents.c.password_hash.is_not(None).label("has_password"),
                agents.c.disabled_at.is_not(None).label("disabled"),
            )
            .join(partners, partners.c.id == agents.c.partner_id)
            .where(agents.c.region_id == region_id)
            .order_by(agents.c.login)
        ).mappings()
        return [dict(r) for r in rows]


def set_agent_disabled(engine: Engine, region: str | None, login: str, disabled: bool) -> bool:
    """Disable an agent (who left, or whose account is in doubt: their sessions end at
    once and they can no longer sign in) or enable them again; False when it was so
    already. The agent's history stays."""
    login = _login(login)
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        row = conn.execute(
            select(agents.c.id, agents.c.disabled_at).where(
                agents.c.region_id == region_id, agents.c.login == login
            )
        ).first()
        if row is None:
            raise HubError(404, "unknown_agent", f"no agent has the login {login!r} in this region")
        if (row.disabled_at is not None) == disabled:
            return False
        conn.execute(
            update(agents)
            .where(agents.c.id == row.id)
            .values(disabled_at=now() if disabled else None)
        )
        if disabled:
            conn.execute(
                delete(person_sessions).where(
                    person_sessions.c.kind == "agent", person_sessions.c.person_id == row.id
                )
            )
    return True


def create_admin(engine: Engine, region: str | None, login: str, name: str) -> uuid.UUID:
    """An admin of one region, or of every region when `region` is None."""
    admin_id = uuid.uuid4()
    login = _login(login)
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region) if region is not None else None
        _login_free(conn, login)
        conn.execute(
            admins.insert().values(
                id=admin_id,
                region_id=region_id,
                login=login,
                name=_name(name, "admin name"),
                created_at=now(),
            )
        )
    return admin_id


def list_admins(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                admins.c.login,
                admins.c.name,
                regions.c.slug.label("region"),
                admins.c.password_hash.is_not(None).label("has_password"),
            )
            .outerjoin(regions, regions.c.id == admins.c.region_id)
            .order_by(admins.c.login)
        ).mappings()
        return [{**r, "region": r["region"] or "(every region)"} for r in rows]


def set_password(engine: Engine, login: str, password: str) -> str:
    """Set an agent's or an admin's password (argon2id) and end their sessions; which
    kind of account it was."""
    problem = auth.check_password_strength(password)
    if problem:
        raise refused(problem, "weak_password")
    hashed = auth.hash_password(password)  # slow on purpose: outside the transaction
    with write_transaction(engine) as conn:
        for table, kind in ((agents, "agent"), (admins, "admin")):
            person_id = conn.execute(
                update(table)
                .where(table.c.login == login)
                .values(password_hash=hashed)
                .returning(table.c.id)
            ).scalar()
            if person_id is not None:
                # A new password ends the sessions opened with the old one.
                conn.execute(
                    delete(person_sessions).where(
                        person_sessions.c.kind == kind, person_sessions.c.person_id == person_id
                    )
                )
                return kind
    raise HubError(404, "unknown_login", f"no agent or admin has the login {login!r}")


def _login(login: str) -> str:
    login = login.strip().lower()
    if not LOGIN_RE.match(login) or len(login) > 254:
        raise refused(f"login {login!r}: an e-mail address, e.g. prenom.nom@caf.fr")
    return login


def _login_free(conn: Connection, login: str) -> None:
    for table in (agents, admins):
        if conn.execute(select(table.c.id).where(table.c.login == login)).first():
            raise refused(f"login {login!r} is already used", "exists")


# ---------------------------------------------------------------------------- tokens
def issue_token(
    engine: Engine, region: str | None, site: str, label: str = ""
) -> tuple[uuid.UUID, str]:
    """A new token for the site: (its id, the token). The token is shown once; only its
    hash is kept."""
    token = auth.new_token()
    token_id = uuid.uuid4()
    with write_transaction(engine) as conn:
        site_id = site_id_of(conn, region_id_of(conn, region), site)
        conn.execute(
            site_tokens.insert().values(
                id=token_id,
                site_id=site_id,
                token_sha256=auth.token_digest(token),
                label=label.strip()[:200],
                created_at=now(),
            )
        )
    return token_id, token


def revoke_token(engine: Engine, token_id: str) -> None:
    try:
        wanted = uuid.UUID(token_id)
    except ValueError:
        raise refused(f"{token_id!r} is not a token id (see `pvp-hub admin token list`)") from None
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(site_tokens)
            .where(site_tokens.c.id == wanted, site_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        if not done.rowcount:
            raise HubError(404, "unknown_token", f"no live token has the id {token_id}")


def list_tokens(engine: Engine, region: str | None, site: str | None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        region_id = region_id_of(conn, region)
        query = (
            select(
                site_tokens.c.id,
                sites.c.slug.label("site"),
                site_tokens.c.label,
                site_tokens.c.created_at,
                site_tokens.c.revoked_at,
            )
            .join(sites, sites.c.id == site_tokens.c.site_id)
            .where(sites.c.region_id == region_id)
            .order_by(sites.c.slug, site_tokens.c.created_at)
        )
        if site is not None:
            query = query.where(sites.c.id == site_id_of(conn, region_id, site))
        return [dict(r) for r in conn.execute(query).mappings()]
