"""Pilot tests: every front-desk action through its key, some by mouse, checking the
database after each (not only the screen)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from textual.command import CommandList
from textual.widgets import Checkbox, Input, Label, Select, Static

from pvp_tui.core import store
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn, Erasure, FrontDesk, erasure_pending_message
from pvp_tui.core.i18n import _
from pvp_tui.core.models import Outcome, Status
from pvp_tui.ui.actions import ACTIONS
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.check_in import CheckInForm
from pvp_tui.ui.screens.dialogs import (
    ConfirmDialog,
    HelpScreen,
    NoteDialog,
    OutcomeDialog,
    TransferDialog,
    VisitMenu,
)
from pvp_tui.ui.screens.queue import QueueScreen
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import TEN_AM, make_app, make_desk, set_time, settle
from tests.support.said import said

SIZE = (80, 24)


def table(app: PvpApp, table_id: str) -> VisitTable:
    return app.queue_screen.query_one(f"#{table_id}", VisitTable)


def tickets(app: PvpApp, table_id: str) -> list[str]:
    t = table(app, table_id)
    return [str(t.get_row_at(i)[0]) for i in range(t.row_count)]


def status(desk: FrontDesk, ticket: str) -> Status:
    return desk.find(ticket).status


async def select_row(pilot, app: PvpApp, table_id: str, ticket: str) -> None:  # type: ignore[no-untyped-def]
    t = table(app, table_id)
    t.focus()
    t.move_cursor(row=tickets(app, table_id).index(ticket))
    await pilot.pause()


def notes(app: PvpApp) -> list[str]:
    return said(app)


async def test_waiting_list_follows_call_order_with_estimates_and_flags(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        expected = [e.visit.ticket for e in app.desk.queue()]
        assert tickets(app, "waiting") == expected
        assert expected[0] == "C-003"  # the priority walk-in before earlier arrivals
        rows = {
            str(r[0]): [str(c) for c in r]
            for r in (table(app, "waiting").get_row_at(i) for i in range(5))
        }
        assert rows["C-003"][2] == "M. Roux"
        assert rows["C-003"][3] == "0:15"
        # 80 columns: the compact words (the whole ones at 120: test_queue_layout.py).
        assert rows["C-003"][5] == "prio"
        assert rows["M-001"][4] == "fermé → mer. 9h"  # MSA has no permanence on Tuesday
        assert rows["C-002"][5] == "RDV 10:30"
        assert rows["T-002"][5] == "LSF"
        assert tickets(app, "at-kiosk") == ["A-001"]
        assert tickets(app, "today-list") == ["T-001", "C-001"] or set(
            tickets(app, "today-list")
        ) == {"T-001", "C-001"}
        summary = str(app.queue_screen.query_one("#today-summary", Static).content)
        # The served, then by partner ('dont': of which), absents, cancelled.
        assert " · ".join(summary.split("\n")).startswith(
            "reçus 1 · dont CAF 1 · absents 1 · annulés 0"
        ), summary


async def test_check_in_by_keys_saves_and_shows_the_new_row(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = len(app.desk.visits_of_day())
        await pilot.press("f2")
        assert isinstance(app.screen, CheckInForm)
        await pilot.press(*"Mme Test")
        await pilot.press("tab")  # to the partner
        select = app.screen.query_one("#partner", Select)
        assert select.has_focus
        await pilot.press("enter", "down", "down", "enter")  # blank, CAF, Assurance Maladie
        assert select.value == "cpam"
        await pilot.press("tab", "space")  # appointment: yes
        await pilot.press("tab", *"11:15")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        visits = app.desk.visits_of_day()
        assert len(visits) == before + 1
        new = next(v for v in visits if v.name == "Mme Test")
        assert new.partner_id == "cpam" and new.status is Status.WAITING
        assert new.appointment_at is not None and new.appointment_at.hour == 10  # UTC
        assert new.ticket in tickets(app, "waiting")
        assert any(f"{new.ticket} enregistré" in n for n in notes(app))


async def test_check_in_errors_show_under_each_field_and_nothing_is_saved(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = len(app.desk.visits_of_day())
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, CheckInForm)
        form.query_one("#has-appointment", Checkbox).value = True
        form.query_one("#appointment", Input).value = "25:99"
        form.query_one("#phone", Input).value = "abc"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        errors = {
            field: str(form.query_one(f"#{field}-error", Label).content)
            for field in ("name", "partner", "appointment", "phone")
        }
        assert errors["name"] == _("Enter a name to call the visitor by.")
        assert errors["partner"] == _("Choose a partner.")
        assert errors["name"] != "Enter a name to call the visitor by."  # in French
        assert "HH:MM" in errors["appointment"]
        assert "06 12 34 56 78" in errors["phone"]
        assert form.query_one("#name", Input).has_focus  # the first mistake
        assert len(app.desk.visits_of_day()) == before
        # Fixed, it saves.
        form.query_one("#name", Input).value = "M. Correct"
        form.query_one("#partner", Select).value = "caf"
        form.query_one("#appointment", Input).value = "10:45"
        form.query_one("#phone", Input).value = ""
        await pilot.pause()  # the corrected fields' errors go: the button moves up
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert len(app.desk.visits_of_day()) == before + 1


async def test_escape_leaves_the_form_without_saving(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = len(app.desk.visits_of_day())
        await pilot.press("f2", *"Mme Partie", "escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert len(app.desk.visits_of_day()) == before


async def test_call_next_start_and_finish_by_keys(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")  # A-001 is in an interview at the only kiosk: asked first
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("o")
        await settle(pilot)
        assert status(app.desk, "C-003") is Status.CALLED
        assert "C-003" not in tickets(app, "waiting")
        assert "C-003" in tickets(app, "at-kiosk")
        # The called visitor is selected in the kiosk list: F4 starts them.
        assert app.queue_screen.selected_visit().ticket == "C-003"  # type: ignore[union-attr]
        await pilot.press("f4")
        await settle(pilot)
        assert status(app.desk, "C-003") is Status.IN_SESSION
        await pilot.press("f8")
        assert isinstance(app.screen, OutcomeDialog)
        await pilot.press("2")
        await settle(pilot)
        visit = app.desk.find("C-003")
        assert visit.status is Status.DONE and visit.outcome is Outcome.FOLLOW_UP
        assert "C-003" in tickets(app, "today-list")
        assert "C-003" not in tickets(app, "at-kiosk")


async def test_call_out_of_order_no_show_and_back_to_waiting_by_letters(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "M-001")  # MSA is closed: F3 would skip it
        await pilot.press("c", "o")  # yes, even though the kiosk is busy
        await settle(pilot)
        assert status(app.desk, "M-001") is Status.CALLED
        await select_row(pilot, app, "at-kiosk", "M-001")
        await pilot.press("n")
        await settle(pilot)
        assert status(app.desk, "M-001") is Status.NO_SHOW
        await select_row(pilot, app, "today-list", "M-001")
        await pilot.press("b")
        await settle(pilot)
        assert status(app.desk, "M-001") is Status.WAITING
        assert "M-001" in tickets(app, "waiting")


async def test_cancel_asks_first(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "I-001")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert status(app.desk, "I-001") is Status.WAITING
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("o")
        await settle(pilot)
        assert status(app.desk, "I-001") is Status.CANCELLED
        assert "I-001" not in tickets(app, "waiting")


async def test_transfer_to_another_partner(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "I-001")
        await pilot.press("t")
        assert isinstance(app.screen, TransferDialog)
        await pilot.press("down", "enter")  # the list skips DGFiP itself: 2nd is cpam
        await settle(pilot)
        assert status(app.desk, "I-001") is Status.TRANSFERRED
        new = next(e.visit for e in app.desk.queue() if e.visit.name == "M. Lefèvre")
        assert new.partner_id == "cpam" and new.ticket == "A-002"
        assert "A-002" in tickets(app, "waiting")
        assert "I-001" not in tickets(app, "waiting")


async def test_edit_note(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "T-002")
        await pilot.press("e")
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"CV à imprimer", "enter")
        await settle(pilot)
        assert app.desk.find("T-002").note == "CV à imprimer"
        row = table(app, "waiting").get_row("T-002" and app.desk.find("T-002").id)
        assert "✎" in str(row[5])


async def test_refused_action_says_why_and_changes_nothing(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "T-002")
        events_before = len(app.desk.events(app.desk.find("T-002").id))
        await pilot.press("s")  # start a visitor who was never called
        await settle(pilot)
        assert status(app.desk, "T-002") is Status.WAITING
        assert len(app.desk.events(app.desk.find("T-002").id)) == events_before
        assert any("T-002 est en attente" in n for n in notes(app))
        await pilot.press("f8")  # finish is about the kiosk: A-001's interview, not T-002
        assert isinstance(app.screen, OutcomeDialog)
        assert app.screen.ticket == "A-001"
        await pilot.press("escape")
        await settle(pilot)
        assert status(app.desk, "T-002") is Status.WAITING
        assert status(app.desk, "A-001") is Status.IN_SESSION


async def test_calling_when_the_kiosk_is_busy_asks_and_no_calls_nobody(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.question == (
            "Le kiosque est occupé (A-001 en entretien).\nAppeler quand même C-003 M. Roux ?"
        )
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert [v.ticket for v in app.desk.active()] == ["A-001"]


async def test_f4_and_f8_act_on_the_kiosk_whatever_list_has_the_focus(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3", "o")  # C-003 called while A-001 is in an interview
        await settle(pilot)
        await select_row(pilot, app, "waiting", "T-002")
        await pilot.press("f4")  # the only called visitor starts, not the waiting T-002
        await settle(pilot)
        assert status(app.desk, "C-003") is Status.IN_SESSION
        await select_row(pilot, app, "waiting", "T-002")
        await pilot.press("f8")  # two interviews now: which one is for the staff to say
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert any("Plusieurs visiteurs sont au kiosque" in n for n in notes(app))
        await select_row(pilot, app, "at-kiosk", "A-001")
        await pilot.press("f8")
        assert isinstance(app.screen, OutcomeDialog) and app.screen.ticket == "A-001"
        await pilot.press("1")
        await settle(pilot)
        assert status(app.desk, "A-001") is Status.DONE
        assert status(app.desk, "C-003") is Status.IN_SESSION


async def test_when_the_kiosk_list_empties_the_keys_move_to_the_waiting_list(
    app: PvpApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "at-kiosk", "A-001")
        await pilot.press("f8", "1")
        await settle(pilot)
        assert tickets(app, "at-kiosk") == []
        assert app.screen.focused is table(app, "waiting")
        await pilot.press("enter")  # the selected waiting visitor's menu, as expected
        assert isinstance(app.screen, VisitMenu)


async def test_the_visitor_menu_acts_on_its_visitor_not_on_the_kiosk(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3", "o")  # C-003 called while A-001 is in an interview
        await settle(pilot)
        await select_row(pilot, app, "at-kiosk", "C-003")
        await pilot.press("enter")
        assert isinstance(app.screen, VisitMenu)
        await pilot.click("#do-finish")
        assert isinstance(app.screen, OutcomeDialog) and app.screen.ticket == "C-003"
        await pilot.press("3")
        await settle(pilot)
        assert status(app.desk, "C-003") is Status.DONE
        assert status(app.desk, "A-001") is Status.IN_SESSION


async def test_the_visitor_menu_shows_and_takes_the_queue_keys(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "T-002")
        await pilot.press("enter")
        assert isinstance(app.screen, VisitMenu)
        labels = {str(b.label) for b in app.screen.query("#visit-actions Button")}
        assert {"c  Appeler hors tour", "e  Note", "x  Annuler visite"} <= labels
        await pilot.press("e")  # the letter works in the menu as on the queue
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        await pilot.press("escape")
        await pilot.press("enter", "s")  # not offered to a waiting visitor: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, VisitMenu)
        assert status(app.desk, "T-002") is Status.WAITING


async def test_f4_with_nobody_called_says_what_to_do(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "at-kiosk", "A-001")  # in an interview already
        await pilot.press("f4")
        await settle(pilot)
        assert any(n.startswith("A-001 est en entretien") for n in notes(app)), notes(app)
        assert status(app.desk, "A-001") is Status.IN_SESSION


async def test_privacy_mode_keeps_notes_closed(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "M-001")  # its note: "dossier retraite…"
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert any("mode confidentiel" in n for n in notes(app)), notes(app)
        screen_text = "".join(str(s.render()) for s in app.screen.query(Static))
        assert "dossier retraite" not in screen_text


async def test_actions_by_mouse_through_the_visitor_menu(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        index = tickets(app, "waiting").index("T-002")
        # Row y: border (1) + header (1) + index; a first click selects, a second opens.
        await pilot.click("#waiting", offset=(3, 2 + index))
        await pilot.click("#waiting", offset=(3, 2 + index))
        await pilot.pause()
        assert isinstance(app.screen, VisitMenu)
        assert not app.screen.query("#do-start")  # not allowed while waiting
        await pilot.click("#do-call_selected")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)  # A-001 has the only kiosk
        await pilot.click("#yes")
        await settle(pilot)
        assert status(app.desk, "T-002") is Status.CALLED
        # The called visitor is already selected in the kiosk list: one click opens.
        await pilot.click("#at-kiosk", offset=(3, 2 + tickets(app, "at-kiosk").index("T-002")))
        await pilot.pause()
        assert isinstance(app.screen, VisitMenu)
        await pilot.click("#do-finish")
        await pilot.pause()
        assert isinstance(app.screen, OutcomeDialog)
        await pilot.click("#outcome-resolved")
        await settle(pilot)
        visit = app.desk.find("T-002")
        assert visit.status is Status.DONE and visit.outcome is Outcome.RESOLVED


async def test_footer_keys_are_clickable(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("FooterKey", offset=(2, 0))  # the first: F1 Aide
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_help_lists_every_key(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.content) for s in app.screen.query(Static))
        for label in ("F2", "F3", "F8", "Accueillir un nouvel arrivant", "Suppr", "^p"):
            assert label in text
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


async def test_every_action_has_a_bound_key_and_a_palette_entry(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bound = {b.id for _key, b in app.queue_screen._bindings}
        assert {a.id for a in ACTIONS} <= bound
        entries = [title for title, _help, _cb in app.palette_entries()]
        for action in ACTIONS:
            assert any(title.startswith(_(action.label) + " (") for title in entries), action
        await select_row(pilot, app, "waiting", "I-001")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"annuler visite")
        for _attempt in range(100):  # the palette searches in the background
            await pilot.pause(0.02)
            if app.screen.query_one(CommandList).option_count:
                break
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("o")
        await settle(pilot)
        assert status(app.desk, "I-001") is Status.CANCELLED


async def test_privacy_mode_hides_names_everywhere(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "M. Roux" in str(table(app, "waiting").get_row_at(0)[2])
        await pilot.press("p")
        await pilot.pause()
        # At 80 columns the kiosk list has no partner column: the name is the second.
        for table_id, column in (("waiting", 2), ("at-kiosk", 1)):
            t = table(app, table_id)
            assert {str(t.get_row_at(i)[column]) for i in range(t.row_count)} == {"—"}
        assert app.queue_screen.query_one("#badge-privacy")
        await pilot.press("enter")  # the visitor menu hides the name too
        assert isinstance(app.screen, VisitMenu)
        assert "M. Roux" not in str(app.screen.query_one("#visit-details", Static).content)


async def test_privacy_from_the_site_config_and_flag(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert str(table(app, "waiting").get_row_at(0)[2]) == "—"


async def test_another_process_change_appears(tmp_path: Path) -> None:
    db = tmp_path / "pvp.db"
    app = make_app(db, seed=False)
    app.watch_changes = True
    other = make_desk(db)  # its own connection, as a second pvp would have
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert tickets(app, "waiting") == []
        visit = other.check_in(CheckIn("caf", "Mme Ailleurs"))
        for _ in range(60):  # the watcher polls every 0.5 s
            await pilot.pause(0.05)
            if tickets(app, "waiting"):
                break
        assert tickets(app, "waiting") == [visit.ticket]


async def test_refresh_updates_rows_in_place(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        waiting = table(app, "waiting")
        app.refresh_queue()
        await settle(pilot)
        assert waiting.changes == 0  # nothing changed: nothing touched
        app.desk.check_in(CheckIn("la-poste", "M. Colis"))
        app.refresh_queue()
        await settle(pilot)
        # One row added, placed before the appointment not yet due (one re-sort); that
        # appointment keeps its estimate (planned at its slot, before the newcomer) and the
        # other rows stay as they were.
        assert waiting.changes == 2
        assert len(tickets(app, "waiting")) == 6
        assert tickets(app, "waiting") == [e.visit.ticket for e in app.desk.queue()]


async def test_a_failing_read_is_reported_not_fatal(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def broken() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        app.desk.queue = broken  # type: ignore[method-assign]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.is_running
        assert any("Impossible de lire la file d'attente" in n for n in notes(app))
        badge = app.queue_screen.query_one("#badge-db", Static)
        assert "base inaccessible" in str(badge.content)


async def test_the_minute_tick_moves_only_the_time_cells(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        waiting = table(app, "waiting")
        before = {
            t: [str(c) for c in waiting.get_row_at(i)]
            for i, t in enumerate(tickets(app, "waiting"))
        }
        set_time(app.desk, app.desk.now() + timedelta(minutes=1))
        app.refresh_queue()  # what the one-minute timer does
        await settle(pilot)
        after = {
            t: [str(c) for c in waiting.get_row_at(i)]
            for i, t in enumerate(tickets(app, "waiting"))
        }
        assert after["C-003"][3] == "0:16" and before["C-003"][3] == "0:15"
        changed_columns = {
            column
            for t in before
            for column, (old, new) in enumerate(zip(before[t], after[t], strict=True))
            if old != new
        }
        assert changed_columns <= {3, 4}  # waited, and estimates where kiosks run late
        assert 3 in changed_columns


async def test_a_failed_save_keeps_the_form_and_what_was_typed(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = len(app.desk.visits_of_day())

        def busy(_form: CheckIn) -> None:
            raise PvpError("db_busy", "La base est restée verrouillée. Réessayez.")

        app.desk.check_in = busy  # type: ignore[assignment,method-assign]
        await pilot.press("f2", *"Mme Patiente")
        form = app.screen
        form.query_one("#partner", Select).value = "caf"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "verrouillée" in str(form.query_one("#save-error", Label).content)
        assert form.query_one("#name", Input).value == "Mme Patiente"
        assert len(app.desk.visits_of_day()) == before


async def test_a_name_that_looks_like_markup_is_shown_as_typed(app: PvpApp) -> None:
    app.desk.check_in(CheckIn("caf", "Jean [/b] [red]Dupont"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running  # closing tag with nothing open: no MarkupError
        table = app.queue_screen.query_one("#waiting")
        shown = [str(cell) for row in table.rows for cell in table.get_row(row)]
        assert "Jean [/b] [red]Dupont" in shown


async def test_home_and_end_go_to_the_first_and_last_visitor(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        waiting = table(app, "waiting")
        waiting.focus()
        await pilot.press("end")
        assert waiting.cursor_row == waiting.row_count - 1 > 0
        await pilot.press("home")
        assert waiting.cursor_row == 0


async def test_calling_a_visitor_of_a_closed_partner_asks_first(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "M-001")  # MSA has no permanence now
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmDialog)
        lines = app.screen.question.splitlines()
        assert lines[0] == "Le kiosque est occupé (A-001 en entretien)."
        assert lines[1].startswith("MSA\u00a0: fermé en ce moment, ouvre ")
        assert lines[2].startswith("Appeler quand même M-001 ")
        await pilot.press("n")
        await settle(pilot)
        assert status(app.desk, "M-001") is Status.WAITING


async def test_checking_in_for_a_closed_partner_says_when_it_opens(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2", *"M. Ferme")
        app.screen.query_one("#partner", Select).value = "msa"  # no permanence now
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        said = [n for n in notes(app) if "enregistré" in n]
        assert said and "MSA\u00a0: fermé en ce moment, ouvre " in said[-1], said


async def test_the_partner_list_speaks_french_in_the_footer(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2", "tab", "enter")  # the partner list opens
        await pilot.pause()
        shown = {b.binding.description for b in app.screen.active_bindings.values()}
        assert "Fermer la liste" in shown and "Dismiss menu" not in shown, shown


async def test_badge_updates_before_the_header_exists_wait_for_it(app: PvpApp) -> None:
    """A kiosk or a call can report before the queue screen has composed its header (a
    call already running when pvp starts): the updates must wait, not crash the app."""
    from pvp_tui.ui.services.documents import KiosksChanged
    from pvp_tui.ui.services.sessions import SessionChanged
    from pvp_tui.ui.widgets.badges import SiteHeader

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.queue_screen.query_one(SiteHeader).remove()
        app.update_badges(db_ok=True)
        app.post_message(SessionChanged("kiosk-1"))
        app.post_message(KiosksChanged())
        await pilot.pause()
        assert app.is_running


async def test_a_read_arriving_before_the_lists_exist_is_left_for_the_mount(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        state = app.queue_screen.state
        assert state is not None
        await table(app, "waiting").remove()
        loads = app.loads
        app.show_read(state)  # e.g. another desk's change seen while pvp is still opening
        await pilot.pause()
        assert app.is_running and app.loads == loads + 1


async def test_the_app_says_when_its_erasure_left_copies_in_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = tmp_path / "pvp.db"
    app = make_app(db_path)
    set_time(app.desk, TEN_AM + timedelta(days=2))  # the morning's closed visits: past retention
    monkeypatch.setattr(store, "ERASE_WAIT_SECONDS", 0.5)
    # Another process reads inside one read transaction (a long report, a backup...).
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "read", str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert reader.stdin is not None and reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "reading"
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.desk.find("C-001").name is None  # erased from the tables
            assert erasure_pending_message() in notes(app)  # but not yet from the files
    finally:
        reader.stdin.close()
        reader.wait(timeout=10)
    assert app.desk.purge_personal_data() == Erasure(erased=0, complete=True)
