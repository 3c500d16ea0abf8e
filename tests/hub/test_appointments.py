"""The hub's appointments (pvp_hub/appointments.py) through a real hub's pull, on SQLite
and PostgreSQL: only their site sees them, a source's own id upserts, a move to another
site withdraws them from the first, names and phones are erased after their day, and
bad input is refused line by line with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pvp_hub import appointments
from pvp_hub.errors import HubError
from pvp_hub.schema import appointments as table
from tests.hub.regions import Hub, Region, Site
from tests.hub.test_pull import pull_all


def booking(site: Site, **changes: Any) -> appointments.AppointmentInput:
    fields: dict[str, Any] = {
        "site": site.slug,
        "partner": "caf",
        "starts_at": datetime.now(UTC) + timedelta(hours=2),
        "name": "Mme Durand",
        "phone": "06 12 34 56 78",
        **changes,
    }
    return appointments.AppointmentInput(**fields)


def appointment_items(client: httpx.Client, site: Site, cursor: str | None) -> tuple[list, str]:
    items, cursor, _ = pull_all(client, site, cursor)
    return [i for i in items if i["kind"] == "appointment"], cursor


def test_only_its_site_sees_it_and_a_source_s_id_upserts(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    leyme, other = region.site(), region.site()
    _, leyme_cursor = appointment_items(client, leyme, None)
    _, other_cursor = appointment_items(client, other, None)
    first, what = appointments.upsert(
        hub.engine, region.slug, booking(leyme, source="rdv-sp", external_id="rdv-42")
    )
    assert what == "added"
    again, what = appointments.upsert(
        hub.engine,
        region.slug,
        booking(leyme, source="rdv-sp", external_id="rdv-42", name="Mme Durand-Petit"),
    )
    assert (again, what) == (first, "updated")  # a repeated delivery: the same row
    items, leyme_cursor = appointment_items(client, leyme, leyme_cursor)
    assert [(i["id"], i["data"]["name"], i["data"]["status"]) for i in items] == [
        (str(first), "Mme Durand-Petit", "planned")
    ]
    assert appointment_items(client, other, other_cursor)[0] == []

    # Moved to the other site: the first gets it as deleted, the other as new.
    appointments.upsert(hub.engine, region.slug, booking(other), appointment_id=first)
    items, leyme_cursor = appointment_items(client, leyme, leyme_cursor)
    assert [(i["id"], i["deleted"]) for i in items] == [(str(first), True)]
    items, other_cursor = appointment_items(client, other, other_cursor)
    assert [(i["id"], i["deleted"]) for i in items] == [(str(first), False)]

    appointments.cancel(hub.engine, region.slug, str(first))
    items, _ = appointment_items(client, other, other_cursor)
    assert [i["data"]["status"] for i in items] == ["cancelled"]
    with pytest.raises(HubError, match="already cancelled"):
        appointments.cancel(hub.engine, region.slug, str(first))


def test_names_and_phones_are_erased_after_their_day(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    made, _ = appointments.upsert(hub.engine, region.slug, booking(site))
    local_day = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Paris"))
    listed = appointments.list_appointments(hub.engine, region.slug, site.slug, local_day.date())
    assert [(r["id"], r["name"]) for r in listed] == [(str(made), "Mme Durand")]
    other_day = local_day.date() + timedelta(days=1)
    assert appointments.list_appointments(hub.engine, region.slug, site.slug, other_day) == []
    erase_at = appointments.erase_at(datetime.now(UTC) + timedelta(hours=2), "Europe/Paris")
    appointments.purge(hub.engine, clock=lambda: erase_at - timedelta(seconds=1))
    items, _ = appointment_items(client, site, None)
    assert items[0]["data"]["name"] == "Mme Durand"
    erased = appointments.purge(hub.engine, clock=lambda: erase_at)
    assert erased["appointment_names_erased"] >= 1
    with hub.engine.connect() as conn:
        row = conn.execute(table.select().where(table.c.id == made)).mappings().one()
    assert (row["visitor_name"], row["phone"], row["status"]) == (None, None, "planned")
    # One entered for a day already over keeps no name at all.
    past, _ = appointments.upsert(
        hub.engine, region.slug, booking(site, starts_at=datetime.now(UTC) - timedelta(days=3))
    )
    with hub.engine.connect() as conn:
        row = conn.execute(table.select().where(table.c.id == past)).mappings().one()
    assert row["visitor_name"] is None and row["starts_at"] is not None


def test_bad_input_is_refused_line_by_line_and_nothing_is_stored(hub: Hub, region: Region) -> None:
    site = region.site()
    bad = booking(site, name=" ", phone="12", room_url="http://visio.example.fr/x", status="maybe")
    with pytest.raises(HubError) as refused:
        appointments.upsert(hub.engine, region.slug, bad)
    assert [p.split(":")[0] for p in refused.value.problems] == [
        "name", "phone", "room_url", "status",
    ]  # fmt: skip
    with pytest.raises(HubError, match="unknown partner 'nope'"):
        appointments.upsert(hub.engine, region.slug, booking(site, partner="nope"))
    assert appointments.list_appointments(hub.engine, region.slug, site.slug) == []


def status_of(hub: Hub, appointment_id: Any) -> str:
    with hub.engine.connect() as conn:
        return str(
            conn.execute(
                table.select().with_only_columns(table.c.status).where(table.c.id == appointment_id)
            ).scalar_one()
        )


def test_the_sites_visit_outcome_shows_on_the_appointment(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    """The check-in names the appointment; the visit finished makes it `seen`, a no-show
    `noshow` (undone by "back to waiting"), and a booking tool's later "to come" does not
    undo what the site saw. Another site cannot touch an appointment that is not its own."""
    from tests.hub.regions import event, push

    leyme, other = region.site(), region.site()
    came, _ = appointments.upsert(
        hub.engine, region.slug, booking(leyme, source="rdv-sp", external_id="rdv-7001")
    )
    missed, _ = appointments.upsert(hub.engine, region.slug, booking(leyme))
    stranger, _ = appointments.upsert(hub.engine, region.slug, booking(other))
    now = datetime.now(UTC)

    def checked_in(visit: Any, appointment: Any) -> dict[str, Any]:
        data = {"partner": "caf", "ticket": "C-001", "kind": "appointment",
                "appointment": str(appointment)}  # fmt: skip
        return {**event(visit, "checked_in", now - timedelta(minutes=30)), "data": data}

    import uuid

    v1, v2, v3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    answer = push(client, leyme, [checked_in(v1, came), checked_in(v2, missed),
                                  checked_in(v3, stranger)])  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert [status_of(hub, a) for a in (came, missed, stranger)] == ["planned"] * 3
    done = [event(v1, "called", now - timedelta(minutes=20), **{"from": "waiting", "to": "called"}),
            event(v1, "finished", now - timedelta(minutes=5), outcome="resolved"),
            event(v2, "no_show", now - timedelta(minutes=10)),
            event(v3, "no_show", now - timedelta(minutes=10))]  # fmt: skip
    assert push(client, leyme, done).status_code == 200
    assert [status_of(hub, a) for a in (came, missed, stranger)] == ["seen", "noshow", "planned"]

    undone = push(client, leyme, [event(v2, "back_to_waiting", now - timedelta(minutes=2))])
    assert undone.status_code == 200
    assert status_of(hub, missed) == "planned"

    # RDV Service Public says "to come" again (nobody updated it there): still seen.
    appointments.upsert(
        hub.engine, region.slug, booking(leyme, source="rdv-sp", external_id="rdv-7001")
    )
    assert status_of(hub, came) == "seen"
    listed = {row["id"]: row["status"] for row in appointments.list_appointments(
        hub.engine, region.slug, leyme.slug)}  # fmt: skip
    assert listed[str(came)] == "seen"
