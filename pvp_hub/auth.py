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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .database import as_uuid
from .errors import unauthorized
from .presence import LAST_SEEN
from .steps import Sql, Steps, drive

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


# The site of a live token, by its digest. Written once, as `%s` SQL for the runners
# (steps.py); `SITE_COLUMNS` are the columns `site_of_row` reads, first in every row.
SITE_COLUMNS = (
    "t.token_sha256, s.id, s.slug, s.name, s.timezone, s.region_id, r.slug AS region_slug"
)
SITE_OF_TOKEN = (
    "FROM site_tokens t JOIN sites s ON s.id = t.site_id JOIN regions r ON r.id = s.region_id"
    " WHERE t.revoked_at IS NULL AND t.token_sha256 = %s"
)
_SITE_BY_TOKEN = f"SELECT {SITE_COLUMNS} {SITE_OF_TOKEN}"


def token_digest_of(token: str | None) -> str:
    """The digest to look `token` up by; 401 at once for what cannot be a token."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise unauthorized()
    return token_digest(token)


def site_of_row(row: Sequence[Any] | None, digest: str) -> SiteIdentity:
    """The site of a row starting with `SITE_COLUMNS`; 401 (the same answer whatever is
    wrong) when there is none."""
    # The index found the row; the constant-time compare keeps the check itself timing-safe.
    if row is None or not hmac.compare_digest(row[0], digest):
        raise unauthorized()
    site = SiteIdentity(as_uuid(row[1]), row[2], row[3], row[4], as_uuid(row[5]), row[6])
    LAST_SEEN.saw(site.id)  # written every few seconds by the app (presence.py)
    return site


def site_steps(token: str | None) -> Steps[SiteIdentity]:
    """The site whose live token this is (steps for a runner, steps.py); 401 else."""
    digest = token_digest_of(token)
    rows = yield Sql(_SITE_BY_TOKEN, (digest,))
    return site_of_row(rows[0] if rows else None, digest)


def authenticate_site(conn: Connection, token: str | None) -> SiteIdentity:
    """`site_steps` on `conn`, in its transaction."""
    return drive(conn, site_steps(token))


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
