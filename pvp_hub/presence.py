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
        rows = [
            {"b_id": site_id, "b_at": datetime.fromtimestamp(at, UTC)}
            # Always the same order: two processes writing the same rows never deadlock.
            for site_id, at in sorted(pending.items())
        ]
        try:
            with write_transaction(engine) as conn:
                conn.execute(_SET_LAST_SEEN, rows)
        except BaseException:
            self.put_back(pending)
            raise
        return len(rows)


# One per process: every request's token check notes its site here.
LAST_SEEN = LastSeen()
