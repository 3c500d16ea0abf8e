"""A site's status: what it says of itself (its queue, its kiosks' health, its app's
version), kept on its row for the region's view. No web framework in it.

The latest status by the site's own clock wins, whatever order they arrive in: an older
one (a retry that came late) is answered 200 and not kept, so sending one again is
harmless. Statuses are machine words and counts only: no text a person typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, bindparam, or_, select, update

from .auth import authenticate_site
from .config import SyncLimits
from .database import write_transaction
from .errors import HubError
from .schema import sites
from .sync import duration_words, input_error
from .wire import SiteStatus

STATUS_MAX_BYTES = 64 * 1024  # 50 kiosks with 20 codes each fit in well under this

Clock = Callable[[], datetime]

_STORE = (
    update(sites)
    .where(
        sites.c.id == bindparam("site"),
        or_(sites.c.status_at.is_(None), sites.c.status_at <= bindparam("at")),
    )
    .values(status=bindparam("status"), status_at=bindparam("at"))
)


def max_bytes(limits: SyncLimits) -> int:
    return min(limits.max_body_bytes, STATUS_MAX_BYTES)


def parse_status(body: bytes, limits: SyncLimits, now: datetime) -> SiteStatus:
    """The status in `body`, or a 400/422 naming every problem."""
    if b"\\u0000" in body:
        # PostgreSQL refuses NUL in jsonb; the patterns refuse it too, this says it plainly.
        raise HubError(422, "nul_character", "the NUL character (\\u0000) is not allowed in text")
    try:
        status = SiteStatus.model_validate_json(body)
    except ValidationError as exc:
        raise input_error(exc) from None
    problems: list[str] = []
    ahead = timedelta(seconds=limits.clock_skew_seconds)
    moments = [("checked_at", status.checked_at)]
    moments += [(f"kiosks[{i}].checked_at", k.checked_at) for i, k in enumerate(status.kiosks)]
    for where, moment in moments:
        if moment > now + ahead:
            problems.append(
                f"{where}: {duration_words(moment - now)} ahead of the hub's clock "
                "(is the site's clock right?)"
            )
    seen: set[str] = set()
    for i, kiosk in enumerate(status.kiosks):
        if kiosk.id in seen:
            problems.append(f"kiosks[{i}].id: {kiosk.id!r} is listed twice")
        seen.add(kiosk.id)
    if problems:
        raise HubError(422, "invalid_status", "the status cannot be taken", problems)
    return status


def put_status(
    engine: Engine,
    token: str | None,
    body: bytes,
    limits: SyncLimits,
    clock: Clock = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Keep the site's status unless a later one is kept already: the answer says which."""
    problem: HubError | None = None
    status: SiteStatus | None = None
    try:
        status = parse_status(body, limits, clock())
    except HubError as exc:
        problem = exc
    if problem is not None:
        # Refused input is answered only once the token is known good (as pushes are).
        with engine.connect() as conn:
            authenticate_site(conn, token)
        raise problem
    assert status is not None
    with write_transaction(engine) as conn:
        site = authenticate_site(conn, token)
        stored = conn.execute(
            _STORE,
            {"site": site.id, "at": status.checked_at, "status": status.model_dump(mode="json")},
        ).rowcount
        kept = conn.execute(select(sites.c.status_at).where(sites.c.id == site.id)).scalar_one()
    return {"stored": bool(stored), "status_at": kept.isoformat()}
