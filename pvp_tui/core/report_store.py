"""A report of events kept elsewhere (the regional hub's copy of sites' event logs), by
the very rules of a site's own report.

`activity_report` reads a site store. Events kept elsewhere are written into a
throw-away site store (the site's schema, in a temporary folder removed afterwards), as
a site's own log holds them, and that store is read by `activity_report`: one set of
rules, whoever asks. What the store must hold for the report to come out the same:

- the events in the order they happened (the site's `seq` order: the report tells a
  no-show undone by "back to waiting" from the reverse by it);
- one `visits` row per visit carrying the visitor's accessibility needs: a visit opened
  by a transfer has none in its `transferred_in` event, its needs are the visitor's,
  carried from the visit it came from (the site copies them on the new visit's row).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import events as ev
from .clock import to_iso
from .config import Config
from .reports import ActivityReport, Period, activity_report, refresh_summaries
from .store import Store

CHUNK = 5_000  # events per insert: bounded memory whatever the period's size
SCRATCH_PREFIX = "pvp-report-"
WHOLE_LOG = 1 << 62
STALE_AFTER = timedelta(hours=6)  # no report takes this long: its process is gone


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of a site's visit log, as the site recorded it. `at` and `data` may
    come as the store keeps them (UTC ISO text with milliseconds, as `to_iso` writes
    it; JSON text), which spares a large report converting them back and forth."""

    id: str
    visit_id: str
    at: datetime | str  # with its zone, or to_iso's text
    type: str
    data: Mapping[str, Any] | str  # or its JSON text


def report_from_events(
    events: Iterable[LoggedEvent], config: Config, period: Period
) -> ActivityReport:
    """`activity_report` over `events`, given in the order they happened: the visits
    that entered a queue in `period` or in the period before it (which the report
    compares with), with all their events, and the entries of the visits they were
    transferred from. `config` names the site (its id, name and time zone) and the
    partners the report lists."""
    with scratch_store() as store:
        load_events(store, config.site.id, events)
        # Nobody else writes to this store: its summaries in one go, not in chunks.
        refresh_summaries(store, chunk=WHOLE_LOG)
        return activity_report(store, config, period)


@contextlib.contextmanager
def scratch_store() -> Iterator[Store]:
    """An empty site store in a temporary folder, removed with everything in it at the
    end, whatever happens."""
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as folder:
        store = Store(Path(folder) / "report.db", create=True)
        try:
            # A throw-away file: no fsync, no journal on disk, no zeroing of deleted
            # rows, no foreign-key check (visits come last, below).
            for pragma in (
                "synchronous = OFF",
                "journal_mode = MEMORY",
                "secure_delete = OFF",
                "foreign_keys = OFF",
                "cache_size = -65536",
            ):
                store.conn.execute(f"PRAGMA {pragma}")
            yield store
        finally:
            store.close()


def remove_stale_scratch(now: float | None = None) -> int:
    """Remove the scratch stores a process killed in the middle of a report left behind
    (older than STALE_AFTER); returns how many. A server calls it now and then."""
    removed = 0
    limit = (time.time() if now is None else now) - STALE_AFTER.total_seconds()
    for folder in Path(tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder)
                removed += 1
    return removed


def load_events(store: Store, site_id: str, events: Iterable[LoggedEvent]) -> int:
    """Append `events` (in the order they happened) to the store's log, as `site_id`'s,
    with one visit row per visit; returns how many events were written."""
    # The log's own indexes are built once at the end, as the schema defines them: twice
    # as fast as keeping them up to date row by row (the id's uniqueness stays checked).
    indexes = store.query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL"
    )
    with store.transaction() as db:
        for index in indexes:
            db.execute(f'DROP INDEX "{index["name"]}"')
    needs: dict[str, str] = {}  # visit -> the visitor's needs (JSON, as a visit row holds)
    first: dict[str, str] = {}
    count = 0
    chunk: list[tuple[str, str, str, str, str, str]] = []
    for event in events:
        visit = event.visit_id
        at = event.at if isinstance(event.at, str) else to_iso(event.at)
        data = event.data
        text = data if isinstance(data, str) else json.dumps(dict(data), sort_keys=True)
        first.setdefault(visit, at)
        if event.type in (ev.CHECKED_IN, ev.TRANSFERRED_IN):
            details = json.loads(data) if isinstance(data, str) else data
            if event.type == ev.CHECKED_IN:
                needs[visit] = json.dumps(sorted(details.get("needs") or []))
            else:  # the visitor's needs, from the visit they were transferred from
                needs[visit] = needs.get(str(details.get("from_visit")), "[]")
        chunk.append((event.id, visit, site_id, at, event.type, text))
        if len(chunk) >= CHUNK:
            count += _write_events(store, chunk)
    count += _write_events(store, chunk)
    with store.transaction() as db:
        for index in indexes:
            db.execute(index["sql"])
        db.conn.executemany(
            "INSERT INTO visits (id, site_id, day, prefix, seq, ticket, partner_id, status, "
            "kind, needs, arrived_at, updated_at) "
            "VALUES (?, ?, ?, '', 0, ?, '', 'done', 'walk_in', ?, ?, ?)",
            (
                # The ticket is the visit's id: unique, and no report reads it.
                (visit, site_id, at[:10], visit, needs.get(visit, "[]"), at, at)
                for visit, at in first.items()
            ),
        )
    return count


def _write_events(store: Store, chunk: list[tuple[str, str, str, str, str, str]]) -> int:
    if not chunk:
        return 0
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO events (id, visit_id, site_id, at, type, data) VALUES (?, ?, ?, ?, ?, ?)",
            chunk,
        )
    written = len(chunk)
    chunk.clear()
    return written
