"""The session records on the visit, from bridge events (recorded from real calls) to the
store and the activity report; no live bridge here."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pvp_tui.core import events as ev
from pvp_tui.core import i18n
from pvp_tui.core.config import load_config
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.reports import Period, activity_report
from pvp_tui.core.sessions import (
    FALLBACK_PHONE,
    Record,
    SessionLog,
    SessionTracker,
    hub_room_params,
    open_session,
    room_url,
    start_params,
)
from pvp_tui.core.store import Store

from .conftest import PARIS_10AM, Clock, down_kiosk_config
from .recorded import failed, recorded_call, shaped_stats, until_in_call


@pytest.fixture
def desk(tmp_path: Path) -> FrontDesk:
    return FrontDesk(
        Store(tmp_path / "pvp.db", create=True), load_config(None), Clock(PARIS_10AM), actor="t"
    )


def at_kiosk(desk: FrontDesk, name: str = "Mme Durand") -> Any:
    visit = desk.check_in(CheckIn("caf", name))
    return desk.call(visit.id)


def feed_all(tracker: SessionTracker, events: list[tuple[str, dict[str, Any]]]) -> list[Record]:
    records: list[Record] = []
    for event, data in events:
        records += tracker.feed("kiosk-1", event, data)
    return records


def session_rows(desk: FrontDesk, visit_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e["type"], e["data"]) for e in SessionLog(desk).events(visit_id)]


def test_a_real_call_becomes_started_agent_joined_ended(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    live = tracker.begin("kiosk-1", visit)
    events = recorded_call(visit.ticket)
    records = feed_all(tracker, events)
    assert SessionLog(desk).write(records) == 3
    rows = session_rows(desk, visit.id)
    assert [t for t, _d in rows] == [
        ev.SESSION_STARTED,
        ev.SESSION_AGENT_JOINED,
        ev.SESSION_ENDED,
    ]
    started, joined, ended = (d for _t, d in rows)
    session = events[0][1]["session"]
    assert started == {
        "kiosk": "kiosk-1",
        "session": session,
        "partner": "caf",
        "room_host": "127.0.0.1",
    }
    last_state = next(d for e, d in events if e == "session.state" and d["state"] == "ended")
    assert joined["agent_joined_at"] == last_state["agent_joined_at"]
    assert ended["state"] == "ended" and ended["reason"] == "far_end_left"
    assert ended["worst_quality"] == "good" and ended["reconnects"] == 0
    assert ended["seconds_in_call"] == live.seconds_in_call() > 0
    assert len(live.stats) == 12 and not live.running
    assert "Durand" not in json.dumps(rows)  # the ticket stands for the visitor


def test_events_of_sessions_started_elsewhere_are_ignored(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    live = tracker.begin("kiosk-1", visit)
    other = recorded_call("C-999")  # another desk's call, same kiosk
    assert feed_all(tracker, other) == []
    assert live.session is None and live.state == "launching"
    assert tracker.feed("kiosk-2", *recorded_call(visit.ticket)[0]) == []  # other kiosk


def test_the_start_reply_after_events_records_once_and_does_not_go_back(
    desk: FrontDesk,
) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    live = tracker.begin("kiosk-1", visit)
    events = until_in_call(recorded_call(visit.ticket))
    records = feed_all(tracker, events)
    connecting = next(d for e, d in events if d.get("state") == "connecting")
    assert tracker.reply(live, connecting) == []  # the reply came late
    assert live.state == "in_call"
    assert [r.type for r in records] == [ev.SESSION_STARTED, ev.SESSION_AGENT_JOINED]


def test_quality_changes_and_a_lost_call_are_recorded(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    tracker.begin("kiosk-1", visit)
    events = until_in_call(recorded_call(visit.ticket))
    session = events[0][1]["session"]
    in_call = next(d for e, d in events if e == "session.state" and d["state"] == "in_call")
    trouble = [("session.stats", s) for s in shaped_stats(session, 8)]
    reconnecting = {**in_call, "state": "reconnecting", "reconnects": 1}
    end = failed(
        {**reconnecting, "worst_quality": "poor"},
        "connection_lost",
        "2026-11-29T10:10:00.000+00:00",
    )
    records = feed_all(tracker, events + trouble + [("session.state", reconnecting)])
    records += feed_all(tracker, [("session.state", end), ("session.state", end)])
    SessionLog(desk).write(records)
    rows = session_rows(desk, visit.id)
    assert [t for t, _d in rows] == [
        ev.SESSION_STARTED,
        ev.SESSION_AGENT_JOINED,
        ev.SESSION_QUALITY,
        ev.SESSION_RECONNECTING,
        ev.SESSION_ENDED,
        ev.SESSION_INCIDENT,
    ]
    data = dict(rows)
    assert data[ev.SESSION_QUALITY]["quality"] == "poor"
    assert set(data[ev.SESSION_QUALITY]["reasons"]) >= {"rtt", "loss"}
    ended = data[ev.SESSION_ENDED]
    assert (ended["state"], ended["reason"], ended["worst_quality"], ended["reconnects"]) == (
        "failed",
        "connection_lost",
        "poor",
        1,
    )
    assert data[ev.SESSION_INCIDENT]["kind"] == "call_lost"

    # ... and the activity report reads them as a failed session with its reason.
    report = activity_report(desk.store, desk.config, Period.day(date(2026, 3, 10)))
    assert report.current.total.failed_sessions == 1
    assert report.current.total.failure_reasons == {"connection_lost": 1}
    kiosk = next(k for k in report.current.kiosks if k.kiosk == "kiosk-1")
    assert kiosk.sessions == 1 and kiosk.incidents == 1 and kiosk.worst_quality == "poor"


def test_an_end_missed_while_the_link_was_down_comes_from_idle(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    tracker.begin("kiosk-1", visit)
    events = recorded_call(visit.ticket)
    ended = next(d for e, d in events if d.get("state") == "ended")
    idle = next(d for e, d in events if d.get("state") == "idle")
    records = feed_all(tracker, [e for e in events if e[1].get("state") != "ended"])
    assert idle["last"]["state"] == "ended"
    ended_records = [r for r in records if r.type == ev.SESSION_ENDED]
    assert len(ended_records) == 1
    assert ended_records[0].data["reason"] == ended["reason"] == "far_end_left"


def test_fallback_is_an_incident_and_one_call_per_kiosk(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    second = at_kiosk(desk, "M. Roux")
    tracker = SessionTracker()
    live = tracker.begin("kiosk-1", visit)
    feed_all(tracker, until_in_call(recorded_call(visit.ticket)))
    with pytest.raises(PvpError) as busy:
        tracker.begin("kiosk-1", second)
    assert busy.value.code == "session_busy" and visit.ticket in busy.value.message
    record = tracker.incident(live, FALLBACK_PHONE)
    assert record == Record(
        visit.id,
        ev.SESSION_INCIDENT,
        {"kiosk": "kiosk-1", "session": live.session, "kind": "fallback_phone"},
    )
    with pytest.raises(ValueError):
        tracker.incident(live, "coffee_break")


def test_a_failed_start_leaves_nothing(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    live = tracker.begin("kiosk-1", visit)
    tracker.abandon(live)
    assert tracker.get("kiosk-1") is None and tracker.for_visit(visit.id) is None


def test_a_batch_with_an_unknown_visit_writes_nothing(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    log = SessionLog(desk)
    good = Record(visit.id, ev.SESSION_STARTED, {"kiosk": "kiosk-1"})
    bad = Record("no-such-visit", ev.SESSION_ENDED, {"kiosk": "kiosk-1"})
    with pytest.raises(PvpError):
        log.write([good, bad])
    assert session_rows(desk, visit.id) == []


def test_the_display_name_is_the_ticket_and_the_room_comes_from_the_config(
    tmp_path: Path,
) -> None:
    config = down_kiosk_config(tmp_path)
    desk = FrontDesk(Store(tmp_path / "pvp.db", create=True), config, Clock(PARIS_10AM), actor="t")
    visit = at_kiosk(desk, "Marie Curie")
    assert start_params(config, visit) == {
        "room_url": "http://127.0.0.1:9/room",
        "display_name": visit.ticket,
        "partner": "caf",
    }
    demo = load_config(None)  # the demo site has no rooms: a clear refusal
    with pytest.raises(PvpError) as refused:
        room_url(demo, visit)
    assert refused.value.code == "no_room"
    assert "room_url" in refused.value.message and "CAF" in refused.value.message


def test_room_kind_goes_only_to_a_bridge_that_lists_visio_guest(desk: FrontDesk) -> None:
    """An older bridge refuses any parameter it does not know: a Visio room still opens on
    it (without room_kind) and staff are told to type the ticket in the lobby by hand."""
    visit = at_kiosk(desk)
    url = "https://visio.numerique.gouv.fr/abc-defg-hij"
    base = {"room_url": url, "display_name": visit.ticket, "partner": "caf"}
    new = frozenset({"binary_chunks", "visio_guest"})
    assert hub_room_params(visit, url, "visio-guest", new) == (
        base | {"room_kind": "visio-guest"},
        None,
    )
    assert hub_room_params(visit, url, "link", frozenset()) == (base, None)
    with i18n.using_language("fr"):
        params, notice = hub_room_params(visit, url, "visio-guest", frozenset({"binary_chunks"}))
    assert params == base  # no room_kind: the older bridge takes the call
    assert notice is not None and visit.ticket in notice
    assert "à la main" in notice and "Rejoindre" in notice
    assert "Mme" not in notice and "Durand" not in notice


def test_two_desks_following_one_call_write_its_record_once(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    events = recorded_call(visit.ticket)
    session = events[0][1]["session"]
    trouble = [("session.stats", s) for s in shaped_stats(session, 8)]
    log = SessionLog(desk)
    first, second = SessionTracker(), SessionTracker()
    first.begin("kiosk-1", visit)
    assert log.write(feed_all(first, events[:4] + trouble)) == 3  # started, joined, poor
    # Another desk's pvp (re)started mid-call follows it again, found in the store.
    found = open_session(log, session)
    assert found == (visit.id, {"started", "agent"})
    second.adopt("kiosk-1", visit, session, found[1])
    rest = events[4:]
    assert log.write(feed_all(first, rest)) == 2  # good again, ended
    assert log.write(feed_all(second, rest)) == 0  # the same end: not written twice
    assert [t for t, _d in session_rows(desk, visit.id)] == [
        ev.SESSION_STARTED,
        ev.SESSION_AGENT_JOINED,
        ev.SESSION_QUALITY,
        ev.SESSION_QUALITY,
        ev.SESSION_ENDED,
    ]
    assert open_session(log, session) is None  # over: nobody adopts it any more


def test_the_kiosk_satisfaction_answer_is_recorded_once_for_our_session(desk: FrontDesk) -> None:
    visit = at_kiosk(desk)
    tracker = SessionTracker()
    tracker.begin("kiosk-1", visit)
    events = recorded_call(visit.ticket)
    records = feed_all(tracker, events)
    session = events[0][1]["session"]

    def answer(value: str, sid: str = session) -> list[Record]:
        data = {"session": sid, "display_name": visit.ticket, "answer": value, "at": "x"}
        return tracker.feed("kiosk-1", "kiosk.satisfaction", data)

    assert answer("good", "another-session") == []  # another desk's call on this kiosk
    assert answer("excellent") == []  # not one of the three faces
    records += answer("bad")
    assert answer("good") == []  # one answer per call
    SessionLog(desk).write(records)
    rows = session_rows(desk, visit.id)
    assert rows[-1] == (
        ev.SESSION_SATISFACTION,
        {"kiosk": "kiosk-1", "session": session, "answer": "bad"},
    )
