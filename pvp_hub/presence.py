"""When each site was last seen: any request its token authenticated.

Never one write per request: each hub process keeps site id -> last time in memory and
writes them every few seconds (`[sync] last_seen_seconds`, 10 by default), as one
`executemany` of an UPDATE that never moves a time backwards (several processes write
the same rows), and once more at shutdown. A process killed outright loses at most that
interval: the site is seen again on its next sync.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, or_, update

from .database import write_transaction
from .schema import sites

_SET_LAST_SEEN = (
    update(sites)
    .where(
        sites.c.id == bindparam("b_id"),
        or_(sites.c.last_seen_at.is_(None), sites.c.last_seen_at < bindparam("b_at")),
    )
    .values(last_seen_at=bindparam("b_at"))
)


# On PostgreSQL the same in two statements whatever the number of sites (the ids and the
# times as two arrays): as one `executemany` through SQLAlchemy, 2,840 sites cost 51 ms
# of Python in a worker thread every 10 s, holding the interpreter's lock against the
# event loop (the requests in flight waited: a burst of late answers every 10 s at 700
# requests/s). The rows are locked first, in the ids' order, so two processes writing
# the same rows never deadlock (an UPDATE ... FROM's join has no order of its own).
# (Each array goes as one comma-separated text: psycopg adapts a list item by item.)
_LOCK_SITES_PG = (
    "SELECT 1 FROM sites WHERE id = ANY(string_to_array(%s, ',')::uuid[])"
    " ORDER BY id FOR NO KEY UPDATE"
)
_SET_LAST_SEEN_PG = (
    "UPDATE sites AS s SET last_seen_at = v.at FROM (SELECT u.id, to_timestamp(u.epoch) AS at"
    " FROM unnest(string_to_array(%s, ',')::uuid[], string_to_array(%s, ',')::float8[])"
    " AS u(id, epoch)) AS v"
    " WHERE s.id = v.id AND (s.last_seen_at IS NULL OR s.last_seen_at < v.at)"
)


class LastSeen:
    """Site id -> the last time (epoch seconds) it was seen, since the last write."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, float] = {}
        self._lock = threading.Lock()

    def saw(self, site_id: uuid.UUID) -> None:
        """Called on every authenticated request: a dict write, nothing else."""
        now = time.time()
        with self._lock:
            self._pending[site_id] = now

    def take(self) -> dict[uuid.UUID, float]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def put_back(self, pending: dict[uuid.UUID, float]) -> None:
        """After a failed write: kept for the next one (later times win)."""
        with self._lock:
            for site_id, at in pending.items():
                if at > self._pending.get(site_id, 0.0):
                    self._pending[site_id] = at

    def flush(self, engine: Engine) -> int:
        """Write what was seen since the last flush; the number of sites written."""
        pending = self.take()
        if not pending:
            return 0
        # Always the same order: two processes writing the same rows never deadlock.
        ordered = sorted(pending.items())
        try:
            with write_transaction(engine) as conn:
                if conn.dialect.name == "postgresql":
                    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                    ids = ",".join([str(site_id) for site_id, _ in ordered])
                    cursor.execute(_LOCK_SITES_PG, (ids,))
                    times = ",".join([repr(at) for _, at in ordered])
                    cursor.execute(_SET_LAST_SEEN_PG, (ids, times))
                    cursor.close()
                else:
                    conn.execute(_SET_LAST_SEEN, [
                        {"b_id": site_id, "b_at": datetime.fromtimestamp(at, UTC)}
                        for site_id, at in ordered
                    ])  # fmt: skip
        except BaseException:
            self.put_back(pending)
            raise
        return len(ordered)


# One per process: every request's token check notes its site here.
LAST_SEEN = LastSeen()
