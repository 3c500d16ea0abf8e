"""A generated history of a site, built through the real FrontDesk API with a controllable
clock, plus raw session and document events inserted the way the video-session and
documents features write them. Alongside, a plain ledger of what happened to each visit:
the known answers the tests compute their expected figures from, independently of the
report code.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.models import Need
from pvp_tui.core.store import Store

KIOSKS = ("kiosque-1", "kiosque-2")
SECRET_NAME = "Zoé Confidentielle-Tartempion"
SECRET_PHONE = "06 98 76 54 32"


# The kiosk's satisfaction answers after the served calls, in turn (None: no answer).
ANSWERS_IN_TURN = ("good", "good", None, "ok", "good", "bad", None, "good")


class SimClock:
    """The FrontDesk's clock: the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Session:
    kiosk: str
    failed: bool
    reason: str
    quality: str
    seconds: int
    reconnects: int


@dataclass
class Rec:
    """The ledger's truth about one visit (one queue entry)."""

    visit_id: str
    partner: str
    origin: str  # checked_in | transferred_in
    kind: str | None  # walk_in | appointment (None for a transferred-in visit)
    arrived: datetime
    needs: tuple[str, ...] = ()
    first_called: datetime | None = None
    last_started: datetime | None = None
    finished: datetime | None = None
    outcome: str | None = None
    final: str = "open"  # done|transferred|cancelled|no_show|closed_overnight|open
    sessions: list[Session] = field(default_factory=list)
    incidents: list[tuple[str, str]] = field(default_factory=list)  # (kiosk, kind)
    scanned: list[tuple[str, int]] = field(default_factory=list)  # (kiosk, pages)
    printed: list[tuple[str, int, int]] = field(default_factory=list)  # (kiosk, pages, copies)
    answers: list[str] = field(default_factory=list)  # the kiosk's faces after its calls


