"""The queue screen's panels: the waiting list, the kiosk list, the day's appointments
(with a hub), today's summary.

Each panel shows its part of a queue read from plain data (the read, the config, whether
names are hidden, the width it was given); the screen shares the terminal between them
(`QueueScreen._fit_columns`) and keeps the selection. Their CSS is styles/queue.tcss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...core.appointments import Appointment, state_words
from ...core.config import Config
from ...core.frontdesk import DaySummary
from ...core.i18n import _
from ...core.models import Visit
from ...core.queue_rules import QueueEntry
from .. import format
from ..widgets.visit_table import Row, VisitTable


@dataclass(frozen=True)
class View:
    """How a read is shown: the site's config, names hidden or not, the read's time, and
    whether the terminal is narrow (compact words)."""

    config: Config
    privacy: bool
    now: datetime
    compact: bool

    @property
    def tz(self) -> tzinfo:
        return self.config.site.timezone


def _longest(texts: list[str]) -> int:
    return max(map(len, texts), default=0)


class WaitingList(VisitTable):
    """Who waits, in the order they will be called; its title counts them."""

    def __init__(self) -> None:
        super().__init__(
            [
                ("ticket", _("No."), 5),
                ("partner", _("Partner"), 10),
                ("name", _("Name"), 12),
                ("waited", _("Waited"), 7),
                ("estimate", _("Estimate"), 7),
                ("flags", _("Notes"), 12),
            ],
            id="waiting",
        )
        self._entries: list[QueueEntry] = []
        self._view: View | None = None
        self._texts: dict[str, list[str]] = {}
        self._partners: list[tuple[str, str]] = []  # name, short name

    def on_mount(self) -> None:
        self.border_title = _("Waiting")

    def prepare(self, entries: list[QueueEntry], view: View) -> dict[str, int]:
        """Word a read's rows; returns the longest text of each column that wants room
        (the screen gives it in the order of `queue.ROOM_FIRST`)."""
        self._entries, self._view = entries, view
        config, tz, compact = view.config, view.tz, view.compact
        self._texts = {
            "estimate": [format.estimate(e, view.now, tz, compact) for e in entries],
            "flags": [format.flags(e.visit, tz, compact, e.late_appointment) for e in entries],
            "name": [format.visitor_name(e.visit, view.privacy) for e in entries],
        }
        self._partners = [format.partner_names(config, e.visit.partner_id) for e in entries]
        wants = {key: _longest(texts) for key, texts in self._texts.items()}
        wants["partner"] = _longest([names[0] for names in self._partners])
        return wants

    def fit_notes(self, width: int) -> int | None:
        """A visitor with more notes than `width` holds gets their compact words, not cut
        ones: returns the notes' new longest text, or None when all of them fitted."""
        marks = self._texts["flags"]
        if _longest(marks) <= width or self._view is None:
            return None
        tz = self._view.tz
        self._texts["flags"] = marks = [
            text if len(text) <= width else format.flags(e.visit, tz, True, e.late_appointment)
            for text, e in zip(marks, self._entries, strict=True)
        ]
        return _longest(marks)

    def show(self) -> None:
        """Show the prepared read: only what changed moves on screen."""
        if self._view is None:
            return
        now, texts = self._view.now, self._texts
        rows: list[Row] = [
            (
                e.visit.id,
                (
                    e.visit.ticket,
                    partner,
                    name,
                    format.duration(e.visit.arrived_at, now),
                    estimate,
                    mark,
                ),
            )
            for e, partner, name, estimate, mark in zip(
                self._entries,
                self._partners,
                texts["name"],
                texts["estimate"],
                texts["flags"],
                strict=True,
            )
        ]
        self.sync(rows)
        # Setting a border title repaints the whole table, even to the same text: over SSH
        # that is kilobytes each minute for nothing. Only when it changes.
        title = _("Waiting ({n})").format(n=len(self._entries))
        subtitle = "" if self._entries else _("nobody is waiting · F2 checks in")
        if self.border_title != title:
            self.border_title = title
        if (self.border_subtitle or "") != subtitle:
            self.border_subtitle = subtitle


