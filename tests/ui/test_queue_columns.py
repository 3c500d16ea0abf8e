"""The lists' columns at 80 and 120 columns: names whole or cut with '…', partners whole,
in short, or cut with '…'; never a text cut without '…'."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.core.models import Need
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.format import HIDDEN, fit, hints
from pvp_tui.ui.screens.dialogs import VisitMenu
from pvp_tui.ui.screens.queue import WAITING_COLUMNS, column_widths
from pvp_tui.ui.widgets.badges import Badges, BadgesChanged, BadgeUpdate, SiteHeader, fit_header
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import TEN_AM, make_app, set_time, settle

# What the facilitator's morning looked like: names staff call out, long partner names,
# an appointment checked in late.
NAMES = ("Mme Garnier", "Mme Chevallier", "M. Rousseau")
LONG_NAME = "Mme Marie-Françoise de La Rochefoucauld"


def test_fit_keeps_what_fits_and_cuts_the_rest_with_an_ellipsis() -> None:
    assert fit("Mme Garnier", 11) == "Mme Garnier"
    assert fit("Mme Garnier", 10) == "Mme Garni…"
    assert fit("Mme Garnier ", 5) == "Mme…"  # no space before the mark
    assert fit(HIDDEN, 10) == HIDDEN  # privacy mode
    assert fit("anything", 1) == "…" and fit("anything", 0) == ""
    # Choices: the first that fits, else the last cut.
    choices = ("France Titres (ANTS)", "ANTS")
    assert fit(choices, 20) == "France Titres (ANTS)"
    assert fit(choices, 19) == "ANTS"
    assert fit(("France Travail", "F. Travail"), 6) == "F. Tr…"
    # Wide characters count as two cells.
    assert fit("M. 山田太郎", 8) == "M. 山田…"


def test_the_partners_short_names() -> None:
    config = load_config(None)
    shorts = {p.id: p.short for p in config.partners}
    assert shorts["france-titres"] == "ANTS"  # the acronym in parentheses
    assert shorts["dgfip"] == "DGFiP"
    assert shorts["cpam"] == "CPAM"  # short_name in the config
    assert shorts["caf"] == "CAF"  # short already
    assert all(len(short) <= 10 for short in shorts.values())


def test_the_name_gets_room_before_the_partner() -> None:
    headers = {"ticket": "N°", "partner": "Part.", "name": "Nom", "waited": "Attente"}
    headers |= {"estimate": "Estim.", "flags": "Repères"}
    space = 80 - 3 - 2 * 6
    wants = {"partner": 20, "name": 14, "estimate": 15, "flags": 16}
    got = column_widths(space, WAITING_COLUMNS[True], headers, wants)
    assert sum(got.values()) == space
    assert got["name"] >= 14 and got["flags"] >= 16 and got["estimate"] >= 15
    # What the partner gets is what is left (its short names then stand in).
    assert got["partner"] == space - sum(v for k, v in got.items() if k != "partner")
    # A name wider than the room: the notes and the estimate keep theirs, the name the rest.
    got = column_widths(space, WAITING_COLUMNS[True], headers, {**wants, "name": 40})
    assert got["flags"] >= 16 and got["estimate"] >= 15 and got["name"] > 10


def cells(app: PvpApp, table_id: str, column: str) -> dict[str, str]:
    """Ticket -> the text shown in `column` of that list."""
    table = app.queue_screen.query_one(f"#{table_id}", VisitTable)
    index = list(table.columns).index(column)  # type: ignore[arg-type]
    rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return {row[0]: row[index] for row in rows}


def whole_or_cut(shown: str, texts: tuple[str, ...]) -> bool:
    return shown in texts or (shown.endswith("…") and texts[-1].startswith(shown[:-1]))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("privacy", [False, True])
async def test_names_show_whole_or_end_in_an_ellipsis(
    tmp_path: Path, size: tuple[int, int], privacy: bool
) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=privacy)
    desk = app.desk
    names = {
        desk.check_in(CheckIn("france-titres", name)).ticket: name for name in (*NAMES, LONG_NAME)
    }
    late = desk.check_in(CheckIn("france-travail", "Mme Garnier", appointment="09:00"))
    names[late.ticket] = "Mme Garnier"
    desk.check_in(CheckIn("cpam", "M. Roussel", needs=(Need.SIGN_LANGUAGE,)))
    config = desk.config
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = cells(app, "waiting", "name")
        for ticket, name in names.items():
            if privacy:
                assert shown[ticket] == HIDDEN
            elif name in NAMES:
                assert shown[ticket] == name  # the names of every day show whole
            else:
                assert whole_or_cut(shown[ticket], (name,)), shown[ticket]
        assert cells(app, "waiting", "flags")[late.ticket] == "RDV 09:00 retard"
        for table_id in ("waiting", "at-kiosk"):
            table = app.queue_screen.query_one(f"#{table_id}", VisitTable)
            if "partner" not in [str(k.value) for k in table.columns]:
                continue
            for ticket, partner in cells(app, table_id, "partner").items():
                p = next(p for p in config.partners if ticket.startswith(p.prefix + "-"))
                assert whole_or_cut(partner, (p.name, p.short)), partner
        if size[0] >= 100:
            assert set(cells(app, "waiting", "partner").values()) >= {"France Titres (ANTS)"}


def test_the_header_keeps_the_sites_name() -> None:
    titles = ("PVP Relais · France Services de démonstration", "France Services de démonstration")
    privacy, db = ("confidentiel", "info"), ("base ok", "ok")
    kiosk = ("Kiosque de l'accueil prêt", "ok")
    assert fit_header(120, titles, [privacy, db, kiosk]) == (titles[0], frozenset())
    assert fit_header(80, titles, [privacy, db]) == (titles[0], frozenset())
    # Narrower: the site's name alone, then the ok badges show only their dot.
    assert fit_header(80, titles, [privacy, db, kiosk]) == (titles[1], frozenset({2}))
    title, compact = fit_header(60, titles, [privacy, db, kiosk])
    assert title == titles[1] and compact == frozenset({1, 2})
    # The database's "ok" gives its words up first: a call in progress keeps its own.
    call = ("visio C-001 en cours", "ok")
    assert fit_header(80, titles, [privacy, db, call]) == (titles[1], frozenset({1}))
    # A badge that says something is wrong stays whole; the name is cut with '…'.
    title, compact = fit_header(60, titles, [privacy, ("base injoignable", "error"), kiosk])
    assert title.startswith("France Services") and title.endswith("…") and compact == {2}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_in_privacy_mode_the_header_keeps_the_sites_name(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        kiosk = BadgeUpdate("kiosk-1", "Kiosque de l'accueil prêt", "ok")
        app.queue_screen.post_message(BadgesChanged([kiosk]))
        await settle(pilot)
        header = app.queue_screen.query_one(SiteHeader)
        name = app.queue_screen.query_one("#site-name", Static)
        assert "France Services de démonstration" in str(name.content)
        assert name.size.width >= len(str(name.content))
        badges = header.query_one(Badges)
        assert badges.region.right <= header.region.right
        privacy = badges.badge("privacy")
        assert privacy is not None and privacy.shown == "● confidentiel"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_function_key_shows_in_the_footer(app: PvpApp, size: tuple[int, int]) -> None:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.pause()
        footer = app.queue_screen.query_one(Footer)
        keys = {k.key_display: k.description for k in footer.query(FooterKey)}
        assert [f"F{n}" for n in range(1, 9)] == [k for k in keys if k.startswith("F")]
        assert footer.max_scroll_x == 0  # nothing cut off at the right
        for key in footer.query(FooterKey):
            assert key.region.right <= size[0]
        if size[0] >= 100:
            assert keys["F6"] == "Numériser" and keys["F8"] == "Terminer"
            assert "^p" in keys
        else:
            assert keys["F6"] == "Papiers" and keys["F7"] == "Imprimer"


@pytest.mark.parametrize("privacy", [False, True])
async def test_the_visit_menu_shows_the_note_not_a_lone_mark(tmp_path: Path, privacy: bool) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=privacy)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        waiting = app.queue_screen.query_one("#waiting", VisitTable)
        waiting.move_cursor(row=waiting.visit_ids.index(ticket_id(app, "M-001")))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, VisitMenu)
        lines = str(app.screen.query_one("#visit-details", Static).content).splitlines()
        assert "✎" not in lines
        note = "Note : —" if privacy else "Note : dossier retraite agricole"
        assert note in lines, lines


def ticket_id(app: PvpApp, ticket: str) -> str:
    state = app.queue_screen.state
    assert state is not None
    return next(e.visit.id for e in state.waiting if e.visit.ticket == ticket)


def test_key_hints_keep_whole_items_and_mark_what_they_leave_out() -> None:
    text = "← → page · [ ] déplacer · r pivoter · n renumériser · Suppr"
    assert hints(text, 80) == text
    assert hints(text, 44) == "← → page · [ ] déplacer · r pivoter · …"
    assert hints("+ ajouter des pages · ^t supprimer", 22) == "+ ajouter des pages…"


async def test_the_header_shows_the_time_to_the_minute(app: PvpApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        clock = app.queue_screen.query_one("#clock", Static)
        assert str(clock.content) == "10:00"
        set_time(app.desk, TEN_AM + timedelta(minutes=1, seconds=5))
        app.queue_screen.query_one(SiteHeader)._tick()  # what the minute's timer runs
        await pilot.pause()
        assert str(clock.content) == "10:01"
        name = app.queue_screen.query_one("#site-name", Static)
        assert clock.region.x >= name.region.right
