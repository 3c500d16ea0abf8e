"""The site's appointments, as the hub sends them in its pull feed (pvp_tui.core.pull).

An appointment is a visitor expected for a partner at a time. The store keeps the time,
the partner, the status and the visit it became (once checked in); the name to call the
visitor by, the phone and the visio room live apart in `appointment_details`, erased by
the store's retention rule with the visits' own details (FrontDesk.purge_personal_data).
Checking in an expected visitor is `FrontDesk.check_in_appointment`: one action, name and
slot already there. "Rendez-vous du jour" on the queue screen reads `day_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from .clock import from_iso, to_iso
from .i18n import _
from .store import Reader, Writer

KIND = "appointment"  # the pull feed's kind
LATE_MINUTES = 10  # not arrived this long after the slot: flagged on the list
PLANNED = "planned"
CANCELLED = "cancelled"
STATUSES = frozenset({PLANNED, CANCELLED, "seen", "noshow"})


@dataclass(frozen=True)
class Appointment:
    id: str
    partner_id: str
    starts_at: datetime
    ends_at: datetime | None
    day: str
    status: str
    name: str | None  # None once erased
    phone: str | None
    visit_id: str | None  # the visit it became at check-in
    ticket: str | None  # that visit's ticket

    def late(self, now: datetime) -> bool:
        """Not arrived LATE_MINUTES after the slot (and still expected)."""
        return (
            self.status == PLANNED
            and self.visit_id is None
            and now >= self.starts_at + timedelta(minutes=LATE_MINUTES)
        )

    @property
    def cancelled_after_arrival(self) -> bool:
        """Cancelled by the partner although the visitor was already checked in."""
        return self.status == CANCELLED and self.visit_id is not None


_SELECT = """SELECT a.*, d.name AS name, d.phone AS phone, v.ticket AS ticket
FROM appointments a
LEFT JOIN appointment_details d ON d.appointment_id = a.id
LEFT JOIN visits v ON v.id = a.visit_id"""


def _appointment(row: dict[str, Any]) -> Appointment:
    return Appointment(
        id=row["id"],
        partner_id=row["partner_id"],
        starts_at=from_iso(row["starts_at"]),
        ends_at=from_iso(row["ends_at"]) if row["ends_at"] else None,
        day=row["day"],
        status=row["status"],
        name=row["name"],
        phone=row["phone"],
        visit_id=row["visit_id"],
        ticket=row["ticket"],
    )


def day_lines(db: Reader, day: date) -> list[Appointment]:
    """The day's appointments staff should see, by time: those expected, and those already
    checked in (a cancelled one among them stays, so staff can tell the visitor). A
    cancelled appointment nobody checked in has left the list."""
    rows = db.query(
        _SELECT + " WHERE a.day = ? AND (a.status = ? OR a.visit_id IS NOT NULL)"
        " ORDER BY a.starts_at, a.partner_id, a.id",
        [day.isoformat(), PLANNED],
    )
    return [_appointment(r) for r in rows]


def get(db: Reader, appointment_id: str) -> Appointment | None:
    rows = list(db.query(_SELECT + " WHERE a.id = ?", [appointment_id]))
    return _appointment(rows[0]) if rows else None


def save(
    db: Writer, appointment_id: str, data: dict[str, Any] | None, tz: tzinfo, now: datetime
) -> str:
    """Apply one appointment item of the pull feed, inside the caller's transaction.
    `data` None: the hub no longer shows it to this site (moved elsewhere): as a cancel.
    Returns what happened: "saved", "cancelled", "removed" or "ignored" (bad shape)."""
    if data is None:
        return _withdraw(db, appointment_id, now)
    try:
        starts_at = datetime.fromisoformat(str(data["starts_at"]))
        ends_at = datetime.fromisoformat(str(data["ends_at"])) if data.get("ends_at") else None
        partner = str(data["partner"])
        status = str(data["status"])
    except (KeyError, TypeError, ValueError):
        return "ignored"
    if status not in STATUSES or starts_at.tzinfo is None:
        return "ignored"
    day = starts_at.astimezone(tz).date().isoformat()
    db.execute(
        """INSERT INTO appointments (id, partner_id, starts_at, ends_at, day, status, source,
               updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET partner_id = excluded.partner_id,
               starts_at = excluded.starts_at, ends_at = excluded.ends_at, day = excluded.day,
               status = excluded.status, source = excluded.source,
               updated_at = excluded.updated_at""",
        [
            appointment_id,
            partner,
            to_iso(starts_at),
            to_iso(ends_at) if ends_at else None,
            day,
            status,
            str(data.get("source") or "admin"),
            to_iso(now),
        ],
    )
    name = data.get("name")
    if isinstance(name, str) and name.strip():
        details = [name.strip()[:80], _text(data.get("phone")), _text(data.get("room_url"))]
        db.execute(
            """INSERT INTO appointment_details (appointment_id, name, phone, room_url)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (appointment_id) DO UPDATE SET name = excluded.name,
                   phone = excluded.phone, room_url = excluded.room_url""",
            [appointment_id, *details],
        )
    # No name from the hub (erased there, its day over): what the site has is kept until
    # its own retention erases it.
    return "cancelled" if status == CANCELLED else "saved"


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _withdraw(db: Writer, appointment_id: str, now: datetime) -> str:
    row = db.execute("SELECT visit_id FROM appointments WHERE id = ?", [appointment_id]).fetchone()
    if row is None:
        return "ignored"
    if row[0] is not None:  # checked in already: kept, cancelled, so staff are told
        db.execute(
            "UPDATE appointments SET status = ?, updated_at = ? WHERE id = ?",
            [CANCELLED, to_iso(now), appointment_id],
        )
        return "cancelled"
    db.execute("DELETE FROM appointment_details WHERE appointment_id = ?", [appointment_id])
    db.execute("DELETE FROM appointments WHERE id = ?", [appointment_id])
    return "removed"


def link_visit(db: Writer, appointment_id: str, visit_id: str, now: datetime) -> None:
    db.execute(
        "UPDATE appointments SET visit_id = ?, updated_at = ? WHERE id = ?",
        [visit_id, to_iso(now), appointment_id],
    )


def erase_before(db: Writer, cutoff: str) -> int:
    """Delete the personal details of appointments of days before `cutoff` (the store's
    retention rule); the appointments themselves stay, nameless. How many."""
    cursor = db.execute(
        """DELETE FROM appointment_details WHERE appointment_id IN
           (SELECT id FROM appointments WHERE day < ?)""",
        [cutoff],
    )
    return max(0, cursor.rowcount)


def has_details_before(db: Reader, cutoff: str) -> bool:
    row = db.execute(
        """SELECT 1 FROM appointment_details d JOIN appointments a ON a.id = d.appointment_id
           WHERE a.day < ? LIMIT 1""",
        [cutoff],
    ).fetchone()
    return row is not None


def state_words(appointment: Appointment, now: datetime, compact: bool = False) -> str:
    """What the list says of an appointment: expected, late, arrived, cancelled."""
    if appointment.cancelled_after_arrival:
        words = _("cancelled {ticket}") if compact else _("cancelled · {ticket} arrived")
        return words.format(ticket=appointment.ticket or "?")
    if appointment.visit_id is not None:
        return _("arrived {ticket}").format(ticket=appointment.ticket or "")
    if appointment.late(now):
        return _("late")
    return _("expected")


def cancelled_notice(appointment: Appointment, partner_name: str, tz: tzinfo) -> str:
    """The notice staff get when the partner cancels after the visitor was checked in."""
    return _(
        "The {time} appointment with {partner} was cancelled by the partner, but {ticket} "
        "is already checked in: tell the visitor, then finish or cancel the visit."
    ).format(
        time=appointment.starts_at.astimezone(tz).strftime("%H:%M"),
        partner=partner_name,
        ticket=appointment.ticket or "?",
    )


def dump(appointment: Appointment, tz: tzinfo) -> dict[str, Any]:
    """An appointment as `pvp appointments --json` prints it (times in the site's zone)."""
    return {
        "id": appointment.id,
        "partner": appointment.partner_id,
        "starts_at": appointment.starts_at.astimezone(tz).isoformat(),
        "status": appointment.status,
        "name": appointment.name,
        "ticket": appointment.ticket,
    }
