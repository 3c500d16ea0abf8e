"""A site pulls its directory and its appointments from a real hub, on SQLite and
PostgreSQL: partners added or changed on the hub reach the site's check-in (the CLI's
`pvp checkin --partner`), appointments added with `pvp-hub admin appointment` reach the
site's list and are checked in with their name and slot, cancelled ones leave it; a
site that never reached its hub keeps the config's partners."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from pvp_hub import directory
from pvp_tui.core import appointments
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.models import Kind
from pvp_tui.core.pull import cursor
from pvp_tui.core.store import Store
from tests.hub.regions import Hub, Region
from tests.hub.test_site_sync import SiteDesk, make_site
from tests.support.hub_daemons import hub_main


def hub_admin(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    """`pvp-hub admin ARGS` on the hub's database, its main() in this process."""
    return hub_main(["admin", *args, "--db", hub.process.db_url])


def fresh_desk(site: SiteDesk) -> FrontDesk:
    """What a newly started pvp sees (its own store and front desk)."""
    return FrontDesk(Store(site.db), site.desk.base_config, actor="test")


def pull_once(site: SiteDesk) -> subprocess.CompletedProcess[str]:
    done = site.pvp("sync", "--once", "--wait", "20")
    assert done.returncode == 0, done.stderr
    return done


def soon(site: SiteDesk) -> datetime:
    """A slot later today in the site's time zone (or a minute ago, near midnight)."""
    now = datetime.now(site.desk.config.site.timezone).replace(second=0, microsecond=0)
    slot = now + timedelta(minutes=30)
    return slot if slot.date() == now.date() else now - timedelta(minutes=1)


