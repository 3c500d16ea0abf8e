"""Credentials: sites' bearer tokens and people's passwords.

A site token is 256 random bits, so one SHA-256 is the right hash for it (nothing to
brute-force, and it costs microseconds per request); a password is weak by nature, so it
is hashed with argon2id (about 135 ms and 64 MiB: never on the event loop).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from .database import as_uuid, run_on_driver
from .errors import unauthorized
from .presence import LAST_SEEN
from .schema import regions, site_tokens, sites

TOKEN_PREFIX = "pvphub_"
PASSWORD_MIN = 12


@dataclass(frozen=True)
class SiteIdentity:
    """The site a request's token belongs to."""

    id: uuid.UUID
    slug: str
    name: str
    timezone: str
    region_id: uuid.UUID
    region_slug: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_SITE_BY_TOKEN = (
    select(
        site_tokens.c.token_sha256,
        sites.c.id,
        sites.c.slug,
        sites.c.name,
        sites.c.timezone,
        sites.c.region_id,
        regions.c.slug.label("region_slug"),
    )
    .join(sites, sites.c.id == site_tokens.c.site_id)
    .join(regions, regions.c.id == sites.c.region_id)
    .where(site_tokens.c.revoked_at.is_(None), site_tokens.c.token_sha256 == bindparam("digest"))
)  # built once: every request reuses its compiled form


def authenticate_site(conn: Connection, token: str | None) -> SiteIdentity:
    """The site whose live token this is; 401 (the same answer whatever is wrong) else."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise unauthorized()
    digest = token_digest(token)
    # Every request runs this statement: on the driver's own cursor, it costs a quarter of
    # going through SQLAlchemy's execution. Same connection, same transaction.
    cursor = run_on_driver(conn, _SITE_BY_TOKEN, {"digest": digest})
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    # The index found the row; the constant-time compare keeps the check itself timing-safe.
    if row is None or not hmac.compare_digest(row[0], digest):
        raise unauthorized()
    site = SiteIdentity(as_uuid(row[1]), row[2], row[3], row[4], as_uuid(row[5]), row[6])
    LAST_SEEN.saw(site.id)  # written every few seconds by the app (presence.py)
    return site


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash (no password set yet) never matches."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    if not stored_hash:
        return False
    try:
        return PasswordHasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> str | None:
    """Why `password` is refused, or None."""
    if len(password) < PASSWORD_MIN:
        return f"the password must have at least {PASSWORD_MIN} characters"
    if any(not ch.isprintable() for ch in password):
        return "the password must not contain control characters"
    return None
