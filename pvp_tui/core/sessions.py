"""The kiosk's video session as the staff app sees it: live state and the visit's record.

The bridge runs the call (kiosk_bridge.session) and reports `session.state` and
`session.stats` events to every client. :class:`SessionTracker` folds those events, one at a
time and without IO, into a :class:`LiveSession` per kiosk (what the session view shows)
and into :class:`Record` s, the visit events :class:`SessionLog` writes:

| event | when | data |
|---|---|---|
| session_started | the bridge gave the session an id | kiosk, session, partner, room_host |
| session_agent_joined | first in_call | kiosk, session, agent_joined_at |
| session_reconnecting | each drop into reconnecting | kiosk, session, reconnects |
| session_quality | the call's quality changed | kiosk, session, quality, reasons |
| session_ended | ended or failed | kiosk, session, state, reason, worst_quality, |
|   |   | reconnects, seconds_in_call |
| session_incident | call lost, or staff fell back | kiosk, session, kind |
| session_satisfaction | the visitor touched a face | kiosk, session, answer |
|   | after the call (kiosk.satisfaction) |   |

Only the sessions this app started are recorded (another desk's pvp connected to the
same bridge sees the events too and ignores them), and the video's display name is the
visit's ticket: no visitor name ever reaches the bridge or these events.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from kiosk_bridge.shapes import SessionStats, SessionStatus

from . import events
from .clock import Clock
from .config import Config, room_address
from .errors import PvpError
from .frontdesk import FrontDesk
from .i18n import N_, _, in_language
from .models import Visit

RUNNING = ("launching", "connecting", "waiting_agent", "in_call", "reconnecting")
FINAL = ("ended", "failed")
QUALITIES = ("good", "degraded", "poor")
ANSWERS = ("good", "ok", "bad")  # the kiosk's three faces (kiosk.satisfaction)
HISTORY = 40  # stats samples kept per session for the sparklines

# Incident kinds (session_incident.kind).
CALL_LOST = "call_lost"
FALLBACK_PHONE = "fallback_phone"
NEW_APPOINTMENT = "new_appointment"
FALLBACKS = (FALLBACK_PHONE, NEW_APPOINTMENT)
INCIDENT_LABELS = {
    CALL_LOST: N_("call lost"),
    FALLBACK_PHONE: N_("fell back to a phone call"),
    NEW_APPOINTMENT: N_("new appointment offered"),
}


@dataclass(frozen=True)
class Record:
    """One visit event to write."""

    visit_id: str
    type: str
    data: dict[str, Any]


@dataclass
class LiveSession:
    """A session started from this app on one kiosk, as its events describe it."""

    kiosk: str
    visit_id: str
    ticket: str
    partner: str
    session: str | None = None  # the bridge's id, known from the first event or the reply
    state: str = "launching"
    reason: str | None = None
    message: dict[str, str] | None = None
    detail: str | None = None
    room_host: str = ""
    quality: str = "good"
    quality_reasons: tuple[str, ...] = ()
    worst_quality: str = "good"
    reconnects: int = 0
    started_at: str | None = None
    agent_joined_at: str | None = None
    ended_at: str | None = None
    elapsed_s: float = 0.0
    elapsed_read_at: float = 0.0  # monotonic time elapsed_s was read
    stats: deque[SessionStats] = field(default_factory=lambda: deque(maxlen=HISTORY))
    recorded: set[str] = field(default_factory=set)
    states_seen: int = 0
    acknowledged: bool = False  # staff saw the end (fell back, retried or finished)
    browser_gone: bool = False  # the bridge said idle: the kiosk can start another call

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def over(self) -> bool:
        return self.state in FINAL or self.state == "idle"

    @property
    def last_stats(self) -> Mapping[str, Any] | None:
        """The last session.stats, its figures read by name."""
        return self.stats[-1] if self.stats else None

    def elapsed(self, now: float) -> float:
        """Seconds since the session started (on the bridge), moving while it runs."""
        if self.running:
            return max(0.0, self.elapsed_s + now - self.elapsed_read_at)
        return self.elapsed_s

    def seconds_in_call(self) -> int:
        """From the agent's arrival to the end (the bridge's clock on both sides)."""
        if not self.agent_joined_at or not self.ended_at:
            return 0
        try:
            start = datetime.fromisoformat(self.agent_joined_at)
            end = datetime.fromisoformat(self.ended_at)
        except ValueError:
            return 0
        return max(0, round((end - start).total_seconds()))

    def series(self, key: str) -> list[float]:
        """The figure's recent values (missing ones left out) for a sparkline."""
        figures: list[Mapping[str, Any]] = list(self.stats)
        return [float(s[key]) for s in figures if isinstance(s.get(key), int | float)]

    def message_text(self) -> str:
        return in_language(self.message)