class KioskList(VisitTable):
    """Who is at the kiosk: called, or in their interview."""

    def __init__(self) -> None:
        super().__init__(
            [
                ("ticket", _("No."), 5),
                ("partner", _("Partner"), 10),
                ("name", _("Name"), 12),
                ("state", _("State"), 13),
            ],
            id="at-kiosk",
        )
        self._visits: list[Visit] = []
        self._view: View | None = None
        self._states: list[str] = []

    def on_mount(self) -> None:
        self.border_title = _("At the kiosk")

    def prepare(self, visits: list[Visit], view: View) -> dict[str, int]:
        """Word a read's rows; returns the longest text of the columns that want room."""
        self._visits, self._view = visits, view
        self._states = [format.kiosk_state(v, view.now) for v in visits]
        return {
            "name": _longest([format.visitor_name(v, view.privacy) for v in visits]),
            "state": _longest(self._states),
            "partner": _longest([format.partner_name(view.config, v.partner_id) for v in visits]),
        }

    def show(self) -> None:
        if self._view is None:
            return
        config, privacy = self._view.config, self._view.privacy
        rows: list[Row] = [
            (
                v.id,
                (
                    v.ticket,
                    format.partner_names(config, v.partner_id),
                    format.visitor_name(v, privacy),
                    kiosk_state,
                ),
            )
            for v, kiosk_state in zip(self._visits, self._states, strict=True)
        ]
        self.sync(rows)


class AppointmentList(VisitTable):
    """ "Rendez-vous du jour": the appointments the hub sent for today, by time; Enter on a
    line checks the visitor in (name and slot already there). Rows keyed by appointment."""

    def __init__(self) -> None:
        super().__init__(
            [
                ("time", _("Time"), 5),
                ("partner", _("Partner"), 8),
                ("name", _("Name"), 12),
                ("state", _("State"), 10),
            ],
            id="appointments",
        )
        self._lines: list[Appointment] = []
        self._view: View | None = None

    def on_mount(self) -> None:
        self.border_title = _("Appointments today")

    def prepare(self, lines: list[Appointment], view: View) -> None:
        self._lines, self._view = lines, view

    def show(self) -> None:
        if self._view is None:
            return
        view = self._view
        rows: list[Row] = [
            (
                a.id,
                (
                    format.clock_time(a.starts_at, view.tz),
                    format.partner_names(view.config, a.partner_id),
                    format.HIDDEN if view.privacy else (a.name or _("(erased)")),
                    state_words(a, view.now, view.compact),
                ),
            )
            for a in self._lines
        ]
        self.sync(rows)
        expected = sum(a.visit_id is None for a in self._lines)
        subtitle = _("Enter: arrived") if expected else _("none expected")
        if (self.border_subtitle or "") != subtitle:
            self.border_subtitle = subtitle

    def appointment(self, appointment_id: str) -> Appointment | None:
        return next((a for a in self._lines if a.id == appointment_id), None)


class TodayPanel(Vertical):
    """Today's figures, then the visits finished today, newest first."""

    def __init__(self) -> None:
        super().__init__(id="today")

    def compose(self) -> ComposeResult:
        yield Static("", id="today-summary", markup=False)
        yield VisitTable(
            [("ticket", "", 5), ("outcome", "", 16), ("time", "", 5)],
            id="today-list",
            show_header=False,
        )

    def on_mount(self) -> None:
        self.border_title = _("Today")

    def show(self, summary: DaySummary, view: View, width: int, max_lines: int) -> None:
        """`width`: the panel's; `max_lines`: what the figures may take (the finished list
        keeps the rest)."""
        config = view.config
        median = (
            _("median wait {n} min").format(n=round(summary.median_wait_minutes))
            if summary.median_wait_minutes is not None
            else _("median wait –")
        )
        counts = [
            f"{format.partner_name(config, partner)} {count}"
            for partner, count in sorted(summary.by_partner.items(), key=lambda kv: -kv[1])
        ]
        if counts:  # the served, by partner: 'reçus 6 · … · dont CAF 4 · France Travail 2'
            counts[0] = _("of which {partner_count}").format(partner_count=counts[0])
        # Whole items on each line.
        text = format.pack(
            [
                _("served {n}").format(n=summary.served),
                *counts,  # right after the served they count
                _("absent {n}").format(n=summary.no_shows),
                _("cancelled {n}").format(n=summary.cancelled),
                median,
            ],
            width=width - 3,
            max_lines=max_lines,
        )
        figures = self.query_one("#today-summary", Static)
        if str(figures.content) != text:
            figures.update(text)
        finished = self.query_one("#today-list", VisitTable)
        top = finished.visit_ids[:1]
        finished.sync(
            [
                (
                    v.id,
                    (
                        v.ticket,
                        format.outcome_label(v, width=width - 18),
                        format.clock_time(v.ended_at or v.called_at or v.arrived_at, view.tz),
                    ),
                )
                for v in summary.finished
            ]
        )
        if finished.visit_ids[:1] != top and self.screen.focused is not finished:
            # The newest finished visit (the top) in view, unless the user is in that list.
            finished.move_cursor(row=0, animate=False)
            finished.scroll_home(animate=False)
