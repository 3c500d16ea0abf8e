"""The hub's badge: only with [hub]; online, offline since, never synced; French and
English; the words from the sync state the worker writes (the fixed morning's clock:
Tuesday 10 March 2026, 10:00 in Paris, 09:00 UTC)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pvp_tui.core import i18n
from pvp_tui.core.config import Hub
from pvp_tui.core.hub_link import BadgeWords, HubLink, badge_words, read_link
from pvp_tui.core.store import Store
from pvp_tui.ui.app import PvpApp
from tests.support.desk_morning import PARIS, TEN_AM, make_desk, seed_morning, settle

SIZES = [(80, 24), (120, 40)]


def hub_app(db: Path, state: str) -> PvpApp:
    """The fixed morning at a site with a hub; the sync state as `state` says."""
    desk = make_desk(db)
    desk.config = dataclasses.replace(
        desk.config, hub=Hub("https://hub.example.fr", db.parent / "hub.token")
    )
    seed_morning(desk)  # its events go to the outbox: [hub] is set
    with desk.store.transaction() as tx:
        if state == "online":
            tx.execute("DELETE FROM outbox WHERE seq > 0")  # everything was sent
            tx.execute("UPDATE sync_state SET last_success_at = '2026-03-10T08:58:10+00:00'")
        elif state == "offline":
            tx.execute("DELETE FROM outbox WHERE seq > 14")  # the 14 oldest wait
            tx.execute(
                "UPDATE sync_state SET last_success_at = '2026-03-10T07:58:10+00:00', "
                "failing_since = '2026-03-10T08:42:03+00:00', last_error = 'x'"
            )
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    app.animation_level = "none"
    return app


async def _still(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    app = pilot.app
    assert isinstance(app, PvpApp)
    for _ in range(50):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.hub.reads and app.queue_screen.query("#badge-hub"):
            break
    await pilot.pause()


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("state", ["online", "offline", "never"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_hub_badge(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int], state: str, lang: str
) -> None:
    i18n.set_language(lang)
    app = hub_app(tmp_path / "pvp.db", state)
    assert snap_compare(app, terminal_size=size, run_before=_still)


async def test_the_badge_says_what_the_sync_state_says(tmp_path: Path) -> None:
    app = hub_app(tmp_path / "pvp.db", "offline")
    async with app.run_test(size=(120, 40)) as pilot:
        await _still(pilot)
        badge = app.hub.shown
        assert badge is not None
        assert (badge.text, badge.level) == (
            "hors ligne depuis 09:42 · 14 en attente d'envoi",
            "warn",
        )
        assert badge.detail == "dernière synchro avec le hub : 08:58"
        # The worker's next success, then a refresh (the change feed's, in the app).
        with app.desk.store.transaction() as tx:
            tx.execute("DELETE FROM outbox")
            tx.execute(
                "UPDATE sync_state SET failing_since = NULL, "
                "last_success_at = '2026-03-10T08:59:30+00:00'"
            )
        app.hub.refresh()
        await _still(pilot)
        shown = app.queue_screen.query_one("#badge-hub")
        assert str(shown.render()) == "● en ligne · synchro 09:59"


async def test_no_hub_no_badge(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    seed_morning(desk)
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.hub.refresh()
        await settle(pilot)
        assert not app.queue_screen.query("#badge-hub") and app.hub.reads == 0


def test_badge_words_in_both_languages() -> None:
    today = TEN_AM.date()
    at = datetime(2026, 3, 10, 8, 42, tzinfo=UTC)
    yesterday = datetime(2026, 3, 9, 17, 2, tzinfo=UTC)
    cases = [
        (HubLink(37, at, yesterday), "hors ligne depuis 09:42 · 37 en attente d'envoi", "warn"),
        (HubLink(1, at, None), "hors ligne depuis 09:42 · 1 en attente d'envoi", "warn"),
        (HubLink(0, None, at), "en ligne · synchro 09:42", "ok"),
        (HubLink(3, None, None), "pas encore synchronisé · 3 en attente d'envoi", "info"),
        (
            HubLink(2, at, at, token_refused=True),
            "le hub refuse le jeton du site · 2 en attente d'envoi",
            "error",
        ),
    ]
    for link, text, level in cases:
        words = badge_words(link, PARIS, today)
        assert (words.text, words.level) == (text, level)
    assert badge_words(HubLink(0, at, yesterday), PARIS, today).detail == (
        "dernière synchro avec le hub : 09/03 18:02"
    )
    assert (
        badge_words(HubLink(37, at, None), PARIS, today).short == "hors ligne 09:42 · 37 à envoyer"
    )
    i18n.set_language("en")
    assert badge_words(HubLink(37, at, None), PARIS, today) == BadgeWords(
        "offline since 09:42 · 37 waiting to be sent",
        "warn",
        "never synced with the hub yet",
        "offline 09:42 · 37 to send",
    )
    assert badge_words(HubLink(1, None, at), PARIS, today).text == (
        "online · synced 09:42 · 1 waiting to be sent"
    )


def test_read_link_counts_pending_batches_not_held_ones(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    desk.config = dataclasses.replace(desk.config, hub=Hub("http://hub", tmp_path / "t"))
    seed_morning(desk)
    store: Store = desk.store
    total = store.query("SELECT count(*) AS n FROM outbox")[0]["n"]
    assert read_link(store) == HubLink(total, None, None)
    from pvp_tui.core.sync import Outbox

    outbox = Outbox(store)
    first = outbox.next_batch(max_events=5)
    assert first is not None
    outbox.failed("down", first, 401)
    assert read_link(store).waiting == total and read_link(store).token_refused
    outbox.hold(first, 422, "refused")
    link = read_link(store)
    assert link.waiting == total - 5 and not link.token_refused


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_with_a_kiosk_at_80_columns_the_hub_badge_takes_fewer_words(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    from textual.widgets import Static

    from pvp_tui.ui.widgets.badges import Badges, BadgesChanged, BadgeUpdate, SiteHeader

    app = hub_app(tmp_path / "pvp.db", "offline")
    async with app.run_test(size=size) as pilot:
        await _still(pilot)
        kiosk = BadgeUpdate("kiosk-1", "Borne de l'accueil prête", "ok")
        app.queue_screen.post_message(BadgesChanged([kiosk]))
        await _still(pilot)
        header = app.queue_screen.query_one(SiteHeader)
        badges = header.query_one(Badges)
        hub = badges.badge("hub")
        assert hub is not None
        name = str(app.queue_screen.query_one("#site-name", Static).content)
        if size[0] == 80:  # the ok badges show their dot, the hub's its fewer words
            assert hub.shown == "● hors ligne 09:42 · 14 à envoyer"
            assert badges.badge("kiosk-1").shown == "●"  # type: ignore[union-attr]
            assert name.startswith("France Services")
        else:
            assert hub.shown == "● hors ligne depuis 09:42 · 14 en attente d'envoi"
            assert name == "France Services de démonstration"
        assert badges.region.right <= header.region.right  # nothing pushed off the row
        assert hub.tooltip == "dernière synchro avec le hub : 08:58"


async def test_the_app_writes_its_kiosks_health_for_the_hubs_status(tmp_path: Path) -> None:
    """The app's bridge links feed the status's kiosks: a kiosk whose bridge does not
    answer (nothing listens on its port) is 'down', 'bridge_unreachable'."""
    from pvp_tui.core.config import Kiosk
    from pvp_tui.core.kiosks import KioskLinks
    from pvp_tui.core.site_status import KioskBoard
    from tests.support.kiosk_app import until
    from tests.support.processes import free_port

    (tmp_path / "kiosk.token").write_text("x" * 32)
    kiosk = Kiosk("kiosque-1", "Borne 1", f"ws://127.0.0.1:{free_port()}/v1",
                  tmp_path / "kiosk.token")  # fmt: skip
    desk = make_desk(tmp_path / "pvp.db")
    desk.config = dataclasses.replace(desk.config, kiosks=(kiosk,))
    board = KioskBoard(["kiosque-1"])
    assert [(k, s.state) for k, s in board.snapshot()] == [("kiosque-1", "unknown")]
    links = KioskLinks(desk.config.kiosks, max_backoff=0.5)
    app = PvpApp(desk, watch_changes=False, tick_seconds=None, kiosks=links, kiosk_board=board)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: board.snapshot()[0][1].state == "down", "the kiosk down")
    assert board.snapshot()[0][1].problems == ("bridge_unreachable",)