class SessionTracker:
    """Bridge events -> live sessions and visit records. Pure: no IO, no clock but
    `monotonic` (for the elapsed time on screen)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.sessions: dict[str, LiveSession] = {}  # kiosk -> its current or last session

    def get(self, kiosk: str) -> LiveSession | None:
        return self.sessions.get(kiosk)

    def for_visit(self, visit_id: str) -> LiveSession | None:
        found = [s for s in self.sessions.values() if s.visit_id == visit_id]
        running = [s for s in found if s.running]
        chosen = running or found
        return chosen[0] if chosen else None

    def busy(self, kiosk: str) -> bool:
        live = self.sessions.get(kiosk)
        return live is not None and live.running

    def begin(self, kiosk: str, visit: Visit) -> LiveSession:
        """A start request is about to be sent for this visit on this kiosk."""
        live = self.sessions.get(kiosk)
        if live is not None and live.running:
            raise PvpError(
                "session_busy",
                _("A call is already running on this kiosk ({ticket}): end it first.").format(
                    ticket=live.ticket
                ),
            )
        live = LiveSession(kiosk, visit.id, visit.ticket, visit.partner_id)
        live.elapsed_read_at = self.monotonic()
        self.sessions[kiosk] = live
        return live

    def adopt(self, kiosk: str, visit: Visit, session: str, recorded: Iterable[str]) -> LiveSession:
        """A session this site started earlier (pvp restarted meanwhile), found in the store:
        follow it again; `recorded` says which records it already has."""
        live = LiveSession(kiosk, visit.id, visit.ticket, visit.partner_id, session=session)
        live.recorded = set(recorded)
        live.elapsed_read_at = self.monotonic()
        self.sessions[kiosk] = live
        return live

    def abandon(self, live: LiveSession) -> None:
        """The start request failed before the bridge made a session: forget it."""
        if live.session is None and self.sessions.get(live.kiosk) is live:
            del self.sessions[live.kiosk]

    def reply(self, live: LiveSession, data: SessionStatus) -> list[Record]:
        """session.start's reply: the same shape as a state event."""
        if self.sessions.get(live.kiosk) is not live:
            return []
        if live.session is None and data.get("session"):
            live.session = str(data["session"])
        if live.states_seen:  # events already told more than the reply does
            return self._start_record(live, data)
        return self._state(live, data)

    def feed(self, kiosk: str, event: str, data: Any) -> list[Record]:
        """One bridge event (anything else is ignored)."""
        live = self.sessions.get(kiosk)
        if live is None or not isinstance(data, dict) or not self._ours(live, data):
            return []
        if event == "session.state":
            return self._state(live, cast(SessionStatus, data))
        if event == "session.stats":
            return self._stats(live, cast(SessionStats, data))
        if event == "kiosk.satisfaction":
            return self._satisfaction(live, data)
        return []

    def _satisfaction(self, live: LiveSession, data: Mapping[str, Any]) -> list[Record]:
        """The visitor's answer after the call: once per session, anonymous."""
        answer = data.get("answer")
        if answer not in ANSWERS or "satisfaction" in live.recorded:
            return []
        live.recorded.add("satisfaction")
        return [
            Record(
                live.visit_id,
                events.SESSION_SATISFACTION,
                {"kiosk": live.kiosk, "session": live.session, "answer": answer},
            )
        ]

    def _ours(self, live: LiveSession, data: Mapping[str, Any]) -> bool:
        sid = data.get("session")
        if live.session is None:
            if sid and data.get("display_name") == live.ticket:
                live.session = str(sid)
                return True
            return False
        return sid == live.session

    # ----------------------------------------------------------------- folding
    def _state(self, live: LiveSession, data: SessionStatus) -> list[Record]:
        state = str(data.get("state") or "")
        records = self._start_record(live, data)
        if state == "idle":
            live.browser_gone = True
            # The browser is gone. An end we missed (reconnected link) is in `last`.
            last = data.get("last")
            if "ended" not in live.recorded and isinstance(last, dict) and last.get("state"):
                ended = cast(SessionStatus, {**last, "session": live.session})
                return records + self._state(live, ended)
            return records
        previous = live.state
        live.states_seen += 1
        live.state = state
        for key in ("reason", "detail", "agent_joined_at", "started_at", "ended_at"):
            if key in data:
                setattr(live, key, data[key])
        message = data.get("message")
        live.message = message if isinstance(message, dict) else None
        if data.get("room_host"):
            live.room_host = str(data["room_host"])
        if data.get("quality") in QUALITIES:
            live.quality = data["quality"]
        if data.get("worst_quality") in QUALITIES:
            live.worst_quality = data["worst_quality"]
        if isinstance(data.get("reconnects"), int):
            live.reconnects = data["reconnects"]
        if isinstance(data.get("elapsed_s"), int | float):
            live.elapsed_s = float(data["elapsed_s"])
            live.elapsed_read_at = self.monotonic()
        base = {"kiosk": live.kiosk, "session": live.session}
        if state == "in_call" and "agent" not in live.recorded:
            live.recorded.add("agent")
            records.append(
                Record(
                    live.visit_id,
                    events.SESSION_AGENT_JOINED,
                    {**base, "agent_joined_at": live.agent_joined_at},
                )
            )
        if state == "reconnecting" and previous != "reconnecting":
            records.append(
                Record(
                    live.visit_id,
                    events.SESSION_RECONNECTING,
                    {**base, "reconnects": live.reconnects},
                )
            )
        if state in FINAL and "ended" not in live.recorded:
            live.recorded.add("ended")
            records.append(
                Record(
                    live.visit_id,
                    events.SESSION_ENDED,
                    {
                        **base,
                        "state": state,
                        "reason": live.reason,
                        "worst_quality": live.worst_quality,
                        "reconnects": live.reconnects,
                        "seconds_in_call": live.seconds_in_call(),
                    },
                )
            )
            if state == "failed" and live.agent_joined_at:
                records.append(
                    Record(live.visit_id, events.SESSION_INCIDENT, {**base, "kind": CALL_LOST})
                )
        return records

    def _start_record(self, live: LiveSession, data: Mapping[str, Any]) -> list[Record]:
        if "started" in live.recorded or live.session is None:
            return []
        live.recorded.add("started")
        if data.get("room_host"):
            live.room_host = str(data["room_host"])
        return [
            Record(
                live.visit_id,
                events.SESSION_STARTED,
                {
                    "kiosk": live.kiosk,
                    "session": live.session,
                    "partner": live.partner,
                    "room_host": live.room_host,
                },
            )
        ]

    def _stats(self, live: LiveSession, data: SessionStats) -> list[Record]:
        records = self._start_record(live, data)
        live.stats.append(data)
        quality = data.get("quality")
        if data.get("worst_quality") in QUALITIES:
            live.worst_quality = data["worst_quality"]
        if quality in QUALITIES and quality != live.quality:
            live.quality = quality
            live.quality_reasons = tuple(str(r) for r in data.get("reasons") or ())
            records.append(
                Record(
                    live.visit_id,
                    events.SESSION_QUALITY,
                    {
                        "kiosk": live.kiosk,
                        "session": live.session,
                        "quality": quality,
                        "reasons": list(live.quality_reasons),
                        "at": data.get("at"),  # the bridge's: two desks write it once
                    },
                )
            )
        elif quality == live.quality and quality != "good":
            live.quality_reasons = tuple(str(r) for r in data.get("reasons") or ())
        return records

    def incident(self, live: LiveSession, kind: str) -> Record:
        """Staff fell back (phone, new appointment): recorded on the session's visit."""
        if kind not in INCIDENT_LABELS:
            raise ValueError(f"unknown incident kind {kind!r}")
        live.acknowledged = True
        return Record(
            live.visit_id,
            events.SESSION_INCIDENT,
            {"kiosk": live.kiosk, "session": live.session, "kind": kind},
        )


