"""The front desk's actions on visits: one place for every rule, used by the screens
and the CLI alike. Each action is one `BEGIN IMMEDIATE` transaction that updates the
visit and appends its event; a refused action changes nothing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import re
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from . import appointments, events, hub_documents, hub_uploads, outbox
from .clock import Clock, from_iso, system_clock, to_iso
from .config import Config, Partner
from .errors import PvpError
from .i18n import _, ngettext
from .models import ALLOWED_FROM, OPEN_STATUSES, Kind, Need, Outcome, Status, Visit
from .partners import directory_version, effective_config, find_partner
from .queue_rules import QueueEntry, learned_median, next_to_call, order_queue
from .store import ERASE_WAIT_SECONDS, Reader, Store, Writer
from .words import action_past, done, wrong_state_hint

NAME_MAX = 80
# A French number: 10 digits starting with 0 (0X XX XX XX XX); an international one: +
# then 7 to 15 digits (E.164). Spaces, dots and hyphens may separate the digits.
PHONE_RE = re.compile(r"^(?:0(?:[ .\-]*[0-9]){9}|\+ ?[0-9](?:[ .\-]*[0-9]){6,14})$")
NOTE_MAX = 500
# An appointment time today: "9:30", "9h30", "9 h 30", "09h", "9h", "9 h" (hours, then
# ":" or "h", then two-digit minutes, which may be left out after "h"), or four digits
# "0930". Not three digits ("930" could be 9:30 or 93:0... and "130" 1:30 or 13:0), nor
# bare hours ("9", "10": hours or minutes?), nor one-digit minutes ("10h6").
_TIME_RE = re.compile(r"^(\d{1,2}) *(?:[:hH] *(\d{2})|[hH])$")
_TIME_DIGITS_RE = re.compile(r"^(\d{2})(\d{2})$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
MEDIAN_SAMPLES = 200  # recent interviews per partner that the estimate learns from

ACTIVE_STATUSES = (Status.WAITING, Status.CALLED, Status.IN_SESSION, Status.NO_SHOW)


class KioskBusy(PvpError):
    """Every kiosk already has a visitor, and the call asked not to add one unasked.
    `message` says who is at the kiosks; `visit` is who would have been called."""

    def __init__(self, message: str, visit: Visit) -> None:
        super().__init__("kiosk_busy", message)
        self.visit = visit


@dataclass(frozen=True)
class CheckIn:
    """What the check-in form or `pvp checkin` collects."""

    partner_id: str
    name: str
    appointment: str | None = None  # "HH:MM" today, local time
    priority: bool = False
    needs: tuple[Need, ...] = ()
    phone: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Erasure:
    """What `FrontDesk.purge_personal_data` did (counts only: no names)."""

    erased: int  # visits whose name, phone and note were deleted now
    complete: bool  # no erased text is left in any file of the store (else: next start)


def other_site_words(conn: sqlite3.Connection, site_id: str) -> str | None:
    """When the database holds visits of other sites and none of this one, the sentence
    that says so: `[site] id` was most likely changed, and the queue looks empty although
    nothing was lost. None otherwise (the usual case costs one indexed lookup)."""
    if conn.execute("SELECT 1 FROM visits WHERE site_id = ? LIMIT 1", [site_id]).fetchone():
        return None
    rows = conn.execute(
        "SELECT site_id, count(*) FROM visits GROUP BY site_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchall()
    if not rows:
        return None  # a new database
    other, count = rows[0]
    return ngettext(
        "This database holds {count} visit of site {other} and none of site {site} (the "
        "config's [site] id): if the id was changed, set it back to {other} to see it.",
        "This database holds {count} visits of site {other} and none of site {site} (the "
        "config's [site] id): if the id was changed, set it back to {other} to see them.",
        count,
    ).format(count=count, other=other, site=site_id)


def erasure_pending_message() -> str:
    """What staff are told when `Erasure.complete` is False."""
    return _(
        "The erased names are gone from the tables, but copies remain in the database's "
        "files: another pvp kept an old read open for more than {seconds} s. The next "
        "start of pvp (or pvp purge) removes them."
    ).format(seconds=int(ERASE_WAIT_SECONDS))


@dataclass(frozen=True)
class DayStart:
    """What `FrontDesk.start_of_day` did (counts only: no names)."""

    closed_overnight: int
    erased: int
    erasure_complete: bool  # False: copies remain in the files until the next start


@dataclass(frozen=True)
class DaySummary:
    finished: list[Visit] = field(default_factory=list)
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    median_wait_minutes: float | None = None
    by_partner: dict[str, int] = field(default_factory=dict)


def validate_check_in(form: CheckIn, config: Config) -> dict[str, str]:
    """Field name -> message for every mistake in the form; empty when it is valid."""
    problems: dict[str, str] = {}
    if find_partner(config, form.partner_id) is None:
        problems["partner"] = (
            _("Choose a partner.")
            if not form.partner_id
            else _("Unknown partner {partner}. Known partners: {known}.").format(
                partner=form.partner_id, known=", ".join(p.id for p in config.partners)
            )
        )
    name = form.name.strip()
    if not name:
        problems["name"] = _("Enter a name to call the visitor by.")
    elif len(name) > NAME_MAX:
        problems["name"] = _("The name is too long (at most {n} characters).").format(n=NAME_MAX)
    elif any(not char.isprintable() for char in name):
        problems["name"] = _("Write the name on one line, without special characters.")
    if form.appointment is not None and parse_hhmm(form.appointment) is None:
        problems["appointment"] = _("Time as HH:MM, for example 10:30 (or 10h30, 10h).")
    if form.phone and not PHONE_RE.match(form.phone.strip()):
        problems["phone"] = _("Number in digits, for example 06 12 34 56 78.")
    if len(form.note) > NOTE_MAX:
        problems["note"] = _("The note is too long (at most {n} characters).").format(n=NOTE_MAX)
    return problems


def parse_hhmm(text: str) -> time | None:
    """The time `text` names (see _TIME_RE for what is accepted), None if it names none
    or is out of range (24:00, 9h75). The one reading of an appointment time: the
    check-in form and `pvp checkin --appointment` both go through validate_check_in."""
    text = text.strip()
    match = _TIME_RE.match(text) or _TIME_DIGITS_RE.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def normalize_hhmm(text: str) -> str | None:
    """`text` as HH:MM ("9h" -> "09:00"), None if parse_hhmm rejects it."""
    slot = parse_hhmm(text)
    return None if slot is None else slot.strftime("%H:%M")


class FrontDesk:
    """The site's visits. Thread-safe through the store's lock."""

    def __init__(
        self, store: Store, config: Config, clock: Clock = system_clock, actor: str | None = None
    ) -> None:
        self.store = store
        self.base_config = config  # the config file's; `config` has the partners in force
        self.config = config
        self.clock = clock
        self.actor = actor if actor is not None else _current_user()
        self._directory_version: int | None = None
        self.refresh_directory()

    def refresh_directory(self) -> bool:
        """Adopt the partner list in force (the hub's, once pulled: `effective_config`)
        when it changed since the last look; one small read when it did not. True when
        the partners changed (the app reads it again after another process's commit)."""
        version = directory_version(self.store)
        if version == self._directory_version:
            return False
        first = self._directory_version is None
        self.config = effective_config(self.base_config, self.store)
        self._directory_version = version
        return not first

    # ----------------------------------------------------------------- time helpers
    def now(self) -> datetime:
        return self.clock()

    def local_now(self) -> datetime:
        return self.now().astimezone(self.config.site.timezone)

    def today(self) -> date:
        return self.local_now().date()

    # ---------------------------------------------------------------------- actions
    def check_in(self, form: CheckIn) -> Visit:
        problems = validate_check_in(form, self.config)
        if problems:
            raise PvpError("invalid_check_in", " ".join(problems.values()))
        partner = find_partner(self.config, form.partner_id)  # 'CAF' or 'C' for caf
        assert partner is not None
        appointment_at = None
        if form.appointment is not None:
            slot = parse_hhmm(form.appointment)
            assert slot is not None
            appointment_at = datetime.combine(self.today(), slot, self.config.site.timezone)
        with self.store.transaction() as db:
            visit_id = self._check_in(db, form, partner, appointment_at)
        return self.get(visit_id)

    def check_in_appointment(self, appointment_id: str) -> Visit:
        """Check in a visitor expected by an appointment the hub sent: its partner, name,
        phone and slot are already there, and the visit is linked to the appointment (one
        transaction). Refused when it was cancelled, is not today's, or is checked in."""
        with self.store.transaction() as db:
            found = appointments.get(db, appointment_id)
            if found is None:
                raise PvpError("unknown_appointment", _("No such appointment."))
            slot = found.starts_at.astimezone(self.config.site.timezone)
            if found.visit_id is not None:
                raise PvpError(
                    "appointment_checked_in",
                    _("The {time} appointment is already checked in ({ticket}).").format(
                        time=slot.strftime("%H:%M"), ticket=found.ticket or "?"
                    ),
                )
            if found.status != appointments.PLANNED:
                raise PvpError(
                    "appointment_cancelled",
                    _("The {time} appointment was cancelled by the partner.").format(
                        time=slot.strftime("%H:%M")
                    ),
                )
            if found.day != self.today().isoformat():
                raise PvpError(
                    "appointment_other_day",
                    _("This appointment is on {day}, not today.").format(day=found.day),
                )
            partner = self.config.partner(found.partner_id)
            if partner is None or partner not in self.config.partners:
                raise PvpError(
                    "unknown_partner",
                    _("Unknown partner {partner}. Known partners: {known}.").format(
                        partner=found.partner_id,
                        known=", ".join(p.id for p in self.config.partners),
                    ),
                )
            if not found.name:
                raise PvpError(
                    "purged", _("This appointment's name was erased: check the visitor in with F2.")
                )
            form = CheckIn(partner_id=partner.id, name=found.name, phone=found.phone)
            visit_id = self._check_in(db, form, partner, found.starts_at, found.id)
            appointments.link_visit(db, found.id, visit_id, self.now())
        return self.get(visit_id)

    def _check_in(
        self,
        db: Writer,
        form: CheckIn,
        partner: Partner,
        appointment_at: datetime | None,
        appointment_id: str | None = None,
    ) -> str:
        """The check-in's rows and event, inside the caller's transaction; the visit's id."""
        now = self.now()
        visit_id = str(uuid.uuid4())
        ticket, seq = self._next_ticket(db, partner)
        db.insert(
            "visits",
            {
                "id": visit_id,
                "site_id": self.config.site.id,
                "day": self.today().isoformat(),
                "prefix": partner.prefix,
                "seq": seq,
                "ticket": ticket,
                "partner_id": partner.id,
                "status": Status.WAITING.value,
                "kind": (Kind.APPOINTMENT if appointment_at else Kind.WALK_IN).value,
                "appointment_at": to_iso(appointment_at) if appointment_at else None,
                "priority": int(form.priority),
                "needs": json.dumps(sorted(n.value for n in form.needs)),
                "arrived_at": to_iso(now),
                "updated_at": to_iso(now),
            },
        )
        db.insert(
            "visitor_details",
            {
                "visit_id": visit_id,
                "name": form.name.strip(),
                "phone": (form.phone or "").strip() or None,
                "note": form.note.strip(),
            },
        )
        self.append_event(
            db,
            visit_id,
            "checked_in",
            now,
            {
                "partner": partner.id,
                "ticket": ticket,
                "kind": "appointment" if appointment_at else "walk_in",
                "appointment_at": to_iso(appointment_at) if appointment_at else None,
                "priority": form.priority,
                "needs": sorted(n.value for n in form.needs),
                **({"appointment": appointment_id} if appointment_id else {}),
            },
        )
        return visit_id

    def call_next(self, *, unless_busy: bool = False) -> Visit:
        """Call the first eligible visitor in queue order. With `unless_busy`, refuse with
        `KioskBusy` when every kiosk already has a visitor: checked in the call's own
        transaction, so of two desks calling at once the second is always asked."""
        # The medians only make estimates, not the order: read them before the write lock.
        medians = self.medians()
        with self.store.transaction() as db:
            entry = next_to_call(self._queue(db, medians))
            if entry is None:
                raise PvpError(
                    "nothing_to_call",
                    _(
                        "Nobody can be called now: the queue is empty or no partner's "
                        "permanence is open. Call a visitor by their ticket to override."
                    ),
                )
            if unless_busy:
                self._refuse_if_busy(db, entry.visit)
            self._transition(
                db, entry.visit, "call", Status.CALLED, "called", {"called_at": to_iso(self.now())}
            )
            visit_id = entry.visit.id
        return self.get(visit_id)

    def call(self, ref: str, *, unless_busy: bool = False) -> Visit:
        """Call one visitor out of order (staff know best: the partner may be open).
        `unless_busy`: as for `call_next`."""
        with self.store.transaction() as db:
            visit = self._find(db, ref)
            self._check(visit, "call")  # a visitor who cannot be called: say that first
            if unless_busy:
                self._refuse_if_busy(db, visit)
            self._transition(
                db, visit, "call", Status.CALLED, "called", {"called_at": to_iso(self.now())}
            )
        return self.get(visit.id)

    def _refuse_if_busy(self, db: Reader, visit: Visit) -> None:
        busy = kiosks_busy(self._active(db), self.config)
        if busy is not None:
            raise KioskBusy(busy, visit)

    def start(self, ref: str) -> Visit:
        return self._simple(ref, "start", Status.IN_SESSION, "started", stamp="started_at")

    def finish(self, ref: str, outcome: Outcome | str) -> Visit:
        try:
            value = Outcome(outcome)
        except ValueError:
            raise PvpError(
                "bad_outcome",
                _("Unknown outcome {outcome}. Choose one of: {known}.").format(
                    outcome=outcome, known=", ".join(o.value for o in Outcome)
                ),
            ) from None
        return self._simple(
            ref,
            "finish",
            Status.DONE,
            "finished",
            stamp="ended_at",
            extra={"outcome": value.value},
            data={"outcome": value.value},
        )

    def no_show(self, ref: str) -> Visit:
        return self._simple(ref, "no_show", Status.NO_SHOW, "no_show")

    def cancel(self, ref: str) -> Visit:
        return self._simple(ref, "cancel", Status.CANCELLED, "cancelled", stamp="ended_at")

    def back_to_waiting(self, ref: str) -> Visit:
        return self._simple(
            ref,
            "back_to_waiting",
            Status.WAITING,
            "back_to_waiting",
            extra={"called_at": None, "started_at": None},
        )

    def transfer(self, ref: str, partner_id: str) -> Visit:
        """Close this visit as transferred and queue a new one for the other partner,
        keeping the arrival time (so the visitor keeps their place) and their details."""
        target = find_partner(self.config, partner_id)
        if target is None:
            raise PvpError(
                "unknown_partner",
                _("Unknown partner {partner}. Known partners: {known}.").format(
                    partner=partner_id, known=", ".join(p.id for p in self.config.partners)
                ),
            )
        now = self.now()
        with self.store.transaction() as db:
            visit = self._find(db, ref)
            if visit.partner_id == target.id:
                raise PvpError(
                    "same_partner",
                    _("{ticket} is already for {partner}.").format(
                        ticket=visit.ticket, partner=target.name
                    ),
                )
            self._check(visit, "transfer")
            new_id = str(uuid.uuid4())
            ticket, seq = self._next_ticket(db, target)
            row = next(iter(db.query("SELECT * FROM visits WHERE id = ?", [visit.id])))
            db.insert(
                "visits",
                {
                    **row,
                    "id": new_id,
                    "prefix": target.prefix,
                    "seq": seq,
                    "ticket": ticket,
                    "day": self.today().isoformat(),
                    "partner_id": target.id,
                    "status": Status.WAITING.value,
                    "outcome": None,
                    "called_at": None,
                    "started_at": None,
                    "ended_at": None,
                    "kind": Kind.WALK_IN.value,
                    "appointment_at": None,
                    "transferred_from": visit.id,
                    "updated_at": to_iso(now),
                },
            )
            details = db.execute(
                "SELECT * FROM visitor_details WHERE visit_id = ?", [visit.id]
            ).fetchone()
            if details is not None:
                db.insert(
                    "visitor_details",
                    {
                        "visit_id": new_id,
                        "name": details[1],
                        "phone": details[2],
                        "note": details[3],
                    },
                )
            self._transition(
                db,
                visit,
                "transfer",
                Status.TRANSFERRED,
                "transferred",
                {"ended_at": to_iso(now)},
                {"to_partner": target.id, "to_visit": new_id, "to_ticket": ticket},
            )
            self.append_event(
                db,
                new_id,
                "transferred_in",
                now,
                {
                    "from_partner": visit.partner_id,
                    "from_visit": visit.id,
                    "from_ticket": visit.ticket,
                    "partner": target.id,
                    "ticket": ticket,
                },
            )
        return self.get(new_id)

    def set_note(self, ref: str, note: str) -> Visit:
        if len(note) > NOTE_MAX:
            raise PvpError(
                "note_too_long",
                _("The note is too long (at most {n} characters).").format(n=NOTE_MAX),
            )
        with self.store.transaction() as db:
            visit = self._find(db, ref)
            if visit.name is None:
                raise PvpError(
                    "purged",
                    _("{ticket}'s personal data was erased; a note can no longer be added.").format(
                        ticket=visit.ticket
                    ),
                )
            db.execute(
                "UPDATE visitor_details SET note = ? WHERE visit_id = ?", [note.strip(), visit.id]
            )
            # The event says that the note changed, never what it says (it may be personal).
            self.append_event(
                db, visit.id, events.NOTE_EDITED, self.now(), {"length": len(note.strip())}
            )
        return self.get(visit.id)

    def purge_personal_data(self) -> Erasure:
        """Erase names, phones and notes past the retention period; visits and events stay.

        A visit's details are kept until the end of the day `retention_days` after the
        visit's day (site.retention_days, default 1: the end of the next day), and never
        while the visit is still open (waiting, called, in session; `close_overnight`
        closes those left from a previous day).

        Erased means gone from every file of the store: the rows are deleted with
        secure_delete (zeroed), then the WAL, which still holds their earlier pages, is
        checkpointed and truncated. Another pvp reading an older state for longer than
        store.ERASE_WAIT_SECONDS prevents that last step: the erasure is then left
        pending and the next call (every start, `pvp purge`, the app) finishes it, in one
        attempt (a few hundred milliseconds at most).
        """
        cutoff = (self.today() - timedelta(days=self.config.site.retention_days)).isoformat()
        # Driven by visitor_details (small: only recent visits keep their details).
        sql = f"""SELECT v.id FROM visitor_details d CROSS JOIN visits v ON v.id = d.visit_id
            WHERE +v.site_id = ? AND +v.day < ?
            AND v.status NOT IN ({_placeholders(OPEN_STATUSES)})"""
        params = [self.config.site.id, cutoff, *OPEN_STATUSES]
        with self.store.snapshot() as db:
            # Appointments' names and phones (pulled from the hub) follow the same rule.
            booked = appointments.has_details_before(db, cutoff)
            # Documents an agent sent to print: their bytes go once the visit closes.
            papers = hub_documents.has_closed(db, OPEN_STATUSES)
            # Documents queued for the agent and not sent: the spool's copy goes too.
            papers = papers or hub_uploads.has_closed(db, OPEN_STATUSES)
        if not booked and not papers and not self.store.query(sql + " LIMIT 1", params):
            # Usually nothing pending (no write lock taken). A pending erasure gets one try
            # here: a read held open for long must not slow every start down.
            return Erasure(0, self._finish_erasure(wait=0.0))
        with self.store.transaction() as db:
            ids = [row[0] for row in db.execute(sql, params).fetchall()]
            appointments.erase_before(db, cutoff)
            hub_documents.erase_closed(db, OPEN_STATUSES)
            hub_uploads.erase_closed(db, OPEN_STATUSES)
            now = self.now()
            db.conn.executemany(
                "DELETE FROM visitor_details WHERE visit_id = ?", [(i,) for i in ids]
            )
            for visit_id in ids:
                self.append_event(db, visit_id, events.PERSONAL_DATA_ERASED, now, {})
            # Committed with the deletion: a purge rolled back leaves nothing pending.
            db.execute("INSERT INTO pending_erasure (vacuum) VALUES (0)")
        return Erasure(len(ids), self._finish_erasure())

    def _finish_erasure(self, wait: float | None = None) -> bool:
        """Flush the pending erasures out of the store's files; True when none is left."""
        pending = self.store.query("SELECT id, vacuum FROM pending_erasure")
        if not pending:
            return True
        if not self.store.flush_erased(vacuum=any(row["vacuum"] for row in pending), wait=wait):
            return False
        # Only those flushed: another process may have added one since. Left there (busy),
        # they only cost the next start one more checkpoint.
        with contextlib.suppress(PvpError), self.store.transaction() as db:
            db.execute(
                "DELETE FROM pending_erasure WHERE id <= ?", [max(row["id"] for row in pending)]
            )
        return True

    def close_overnight(self) -> int:
        """Close visits left open (waiting, called, in session) on a previous day.

        Nobody waits overnight: such a visit was forgotten in the queue. It becomes
        `cancelled` with a `closed_overnight` event (not `cancelled`/`finished`, so that
        statistics can leave it out and no interview length is learned from it).
        Returns how many were closed.
        """
        sql = f"""SELECT v.* , NULL AS name, NULL AS phone, NULL AS note FROM visits v
            WHERE +v.site_id = ? AND +v.day < ?
            AND v.status IN ({_placeholders(OPEN_STATUSES)})"""
        params = [self.config.site.id, self.today().isoformat(), *OPEN_STATUSES]
        if not self.store.query(sql + " LIMIT 1", params):
            return 0
        with self.store.transaction() as db:
            stale = [_visit(row) for row in db.query(sql, params)]
            now = self.now()
            for visit in stale:
                self._set_status(db, visit.id, Status.CANCELLED, {"ended_at": to_iso(now)}, now)
                self.append_event(
                    db,
                    visit.id,
                    events.CLOSED_OVERNIGHT,
                    now,
                    {"from": visit.status.value, "to": Status.CANCELLED.value, "day": visit.day},
                )
        return len(stale)

    def start_of_day(self) -> DayStart:
        """What `pvp` runs when it starts (the app and every subcommand) and `pvp purge`:
        close the visits left open on a previous day, then erase personal data past
        retention. Idempotent and cheap when there is nothing to do."""
        closed = self.close_overnight()
        erasure = self.purge_personal_data()
        return DayStart(closed, erasure.erased, erasure.complete)

    def check(self, visit: Visit, action: str) -> None:
        """Raise the PvpError `action` would raise for this visit's state, changing nothing.

        Screens ask before opening a dialog (outcome, transfer...); the action itself
        checks again inside its transaction.
        """
        self._check(visit, action)

    # ------------------------------------------------------------------------ reads
    def get(self, visit_id: str) -> Visit:
        rows = self.store.query(_VISIT_SELECT + " WHERE v.id = ?", [visit_id])
        if not rows:
            raise PvpError("unknown_visit", _("No such visit."))
        return _visit(rows[0])

    def other_site_words(self) -> str | None:
        """See `other_site_words`: for the app's start and `pvp queue`."""
        with self.store.snapshot() as db:
            return other_site_words(db.conn, self.config.site.id)

    def find(self, ref: str) -> Visit:
        with self.store.snapshot() as db:
            return self._find(db, ref)

    def appointments_of_day(self, day: date | None = None) -> list[appointments.Appointment]:
        """The day's appointments from the hub (`appointments.day_lines`): expected, late,
        or already checked in; a cancelled one nobody checked in has left."""
        with self.store.snapshot() as db:
            return appointments.day_lines(db, day or self.today())

    def queue(self) -> list[QueueEntry]:
        with self.store.snapshot() as db:
            return self._queue(db)

    def active(self) -> list[Visit]:
        """Visits called or in session (at the kiosk or on their way)."""
        with self.store.snapshot() as db:
            return self._active(db)

    def _active(self, db: Reader) -> list[Visit]:
        rows = db.query(_ACTIVE_SELECT, [Status.CALLED.value, Status.IN_SESSION.value])
        return [_visit(r) for r in rows]

    def visits_of_day(self, day: date | None = None) -> list[Visit]:
        rows = self.store.query(
            _VISIT_SELECT + " WHERE v.site_id = ? AND v.day = ? ORDER BY v.arrived_at, v.ticket",
            [self.config.site.id, (day or self.today()).isoformat()],
        )
        return [_visit(r) for r in rows]

    def day_summary(self, day: date | None = None) -> DaySummary:
        # A visit waiting and never called counts in none of these figures: not reading
        # them halves this read while a long queue waits (bench_queue: check-in to screen).
        rows = self.store.query(
            _VISIT_SELECT + " WHERE v.site_id = ? AND v.day = ?"
            " AND (v.status != ? OR v.called_at IS NOT NULL) ORDER BY v.arrived_at, v.ticket",
            [self.config.site.id, (day or self.today()).isoformat(), Status.WAITING.value],
        )
        visits = [_visit(r) for r in rows]
        finished = [
            v
            for v in visits
            if v.status in (Status.DONE, Status.NO_SHOW, Status.CANCELLED, Status.TRANSFERRED)
        ]
        finished.sort(key=lambda v: v.ended_at or v.called_at or v.arrived_at, reverse=True)
        served = [v for v in visits if v.status is Status.DONE]
        waits = sorted(
            (v.called_at - v.arrived_at).total_seconds() / 60
            for v in visits
            if v.called_at is not None
        )
        by_partner: dict[str, int] = {}
        for v in served:
            by_partner[v.partner_id] = by_partner.get(v.partner_id, 0) + 1
        median_wait = waits[len(waits) // 2] if waits else None
        return DaySummary(
            finished=finished,
            served=len(served),
            no_shows=sum(v.status is Status.NO_SHOW for v in visits),
            cancelled=sum(v.status is Status.CANCELLED for v in visits),
            median_wait_minutes=median_wait,
            by_partner=by_partner,
        )

    def medians(self) -> dict[str, float]:
        """Expected interview length (minutes) per partner, learned from the event log."""
        with self.store.snapshot() as db:
            return self._medians(db)

    def events(self, visit_id: str) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM events WHERE visit_id = ? ORDER BY seq", [visit_id])
        for row in rows:
            row["data"] = json.loads(row["data"])
        return rows

    # ------------------------------------------------------------------- internals
    def _next_ticket(self, db: Reader, partner: Partner) -> tuple[str, int]:
        day = self.today().isoformat()
        row = db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM visits WHERE site_id = ? AND day = ? AND prefix = ?",
            [self.config.site.id, day, partner.prefix],
        ).fetchone()
        seq = int(row[0]) + 1
        return f"{partner.prefix}-{seq:03d}", seq

    def _queue(self, db: Reader, medians: dict[str, float] | None = None) -> list[QueueEntry]:
        now = self.now()
        waiting = [
            _visit(r)
            for r in db.query(
                _VISIT_SELECT + " WHERE v.status = ? AND +v.site_id = ?",
                [Status.WAITING.value, self.config.site.id],
            )
        ]
        if medians is None:
            medians = self._medians(db)
        busy = []
        for row in db.query(
            _VISIT_SELECT + " WHERE v.status IN (?, ?) AND +v.site_id = ?",
            [Status.CALLED.value, Status.IN_SESSION.value, self.config.site.id],
        ):
            visit = _visit(row)
            begun = visit.started_at or visit.called_at or now
            busy.append(begun + timedelta(minutes=medians.get(visit.partner_id, 20.0)))
        return order_queue(waiting, self.config, now, medians, busy)

    def _medians(self, db: Reader) -> dict[str, float]:
        """Median interview length per partner over its last MEDIAN_SAMPLES interviews
        within history_days (started -> finished, as the log's `started`/`finished`
        events stamp them on the visit); the configured length until min_history."""
        since = to_iso(self.now() - timedelta(days=self.config.site.history_days))
        result = {}
        for partner in self.config.partners:
            # Whole milliseconds, computed by SQLite: no timestamp parsed in Python.
            rows = db.execute(
                """SELECT CAST(round((julianday(ended_at) - julianday(started_at))
                                     * 86400000) AS INTEGER)
                   FROM visits INDEXED BY visits_done
                   WHERE partner_id = ? AND status = 'done' AND ended_at >= ?
                   AND started_at IS NOT NULL AND +site_id = ?
                   ORDER BY ended_at DESC LIMIT ?""",
                [partner.id, since, self.config.site.id, MEDIAN_SAMPLES],
            ).fetchall()
            durations = [milliseconds / 60_000 for (milliseconds,) in rows if milliseconds > 0]
            result[partner.id] = learned_median(
                durations, partner.interview_minutes, self.config.site.min_history
            )
        return result

    def _find(self, db: Reader, ref: str) -> Visit:
        ref = ref.strip()
        # A visit id (UUID) names exactly one visit; a ticket names today's visit first
        # (tickets restart every day), then the latest open one.
        site = self.config.site.id
        if _UUID_RE.match(ref):
            sql = _VISIT_SELECT + " WHERE v.id = ? AND v.site_id = ?"
            params = [ref.lower(), site]
        else:
            sql = (
                _VISIT_SELECT
                + """ WHERE v.ticket = ? AND v.site_id = ?
                ORDER BY (v.day = ?) DESC,
                         (v.status IN ('waiting', 'called', 'in_session', 'no_show')) DESC,
                         v.day DESC LIMIT 1"""
            )
            params = [ref.upper(), site, self.today().isoformat()]
        rows = list(db.query(sql, params))
        if not rows:
            raise PvpError(
                "unknown_ticket",
                _("No visit with ticket {ticket}. Check the ticket (pvp queue lists them).").format(
                    ticket=ref.upper()
                ),
            )
        return _visit(rows[0])

    def _check(self, visit: Visit, action: str) -> None:
        if action != "edit_note" and visit.day != self.today().isoformat():
            raise PvpError(
                "past_visit",
                _("{ticket} is a visit of {day}: only today's visits can be changed.").format(
                    ticket=visit.ticket, day=visit.day
                ),
            )
        if visit.status not in ALLOWED_FROM[action]:
            refusal = _("{ticket} is {status}: it cannot be {action} now.").format(
                ticket=visit.ticket, status=visit.status.label, action=action_past(action)
            )
            hint = wrong_state_hint(action, visit.status.value)
            raise PvpError("wrong_state", f"{refusal} {hint}" if hint else refusal)

    def _simple(
        self,
        ref: str,
        action: str,
        status: Status,
        event: str,
        *,
        stamp: str | None = None,
        extra: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Visit:
        with self.store.transaction() as db:
            visit = self._find(db, ref)
            changes = dict(extra or {})
            if stamp:
                changes[stamp] = to_iso(self.now())
            self._transition(db, visit, action, status, event, changes, data)
        return self.get(visit.id)

    def _transition(
        self,
        db: Writer,
        visit: Visit,
        action: str,
        status: Status,
        event: str,
        changes: dict[str, Any],
        data: dict[str, Any] | None = None,
    ) -> None:
        self._check(visit, action)
        now = self.now()
        self._set_status(db, visit.id, status, changes, now)
        self.append_event(
            db,
            visit.id,
            event,
            now,
            {"from": visit.status.value, "to": status.value, **(data or {})},
        )

    def _set_status(
        self, db: Writer, visit_id: str, status: Status, changes: dict[str, Any], now: datetime
    ) -> None:
        """The one writer of a visit's status. A visit leaving OPEN_STATUSES (finished,
        no-show, cancelled, transferred, closed overnight): its documents queued for the
        agent and not yet whole on the hub stop, and the store's bytes of its papers (the
        spool of its uploads, the agent's documents to print) are erased in this same
        transaction (spools.py; the flush of the store's files is left pending for the next
        purge). The hub's copies follow the hub's retention."""
        db.update(
            "visits", visit_id, {**changes, "status": status.value, "updated_at": to_iso(now)}
        )
        if status not in OPEN_STATUSES:
            erased = hub_uploads.erase_visit(db, visit_id, now)
            erased += hub_documents.erase_visit(db, visit_id)
            if erased:
                db.execute("INSERT INTO pending_erasure (vacuum) VALUES (0)")

    def append_event(
        self, db: Writer, visit_id: str, kind: str, at: datetime, data: dict[str, Any]
    ) -> None:
        """Append one event to the visit log, inside the caller's write transaction.
        The only writer of the `events` table: the front desk, documents and sessions.
        With a hub configured, the event also goes to the outbox in this same transaction
        (pvp_tui.core.outbox): committed together or not at all."""
        event_id = str(uuid.uuid4())
        stamp = to_iso(at)
        db.insert(
            "events",
            {
                "id": event_id,
                "visit_id": visit_id,
                "site_id": self.config.site.id,
                "at": stamp,
                "type": kind,
                "data": json.dumps(data, sort_keys=True),
                "actor": self.actor,
            },
        )
        if self.config.hub is not None:
            outbox.enqueue(db, event_id, visit_id, kind, stamp, data, to_iso(self.now()))


_VISIT_SELECT = """SELECT v.*, d.name AS name, d.phone AS phone, d.note AS note
FROM visits v LEFT JOIN visitor_details d ON d.visit_id = v.id"""
_ACTIVE_SELECT = _VISIT_SELECT + " WHERE v.status IN (?, ?) ORDER BY v.called_at"


def done_words(config: Config, action: str, visit: Visit, *, old: str = "") -> str:
    """What ``action`` did to ``visit`` (as it is after it), for the CLI's line and the
    screen's notice alike; ``old`` is a transferred visit's former ticket."""
    partner = config.partner(visit.partner_id)
    return done(
        action,
        ticket=visit.ticket,
        partner=partner.name if partner else visit.partner_id,
        outcome=visit.outcome.label if visit.outcome else "",
        old=old,
    )


def kiosks_busy(active: Iterable[Visit], config: Config) -> str | None:
    """When every kiosk of the site already has a visitor (called or in an interview), the
    sentence that says so, for the screen's confirmation and the CLI's warning; else None.
    Calling one more is allowed (to have the next visitor ready), but never by accident."""
    busy = [v for v in active if v.status in (Status.CALLED, Status.IN_SESSION)]
    if len(busy) < config.site.kiosk_count:
        return None
    who = ", ".join(f"{v.ticket} {v.status.label}" for v in busy)
    if config.site.kiosk_count == 1:
        return _("The kiosk is busy ({who}).").format(who=who)
    return _("All {n} kiosks are busy ({who}).").format(n=config.site.kiosk_count, who=who)


def _placeholders(values: Iterable[object]) -> str:
    return ", ".join("?" for _ in values)


def _opt_time(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


def _visit(row: dict[str, Any]) -> Visit:
    return Visit(
        id=row["id"],
        ticket=row["ticket"],
        day=row["day"],
        partner_id=row["partner_id"],
        status=Status(row["status"]),
        kind=Kind(row["kind"]),
        arrived_at=from_iso(row["arrived_at"]),
        appointment_at=_opt_time(row["appointment_at"]),
        priority=bool(row["priority"]),
        needs=tuple(Need(n) for n in json.loads(row["needs"])) if row["needs"] != "[]" else (),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        called_at=_opt_time(row["called_at"]),
        started_at=_opt_time(row["started_at"]),
        ended_at=_opt_time(row["ended_at"]),
        transferred_from=row["transferred_from"],
        name=row["name"],
        phone=row["phone"],
        note=row["note"] or "",
    )


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
