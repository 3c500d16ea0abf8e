"""Builds a database with a site's long history for benchmarks: fast bulk inserts that
follow the store's schema and the front desk's event shapes."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pvp_tui.core.clock import to_iso
from pvp_tui.core.config import Config
from pvp_tui.core.store import Store

OUTCOMES = ("resolved", "resolved", "resolved", "follow_up", "redirected", "technical_failure")


def populate(
    path: Path, config: Config, now: datetime, past: int, waiting: int, seed: int = 7
) -> None:
    """`past` finished visits spread over the days before `now`, `waiting` waiting today."""
    rng = random.Random(seed)
    store = Store(path, create=True)
    partners = list(config.partners)
    tz = config.site.timezone
    visits: list[tuple] = []
    details: list[tuple] = []
    events: list[tuple] = []
    seqs: dict[tuple[str, str], int] = {}

    def add(arrived: datetime, status: str, partner_index: int) -> None:
        partner = partners[partner_index]
        day = arrived.astimezone(tz).date().isoformat()
        seq = seqs[(day, partner.prefix)] = seqs.get((day, partner.prefix), 0) + 1
        visit_id = str(uuid.uuid4())
        called = started = ended = None
        outcome = None
        evs = [("checked_in", arrived, {"partner": partner.id, "kind": "walk_in"})]
        if status == "done":
            called = arrived + timedelta(minutes=rng.randint(1, 40))
            started = called + timedelta(minutes=rng.randint(1, 5))
            ended = started + timedelta(minutes=rng.randint(8, 45))
            outcome = rng.choice(OUTCOMES)
            evs += [
                ("called", called, {}),
                ("started", started, {}),
                ("finished", ended, {"outcome": outcome}),
            ]
        visits.append(
            (
                visit_id,
                config.site.id,
                day,
                partner.prefix,
                seq,
                f"{partner.prefix}-{seq:03d}",
                partner.id,
                status,
                "walk_in",
                None,
                int(rng.random() < 0.05),
                "[]",
                outcome,
                to_iso(arrived),
                to_iso(called) if called else None,
                to_iso(started) if started else None,
                to_iso(ended) if ended else None,
                None,
                to_iso(ended or arrived),
            )
        )
        if status == "waiting":
            details.append((visit_id, f"Visiteur {len(visits)}", None, ""))
        for kind, at, data in evs:
            events.append(
                (
                    str(uuid.uuid4()),
                    visit_id,
                    config.site.id,
                    to_iso(at),
                    kind,
                    json.dumps(data),
                    "bench",
                )
            )

    start = now - timedelta(days=max(1, past // 40))
    for index in range(past):
        arrived = start + (now - timedelta(days=1) - start) * (index / max(1, past))
        add(arrived.replace(hour=9 + index % 8, tzinfo=UTC), "done", index % len(partners))
    # Today's arrivals fall between the site's midnight and now, at any hour: a visit
    # waiting since the day before is closed at the next start, not shown as waiting.
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    for index in range(waiting):
        arrived = midnight + (now - midnight) * ((index + 0.5) / waiting)
        add(arrived.astimezone(UTC), "waiting", index % len(partners))
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO visits (id, site_id, day, prefix, seq, ticket, partner_id, status, kind,"
            " appointment_at, priority, needs, outcome, arrived_at, called_at, started_at,"
            " ended_at, transferred_from, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            visits,
        )
        db.conn.executemany("INSERT INTO visitor_details VALUES (?,?,?,?)", details)
        db.conn.executemany(
            "INSERT INTO events (id, visit_id, site_id, at, type, data, actor)"
            " VALUES (?,?,?,?,?,?,?)",
            events,
        )
    store.close()