class SessionLog:
    """Writes session records as visit events (one transaction per batch)."""

    def __init__(self, desk: FrontDesk, clock: Clock | None = None) -> None:
        self.desk = desk
        self.store = desk.store
        self.clock = clock or desk.clock

    def write(self, records: Iterable[Record]) -> int:
        """Append the records (all or none); one already in the log is not written twice
        (two desks' pvp following the same call write its record once)."""
        batch = list(records)
        if not batch:
            return 0
        at = self.clock()
        written = 0
        with self.store.transaction() as db:
            for record in batch:
                if not list(db.query("SELECT 1 FROM visits WHERE id = ?", [record.visit_id])):
                    raise PvpError("unknown_visit", _("No such visit."))
                data = json.dumps(record.data, sort_keys=True)
                same = "SELECT 1 FROM events WHERE visit_id = ? AND type = ? AND data = ?"
                if list(db.query(same, [record.visit_id, record.type, data])):
                    continue
                written += 1
                self.desk.append_event(db, record.visit_id, record.type, at, record.data)
        return written

    def events(self, visit_id: str) -> list[dict[str, Any]]:
        """The visit's session events, oldest first, data decoded."""
        rows = self.store.query(
            """SELECT type, data, at FROM events
            WHERE visit_id = ? AND type LIKE 'session\\_%' ESCAPE '\\'
            ORDER BY seq""",
            [visit_id],
        )
        return [{"type": r["type"], "at": r["at"], "data": json.loads(r["data"])} for r in rows]