def test_partners_from_the_hub_replace_the_config_s_at_check_in(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    # Before any pull: the config's partners (France Travail is only there).
    old = site.pvp("checkin", "--partner", "france-travail", "--name", "Avant Synchro", "--json")
    assert old.returncode == 0, old.stderr
    refused = site.pvp("checkin", "--partner", "ml", "--name", "Mme Locale")
    assert refused.returncode == 1 and "Unknown partner ml" in refused.stderr

    added = hub_admin(hub, "partner", "add", "ml", "--name", "Mission locale", "--prefix", "ML",
                      "--hours", "mon=09:00-12:00", "--region", region.slug)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "3 partner change(s)" in pull_once(site).stdout  # caf, cpam, ml

    made = site.pvp("checkin", "--partner", "ml", "--name", "Mme Locale", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["ticket"] == "ML-001"
    # The hub's list replaced the config's: France Travail is no longer offered...
    gone = site.pvp("checkin", "--partner", "france-travail", "--name", "Apres Synchro")
    assert gone.returncode == 1 and "Known partners: caf, cpam, ml" in gone.stderr
    # ...but its visit of this morning keeps its name in the report.
    report = site.pvp("report", "--format", "json")
    assert report.returncode == 0, report.stderr
    names = {p["partner"]: p["name"] for p in json.loads(report.stdout)["current"]["partners"]}
    assert names["france-travail"] == "France Travail" and names["ml"] == "Mission locale"

    # A change on the hub (hours, name) reaches an open front desk without a restart.
    desk = fresh_desk(site)
    assert desk.config.partner("caf").name == "CAF"  # type: ignore[union-attr]
    changed = directory.check_partners(
        [{"id": "caf", "name": "CAF du Lot", "prefix": "C", "hours": {"tue": ["14:00-16:00"]}}]
    )
    directory.save_partners(hub.engine, region.slug, changed)
    assert "1 partner change(s)" in pull_once(site).stdout
    assert desk.refresh_directory() is True
    caf = desk.config.partner("caf")
    assert caf is not None and caf.name == "CAF du Lot" and list(caf.hours) == ["tue"]
    assert desk.refresh_directory() is False  # nothing new: one small read
    assert "0 partner change(s)" in pull_once(site).stdout  # the cursor moved on

    # Removed on the hub: no longer offered, its visit of today keeps its name.
    removed = hub_admin(hub, "partner", "remove", "ml", "--region", region.slug)
    assert removed.returncode == 0 and removed.stdout == "ml: removed\n", removed.stderr
    assert "1 partner change(s)" in pull_once(site).stdout
    gone = site.pvp("checkin", "--partner", "ml", "--name", "Mme Trop Tard")
    assert gone.returncode == 1 and "Known partners: caf, cpam." in gone.stderr
    report = site.pvp("report", "--format", "json")
    names = {p["partner"]: p["name"] for p in json.loads(report.stdout)["current"]["partners"]}
    assert names["ml"] == "Mission locale"
    assert desk.refresh_directory() is True and desk.config.partner("ml") is not None
    assert [p.id for p in desk.config.partners] == ["caf", "cpam"]
    listed = hub_admin(hub, "partner", "list", "--region", region.slug)
    assert " ml " not in listed.stdout and "Mission locale" not in listed.stdout


def test_a_site_that_never_reached_its_hub_keeps_its_config_s_partners(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, "http://127.0.0.1:9")  # nobody listens there
    done = site.pvp("sync", "--once", "--wait", "1")
    assert done.returncode == 1 and "Cannot reach the hub" in done.stderr
    assert cursor(site.store) is None
    desk = fresh_desk(site)
    assert desk.config.partners_from == "config"
    assert [p.id for p in desk.config.partners] == [p.id for p in site.desk.base_config.partners]
    made = site.pvp("checkin", "--partner", "france-travail", "--name", "Hors Ligne")
    assert made.returncode == 0, made.stderr


def test_an_appointment_added_on_the_hub_is_checked_in_with_its_name_and_slot(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    slot = soon(site)
    added = hub_admin(hub, "appointment", "add", "--site", site.site.slug, "--partner", "caf",
                      "--at", slot.strftime("%Y-%m-%dT%H:%M"), "--minutes", "20",
                      "--name", "Mme Rendez-Vous", "--phone", "06 12 34 56 78",
                      "--region", region.slug)  # fmt: skip
    assert added.returncode == 0, added.stderr
    appointment_id = added.stdout.split()[1]
    other = hub_admin(hub, "appointment", "add", "--site", site.site.slug, "--partner", "cpam",
                      "--at", slot.strftime("%Y-%m-%dT%H:%M"), "--name", "M. Annule",
                      "--region", region.slug)  # fmt: skip
    other_id = other.stdout.split()[1]
    assert "2 appointment change(s)" in pull_once(site).stdout

    desk = fresh_desk(site)
    with desk.store.snapshot() as db:
        lines = appointments.day_lines(db, desk.today())
    assert [(a.partner_id, a.name, a.starts_at) for a in lines] == [
        ("caf", "Mme Rendez-Vous", slot), ("cpam", "M. Annule", slot)
    ]  # fmt: skip
    listed = site.pvp("appointments", "--json")
    assert [(a["id"], a["name"]) for a in json.loads(listed.stdout)] == [
        (appointment_id, "Mme Rendez-Vous"), (other_id, "M. Annule")
    ]  # fmt: skip
    unknown = site.pvp("appointments", "--arrived", "zzz")
    assert unknown.returncode == 1 and "No single appointment today" in unknown.stderr
    visit = desk.check_in_appointment(appointment_id)
    assert (visit.name, visit.phone, visit.kind) == ("Mme Rendez-Vous", "06 12 34 56 78",
                                                    Kind.APPOINTMENT)  # fmt: skip
    assert visit.appointment_at == slot and visit.ticket == "C-001"
    checked = desk.events(visit.id)[0]
    assert checked["type"] == "checked_in" and checked["data"]["appointment"] == appointment_id
    again = site.pvp("appointments", "--arrived", appointment_id[:8])  # the CLI's way: refused
    assert again.returncode == 1 and "already checked in (C-001)" in again.stderr
    again = site.pvp("sync", "--once", "--wait", "20")
    assert again.returncode == 0, again.stderr

    # Cancelled on the hub: the one nobody checked in leaves the list; the one already
    # checked in stays, cancelled, for the notice.
    for cancelled in (other_id, appointment_id):
        done = hub_admin(hub, "appointment", "cancel", cancelled, "--region", region.slug)
        assert done.returncode == 0, done.stderr
    assert "2 appointment change(s)" in pull_once(site).stdout
    with desk.store.snapshot() as db:
        lines = appointments.day_lines(db, desk.today())
    assert [(a.id, a.cancelled_after_arrival, a.ticket) for a in lines] == [
        (appointment_id, True, "C-001")
    ]
    listed = hub_admin(hub, "appointment", "list", "--site", site.site.slug, "--json",
                       "--region", region.slug)  # fmt: skip
    assert {r["status"] for r in json.loads(listed.stdout)} == {"cancelled"}


async def test_an_appointment_pulled_from_the_hub_is_checked_in_with_one_key(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    from pvp_tui.ui.app import PvpApp
    from pvp_tui.ui.screens.queue_panels import AppointmentList
    from tests.support.desk_morning import settle

    site = make_site(tmp_path, region, hub.url)
    slot = soon(site)
    added = hub_admin(hub, "appointment", "add", "--site", site.site.slug, "--partner", "cpam",
                      "--at", slot.strftime("%Y-%m-%dT%H:%M"), "--name", "M. Clavier",
                      "--region", region.slug)  # fmt: skip
    assert added.returncode == 0, added.stderr
    pull_once(site)
    app = PvpApp(fresh_desk(site), watch_changes=False, tick_seconds=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#appointments", AppointmentList)
        assert table.row_count == 1 and table.display
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
    [visit] = app.desk.visits_of_day()
    assert (visit.ticket, visit.name, visit.appointment_at) == ("A-001", "M. Clavier", slot)


async def test_an_open_app_picks_up_the_hub_s_changes_without_a_restart(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    """The app's own sync thread pulls (every second here); the open app sees the
    worker's commits through its change feed: a partner renamed on the hub and an
    appointment added there appear on screen, nobody restarting anything."""
    import asyncio

    from pvp_hub import appointments as hub_appointments
    from pvp_tui import cli
    from pvp_tui.commands.context import Context
    from pvp_tui.core.config import load_config
    from pvp_tui.ui.app import PvpApp
    from pvp_tui.ui.screens.queue_panels import AppointmentList
    from tests.support.desk_morning import settle

    site = make_site(tmp_path, region, hub.url)
    with site.config_path.open("a") as config:
        config.write("pull_seconds = 1\n")  # [hub] is the file's last table
    desk = FrontDesk(Store(site.db), load_config(site.config_path), actor="test")
    made = cli._start_sync(Context(config=desk.config, desk=desk))
    app = PvpApp(desk, tick_seconds=None)  # the change feed on, as at the front desk
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            renamed = directory.check_partners([{"id": "caf", "name": "CAF du Lot", "prefix": "C"}])
            directory.save_partners(hub.engine, region.slug, renamed)
            slot = soon(site)
            hub_appointments.upsert(
                hub.engine,
                region.slug,
                hub_appointments.AppointmentInput(site.site.slug, "caf", slot, "Mme Direct"),
            )
            table = app.screen.query_one("#appointments", AppointmentList)
            for _ in range(300):  # up to a minute on a loaded machine; usually 1-2 s
                if table.row_count == 1 and app.desk.config.partners_from == "hub":
                    break
                await asyncio.sleep(0.2)
                await pilot.pause()
            await settle(pilot)
            row = [str(cell) for cell in table.get_row_at(0)]
            assert row[1:3] == ["CAF du Lot", "Mme Direct"]
            assert [p.id for p in app.desk.config.partners] == ["caf", "cpam"]
    finally:
        if made:
            made[0].stop(wait=5)