class History:
    def __init__(self, store: Store, config: Config, seed: int = 6) -> None:
        self.store = store
        self.config = config
        self.tz = config.site.timezone
        self.clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.desk = FrontDesk(store, config, clock=self.clock, actor="test")
        self.rng = random.Random(seed)
        self.ledger: list[Rec] = []
        self.partners = [p.id for p in config.partners]
        self.calls_served = 0  # picks the satisfaction answer without drawing from rng

    # ------------------------------------------------------------------ plumbing
    def at(self, moment: datetime) -> None:
        self.clock.at = moment.replace(microsecond=0)

    def local(self, day: date, hh: int, mm: int, ss: int = 0) -> datetime:
        return datetime.combine(day, time(hh, mm, ss), self.tz).astimezone(UTC)

    def raw_event(self, visit_id: str, kind: str, at: datetime, data: dict[str, Any]) -> None:
        """An event as the session/documents features append it (the visit log's one writer)."""
        with self.store.transaction() as db:
            self.desk.append_event(db, visit_id, kind, at, data)

    def check_in(
        self,
        arrived: datetime,
        partner: str,
        appointment: bool = False,
        needs: tuple[str, ...] = (),
        name: str = "Visiteur",
        phone: str | None = None,
    ) -> Rec:
        self.at(arrived)
        slot = None
        if appointment:
            local = arrived.astimezone(self.tz)
            slot = f"{local.hour:02d}:{local.minute:02d}"
        visit = self.desk.check_in(
            CheckIn(
                partner_id=partner,
                name=name,
                appointment=slot,
                needs=tuple(Need(n) for n in needs),
                phone=phone,
            )
        )
        rec = Rec(
            visit_id=visit.id,
            partner=partner,
            origin="checked_in",
            kind="appointment" if appointment else "walk_in",
            arrived=self.clock.at,
            needs=tuple(sorted(needs)),
        )
        self.ledger.append(rec)
        return rec

    def call(self, rec: Rec, at: datetime) -> None:
        self.at(at)
        self.desk.call(rec.visit_id)
        if rec.first_called is None:
            rec.first_called = self.clock.at

    def back(self, rec: Rec, at: datetime) -> None:
        self.at(at)
        self.desk.back_to_waiting(rec.visit_id)
        rec.final = "open"

    def start(self, rec: Rec, at: datetime) -> None:
        self.at(at)
        self.desk.start(rec.visit_id)
        rec.last_started = self.clock.at

    def finish(self, rec: Rec, at: datetime, outcome: str) -> None:
        self.at(at)
        self.desk.finish(rec.visit_id, outcome)
        rec.finished, rec.outcome, rec.final = self.clock.at, outcome, "done"

    def no_show(self, rec: Rec, at: datetime) -> None:
        self.at(at)
        self.desk.no_show(rec.visit_id)
        rec.final = "no_show"

    def cancel(self, rec: Rec, at: datetime) -> None:
        self.at(at)
        self.desk.cancel(rec.visit_id)
        if rec.final != "no_show":  # a no-show closed by cancel stays a no-show
            rec.final = "cancelled"

    def transfer(self, rec: Rec, at: datetime, to: str) -> Rec:
        self.at(at)
        new = self.desk.transfer(rec.visit_id, to)
        rec.final = "transferred"
        moved = Rec(
            visit_id=new.id,
            partner=to,
            origin="transferred_in",
            kind=None,
            arrived=self.clock.at,
            needs=rec.needs,
        )
        self.ledger.append(moved)
        return moved

    def session(
        self,
        rec: Rec,
        begin: datetime,
        seconds: int,
        kiosk: str,
        failed: bool = False,
        reason: str = "staff_ended",
        quality: str = "good",
        reconnects: int = 0,
        incident: str | None = None,
        incident_has_kiosk: bool = True,
    ) -> datetime:
        self.raw_event(
            rec.visit_id,
            "session_started",
            begin,
            {"kiosk": kiosk, "partner": rec.partner, "room_host": "visio.example.fr"},
        )
        self.raw_event(rec.visit_id, "session_agent_joined", begin + timedelta(seconds=20), {})
        if quality != "good":
            self.raw_event(
                rec.visit_id, "session_quality", begin + timedelta(seconds=60), {"quality": quality}
            )
        end = begin + timedelta(seconds=seconds + 20)
        self.raw_event(
            rec.visit_id,
            "session_ended",
            end,
            {
                "kiosk": kiosk,
                "state": "failed" if failed else "ended",
                "reason": reason,
                "worst_quality": quality,
                "reconnects": reconnects,
                "seconds_in_call": seconds,
            },
        )
        rec.sessions.append(Session(kiosk, failed, reason, quality, seconds, reconnects))
        if incident is not None:
            data = {"kind": incident}
            if incident_has_kiosk:
                data["kiosk"] = kiosk
            self.raw_event(rec.visit_id, "session_incident", end + timedelta(seconds=5), data)
            rec.incidents.append((kiosk, incident))
        return end + timedelta(seconds=10)

    def documents(self, rec: Rec, at: datetime, kiosk: str, scans: int, prints: int) -> None:
        for i in range(scans):
            pages = self.rng.randint(1, 4)
            doc = str(uuid.uuid4())
            self.raw_event(
                rec.visit_id,
                "document_captured",
                at + timedelta(seconds=i),
                {"document": doc, "kiosk": kiosk, "type": "other", "pages": pages, "sha256": "0"},
            )
            rec.scanned.append((kiosk, pages))
        for i in range(prints):
            pages, copies = self.rng.randint(1, 3), self.rng.randint(1, 2)
            self.raw_event(
                rec.visit_id,
                "document_printed",
                at + timedelta(seconds=30 + i),
                {
                    "document": str(uuid.uuid4()),
                    "kiosk": kiosk,
                    "printer": "kiosk",
                    "copies": copies,
                    "pages": pages,
                },
            )
            rec.printed.append((kiosk, pages, copies))

    def close_overnight(self, day: date) -> None:
        """What the first `pvp` start of `day` does."""
        self.at(self.local(day, 7, 55))
        before = {r.visit_id for r in self.ledger if r.final == "open"}
        closed = self.desk.close_overnight()
        assert closed == len(before)
        for rec in self.ledger:
            if rec.visit_id in before:
                rec.final = "closed_overnight"

    # ------------------------------------------------------------------ the story
    def serve(self, rec: Rec, called: datetime, *, video: bool, outcome: str = "resolved") -> None:
        """From the call to the end, with or without a video session at a kiosk."""
        rng = self.rng
        started = called + timedelta(seconds=rng.randint(30, 240))
        self.start(rec, started)
        length = rng.randint(5 * 60, 45 * 60)
        kiosk = rng.choice(KIOSKS)
        moment = started + timedelta(seconds=10)
        if video:
            quality = rng.choices(("good", "degraded", "poor"), (8, 3, 1))[0]
            moment = self.session(
                rec,
                moment,
                max(60, length - 120),
                kiosk,
                quality=quality,
                reconnects=rng.randint(0, 2) if quality != "good" else 0,
            )
            # The visitor's face on the kiosk after the call, or none (one call in four);
            # taken in turn, not from rng, so the history's other figures stay as they were.
            self.calls_served += 1
            answer = ANSWERS_IN_TURN[self.calls_served % len(ANSWERS_IN_TURN)]
            if answer is not None:
                self.raw_event(
                    rec.visit_id,
                    "session_satisfaction",
                    moment - timedelta(seconds=5),
                    {"kiosk": kiosk, "session": f"s-{self.calls_served}", "answer": answer},
                )
                rec.answers.append(answer)
        if rng.random() < 0.5:
            self.documents(rec, moment, kiosk, rng.randint(1, 3), rng.randint(0, 2))
        self.finish(rec, max(moment, started + timedelta(seconds=length)), outcome)

    def visitor(self, day: date, index: int) -> None:
        rng = self.rng
        arrived = self.local(day, rng.randint(8, 15), rng.randint(0, 59), rng.randint(0, 59))
        partner = rng.choice(self.partners)
        needs: tuple[str, ...] = ()
        if rng.random() < 0.15:
            needs = tuple(rng.sample([n.value for n in Need], rng.randint(1, 2)))
        secret = index % 7 == 0
        rec = self.check_in(
            arrived,
            partner,
            appointment=rng.random() < 0.3,
            needs=needs,
            name=SECRET_NAME if secret else f"Visiteur {index}",
            phone=SECRET_PHONE if secret else None,
        )
        called = arrived + timedelta(seconds=rng.randint(0, 75 * 60))
        story = rng.choices(
            (
                "served",
                "recall",
                "retried_call",
                "tech_failure",
                "no_show",
                "no_show_cancel",
                "no_show_back",
                "cancel",
                "transfer",
                "finish_unstarted",
                "left_open",
            ),
            (50, 5, 7, 4, 6, 3, 3, 5, 8, 4, 3),
        )[0]
        if story == "served":
            self.call(rec, called)
            self.serve(rec, called, video=rng.random() < 0.8, outcome=rng.choice(OUTCOMES))
        elif story == "recall":  # called, not there, back in the queue, called again
            self.call(rec, called)
            self.back(rec, called + timedelta(minutes=2))
            again = called + timedelta(minutes=rng.randint(5, 20))
            self.call(rec, again)
            self.serve(rec, again, video=True)
        elif story == "retried_call":  # the video call fails, staff retry it
            self.call(rec, called)
            started = called + timedelta(minutes=1)
            self.start(rec, started)
            kiosk = rng.choice(KIOSKS)
            moment = self.session(
                rec,
                started + timedelta(seconds=10),
                rng.randint(30, 300),
                kiosk,
                failed=True,
                reason=rng.choice(("connection_lost", "agent_never_came", "browser_crashed")),
                quality="poor",
                reconnects=rng.randint(1, 3),
                incident="call_lost",
                incident_has_kiosk=rng.random() < 0.5,
            )
            moment = self.session(rec, moment, rng.randint(300, 1800), kiosk)
            self.finish(rec, moment, "resolved")
        elif story == "tech_failure":
            self.call(rec, called)
            started = called + timedelta(minutes=1)
            self.start(rec, started)
            kiosk = rng.choice(KIOSKS)
            moment = self.session(
                rec,
                started + timedelta(seconds=10),
                rng.randint(0, 120),
                kiosk,
                failed=True,
                reason="page_unreachable",
                quality="poor",
                incident="fallback_phone",
            )
            self.finish(rec, moment, "technical_failure")
        elif story == "no_show":
            self.call(rec, called)
            self.no_show(rec, called + timedelta(minutes=5))
        elif story == "no_show_cancel":
            self.call(rec, called)
            self.no_show(rec, called + timedelta(minutes=5))
            self.cancel(rec, called + timedelta(minutes=30))
        elif story == "no_show_back":  # came back after all, and was served
            self.call(rec, called)
            self.no_show(rec, called + timedelta(minutes=5))
            self.back(rec, called + timedelta(minutes=15))
            again = called + timedelta(minutes=20)
            self.call(rec, again)
            self.serve(rec, again, video=False)
        elif story == "cancel":
            self.cancel(rec, called)
        elif story == "transfer":
            self.call(rec, called)
            moment = called + timedelta(minutes=1)
            if rng.random() < 0.5:
                self.start(rec, moment)
                moment += timedelta(minutes=rng.randint(2, 10))
            other = rng.choice([p for p in self.partners if p != partner])
            moved = self.transfer(rec, moment, other)
            recalled = moment + timedelta(seconds=rng.randint(0, 40 * 60))
            self.call(moved, recalled)
            self.serve(moved, recalled, video=True, outcome=rng.choice(OUTCOMES))
        elif story == "finish_unstarted":  # sorted out at the desk, no interview
            self.call(rec, called)
            self.finish(rec, called + timedelta(minutes=3), "redirected")
        elif story == "left_open" and rng.random() < 0.5:  # maybe called, never served
            self.call(rec, called)

    def build(self, first: date, days: int, per_day: tuple[int, int] = (0, 6)) -> History:
        index = 0
        for offset in range(days):
            day = first + timedelta(days=offset)
            self.close_overnight(day)
            if day.weekday() == 6:  # closed on Sundays
                continue
            for _ in range(self.rng.randint(*per_day)):
                index += 1
                self.visitor(day, index)
        self.close_overnight(first + timedelta(days=days))
        return self


OUTCOMES = ("resolved", "resolved", "resolved", "follow_up", "redirected")