def open_session(log: SessionLog, session: str) -> tuple[str, set[str]] | None:
    """The visit of a bridge session this site recorded as started and not yet ended, with
    the records it already has (`started`, `agent`); None when it is not ours or is over."""
    rows = log.store.query(
        """SELECT visit_id, type FROM events
        WHERE type IN (?, ?, ?) AND json_extract(data, '$.session') = ?
        ORDER BY seq""",
        [events.SESSION_STARTED, events.SESSION_AGENT_JOINED, events.SESSION_ENDED, session],
    )
    if not rows or any(r["type"] == events.SESSION_ENDED for r in rows):
        return None
    recorded = {"started"}
    if any(r["type"] == events.SESSION_AGENT_JOINED for r in rows):
        recorded.add("agent")
    return rows[0]["visit_id"], recorded


def room_url(config: Config, visit: Visit) -> str:
    """The partner's room for this visit (its template filled in), or a clear refusal."""
    partner = config.partner(visit.partner_id)
    if partner is None or not partner.room_url:
        name = partner.name if partner else visit.partner_id
        raise PvpError(
            "no_room",
            _(
                "No video room is set up for {partner}: tell your administrator (room_url "
                "and room_domains are missing from its [[partners]] table in the site config)."
            ).format(partner=name),
        )
    return room_address(partner.room_url, visit.ticket, config.site.id)


def start_params(config: Config, visit: Visit) -> dict[str, str]:
    """session.start's params: the display name is ALWAYS the ticket, never a name."""
    return {"room_url": room_url(config, visit), **start_params_without_room(visit)}


def start_params_without_room(visit: Visit) -> dict[str, str]:
    """session.start's params but the room (given by the region's hub: core.hub_rooms)."""
    return {"display_name": visit.ticket, "partner": visit.partner_id}


# The bridge's hello lists this feature when its session.start takes `room_kind`; an older
# bridge refuses any parameter it does not know, so `room_kind` is sent only when listed.
VISIO_GUEST = "visio_guest"


def hub_room_params(
    visit: Visit, url: str, kind: str, features: Collection[str]
) -> tuple[dict[str, str], str | None]:
    """session.start's params for the hub's room, and what to tell staff (None: nothing).

    A room the bridge must join as a Visio guest (`kind` other than "link") gets
    `room_kind` only when the kiosk's bridge lists the feature; an older one still opens the
    room, and staff are told to type the ticket in the lobby themselves."""
    params = {**start_params_without_room(visit), "room_url": url}
    if kind == "link":
        return params, None
    if VISIO_GUEST in features:
        params["room_kind"] = kind
        return params, None
    notice = _(
        "This kiosk's bridge is too old to type the ticket in the Visio lobby: the room opens, "
        "then type {ticket} in its name field on the kiosk by hand and press Join "
        "(update pvp-bridge on this kiosk)."
    ).format(ticket=visit.ticket)
    return params, notice
