"""RDV Service Public into a real hub (both engines): webhook deliveries signed as the
sender signs them, repeated and out of order, received into the inbox and applied by the
hub's applier; refusals that store nothing; appointments that map to no site kept aside;
the API catch-up through `pvp-hub rdv-sp sync` over three pages; a burst of 2,000
appointments for 40 sites; a hub killed after answering applies the delivery at its next
start; a delivery that cannot be applied does not block the others; two hub processes
share one inbox. What a site would pull is read from the hub's own pull API with the
site's token."""

from __future__ import annotations

import itertools
import subprocess
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy import event as sa_event

from pvp_hub import directory
from pvp_hub.database import IMMEDIATE, make_engine, migrate
from pvp_hub.rdv_sp import admin, inbox
from pvp_hub.rdv_sp.signature import sign
from pvp_hub.schema import appointments, changes, rdv_sp_inbox, rdv_sp_states
from tests.hub.regions import Hub, Region, Site, database_url
from tests.hub.test_region import signed_in
from tests.support import rdv_sp
from tests.support.hub_daemons import HubProcess, hub_main
from tests.support.processes import wait_for

PARIS = ZoneInfo("Europe/Paris")
SECRET = "le-secret-du-webhook-de-la-caf-du-lot"
_organisations = itertools.count(1)  # organisation ids are unique across the hub


def mapping(organisation: int, places: dict[int, str]) -> str:
    lines = [f"organisation = {organisation}", "[lieux]"]
    lines += [f'{place} = "{site}"' for place, site in places.items()]
    lines += ["[motifs]", '157 = "caf"', "[services]", '407 = "cpam"']
    return "\n".join(lines) + "\n"


def connect(region: Region, organisation: int, places: dict[int, str]) -> str:
    endpoint_id, _ = admin.add(
        region.engine, region.slug, organisation, "CAF du Lot", mapping(organisation, places),
        "caf.toml", SECRET,
    )  # fmt: skip
    return admin.webhook_path(endpoint_id)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def deliver(
    client: httpx.Client,
    path: str,
    data: dict[str, Any],
    event: str,
    stamp: datetime,
    secret: str = SECRET,
    **kwargs: Any,
) -> httpx.Response:
    body, headers = rdv_sp.delivery(secret, data, event, stamp, **kwargs)
    return client.post(path, content=body, headers=headers)


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count()).select_from(rdv_sp_inbox).where(rdv_sp_inbox.c.error.is_(None))
        ).scalar()
    return int(found or 0)


def applied(engine: Engine) -> None:
    """Wait until the hub's applier has taken every delivery of its inbox."""
    wait_for(lambda: pending(engine) == 0, 60, "the inbox applied", poll=0.02)


def send(
    hub: Hub,
    client: httpx.Client,
    path: str,
    data: dict[str, Any],
    event: str,
    stamp: datetime,
    **kwargs: Any,
) -> None:
    """One delivery, answered `received`, then applied."""
    answer = deliver(client, path, data, event, stamp, **kwargs)
    assert answer.status_code == 200 and answer.json() == {"outcome": "received"}, answer.text
    applied(hub.engine)


def changes_of(hub: Hub, organisation: int, rdv_id: int) -> int:
    """How many changes the sites' pull feed holds for this appointment."""
    with hub.engine.connect() as conn:
        appointment_id = conn.execute(
            select(appointments.c.id).where(
                appointments.c.external_id == f"{organisation}/{rdv_id}"
            )
        ).scalar_one()
        found = conn.execute(
            select(func.count()).where(changes.c.object_id == appointment_id)
        ).scalar()
    return int(found or 0)


def pulled(client: httpx.Client, site: Site) -> dict[str, dict[str, Any]]:
    """The site's appointments as its pull would bring them, by id."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = client.get("/api/v1/site/changes", params=params, headers=site.auth).json()
        for item in page["items"]:
            if item["kind"] == "appointment":
                found[item["id"]] = item
        cursor = page["cursor"]
        if not page["more"]:
            return found


def states(hub: Hub) -> int:
    with hub.engine.connect() as conn:
        return len(conn.execute(select(rdv_sp_states.c.rdv_id)).all())


def every_text(hub: Hub) -> str:
    """Every value of every row the hub keeps, as text (to look for personal data)."""
    with hub.engine.connect() as conn:
        tables = ["appointments", "rdv_sp_states", "rdv_sp_endpoints", "changes", "events"]
        tables.append("rdv_sp_inbox")
        return "\n".join(
            repr(row) for table in tables for row in conn.execute(text(f"SELECT * FROM {table}"))
        )


def test_deliveries_repeated_and_out_of_order_leave_the_latest_state(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    leyme, gramat = region.site(), region.site()
    organisation = 30_000 + next(_organisations)
    path = connect(region, organisation, {97: leyme.slug, 98: gramat.slug})
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    first = rdv_sp.rdv(5001, tomorrow_at(9), organisation_id=organisation)
    moved = rdv_sp.rdv(
        5001, tomorrow_at(10, 30), organisation_id=organisation, rdv_uuid=uuid.UUID(first["uuid"])
    )
    cancelled = dict(moved, status="revoked")

    send(hub, client, path, first, "created", t0)
    (item,) = pulled(client, leyme).values()
    assert item["data"]["partner"] == "caf" and item["data"]["name"] == "Marc MOREAU"
    assert datetime.fromisoformat(item["data"]["starts_at"]) == tomorrow_at(9)
    assert item["data"]["status"] == "planned" and item["data"]["source"] == "rdv-sp"
    assert changes_of(hub, organisation, 5001) == 1

    send(hub, client, path, moved, "updated", t0 + timedelta(minutes=1))
    assert changes_of(hub, organisation, 5001) == 2
    # The first delivery again (a retry of the sender), then the move again: nothing.
    send(hub, client, path, first, "created", t0)
    send(hub, client, path, moved, "updated", t0 + timedelta(minutes=1))
    assert changes_of(hub, organisation, 5001) == 2
    (item,) = pulled(client, leyme).values()
    assert datetime.fromisoformat(item["data"]["starts_at"]) == tomorrow_at(10, 30)

    # Cancelled; then the move arrives late: the cancellation stays.
    send(hub, client, path, cancelled, "updated", t0 + timedelta(minutes=3))
    send(hub, client, path, moved, "updated", t0 + timedelta(minutes=2))
    (item,) = pulled(client, leyme).values()
    assert item["data"]["status"] == "cancelled"
    assert changes_of(hub, organisation, 5001) == 3

    # Another appointment: at Gramat, then moved to a place no site maps: Gramat drops it.
    other = rdv_sp.rdv(5002, tomorrow_at(14), organisation_id=organisation, lieu_id=98)
    send(hub, client, path, other, "created", t0)
    (item,) = pulled(client, gramat).values()
    assert item["data"]["status"] == "planned"
    elsewhere = dict(other, lieu={"id": 99, "name": "Ailleurs"})
    send(hub, client, path, elsewhere, "updated", t0 + timedelta(minutes=1))
    (item,) = pulled(client, gramat).values()
    assert item["data"]["status"] == "cancelled"
    (row,) = [r for r in admin.listing(hub.engine, region.slug) if r["webhook"] == path]
    assert row["aside"] == 1 and row["last_delivery"] and row["not_applied"] == 0
    with signed_in(hub, region.slug) as regional:
        page = regional.get("/region")
    assert page.status_code == 200
    assert "1 rendez-vous sans site" in page.text

    # Destroyed by the sender's data-protection clean-up: gone from the site too.
    third = rdv_sp.rdv(5003, tomorrow_at(11), organisation_id=organisation)
    send(hub, client, path, third, "created", t0)
    send(hub, client, path, third, "destroyed", t0 + timedelta(minutes=1), reason="rgpd")
    with hub.engine.connect() as conn:
        status = conn.execute(
            select(appointments.c.status).where(
                appointments.c.external_id == f"{organisation}/5003"
            )
        ).scalar_one()
    assert status == "cancelled"

    kept = every_text(hub)
    for value in rdv_sp.PERSONAL.values():
        assert value not in kept
    log = hub.process.log.read_text()
    assert "MOREAU" not in log and SECRET not in log


def test_refused_deliveries_store_nothing(hub: Hub, region: Region, client: httpx.Client) -> None:
    site = region.site()
    organisation = 40_000 + next(_organisations)
    path = connect(region, organisation, {97: site.slug})
    data = rdv_sp.rdv(6001, tomorrow_at(9), organisation_id=organisation)
    now = datetime.now(UTC)
    before = states(hub)

    wrong_secret = deliver(client, path, data, "created", now, secret="another secret here")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"]["code"] == "bad_signature"
    body, headers = rdv_sp.delivery(SECRET, data, "created", now)
    changed = body.replace(b"Marc", b"Paul")
    assert client.post(path, content=changed, headers=headers).status_code == 401
    unsigned = {"Content-Type": "application/json; charset=utf-8"}
    assert client.post(path, content=body, headers=unsigned).status_code == 401
    nobody = admin.webhook_path(uuid.uuid4())
    assert client.post(nobody, content=body, headers=headers).status_code == 401
    assert client.post("/api/v1/rdv-sp/x/webhook", content=body, headers=headers).status_code == 401
    assert states(hub) == before

    garbage = b'{"data": {"id": "x"}, "meta": {"model": "Rdv", "event": "created"}}'
    signed = {**unsigned, "X-Lapin-Signature": sign(SECRET, garbage)}
    refused = client.post(path, content=garbage, headers=signed)
    assert refused.status_code == 422, refused.text
    assert any(p.startswith("meta.timestamp") for p in refused.json()["error"]["problems"])
    huge = b'{"pad": "' + b"x" * (1 << 20) + b'"}'
    big = {**unsigned, "X-Lapin-Signature": sign(SECRET, huge)}
    assert client.post(path, content=huge, headers=big).status_code == 413
    place = deliver(client, path, {"id": 97, "name": "Lieu"}, "updated", now, model="Lieu")
    assert place.json() == {"outcome": "ignored"}
    assert states(hub) == before
    with hub.engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar()
    assert kept == 0
    assert pulled(client, site) == {}


def test_an_endpoint_removed_while_the_hub_serves_refuses_deliveries_at_once(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    """`rdv-sp remove` in another process: the serving hub still has the endpoint and its
    secret in its cache, so the signature checks; the inbox then has no such endpoint.
    The delivery is refused as from an unknown endpoint (401), never a 500, and nothing
    is stored."""
    site = region.site()
    organisation = 40_000 + next(_organisations)
    path = connect(region, organisation, {97: site.slug})
    data = rdv_sp.rdv(6101, tomorrow_at(9), organisation_id=organisation)
    send(hub, client, path, data, "created", datetime.now(UTC))  # the hub caches it
    admin.remove(hub.engine, region.slug, organisation)
    with hub.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar()
    for _ in range(2):  # the second, after the hub dropped its cached endpoint
        answer = deliver(client, path, data, "updated", datetime.now(UTC))
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "bad_signature"
    with hub.engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar()
    assert kept == before


def test_the_catch_up_reads_three_pages_and_cancels_what_is_no_longer_listed(
    hub: Hub,
    region: Region,
    client: httpx.Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = region.site()
    organisation = 50_000 + next(_organisations)
    connect(region, organisation, {97: site.slug})
    stand_in = rdv_sp.StandIn("service@caf-lot.fr", "un mot de passe de service")
    start = tomorrow_at(8)
    stand_in.appointments[organisation] = [
        rdv_sp.rdv(
            70_000 + n, start + timedelta(minutes=2 * n), organisation_id=organisation,
            iso=n % 2 == 0,
        )
        for n in range(250)
    ]  # fmt: skip
    password = tmp_path / "password"
    password.write_text(stand_in.password)

    def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
        """`pvp-hub ARGS` on the hub's database, its main() in this process (its logs
        reach caplog rather than a process's stderr)."""
        return hub_main([*args, "--db", hub.process.db_url])

    with rdv_sp.serving(stand_in) as url:
        done = hub_cli("admin", "rdv-sp", "set-account", str(organisation), "--region",
                       region.slug, "--url", url, "--email", stand_in.email,
                       "--password-file", str(password))  # fmt: skip
        assert done.returncode == 0, done.stderr
        day = start.date().isoformat()
        done = hub_cli("rdv-sp", "sync", "--organisation", str(organisation), "--from", day,
                       "--to", day)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"organisation {organisation}: 250 listed (250 added)" in done.stdout
        assert len(pulled(client, site)) == 250
        assert stand_in.sign_ins == 1
        assert stand_in.password not in done.stdout + done.stderr + caplog.text

        # Again: nothing changes. Then one is destroyed in RDV Service Public.
        done = hub_cli("rdv-sp", "sync", "--organisation", str(organisation), "--from", day,
                       "--to", day)  # fmt: skip
        assert "250 listed (250 unchanged)" in done.stdout, done.stdout
        gone = stand_in.appointments[organisation].pop(17)
        done = hub_cli("rdv-sp", "sync", "--organisation", str(organisation), "--from", day,
                       "--to", day)  # fmt: skip
        assert "249 listed (249 unchanged), 1 no longer listed (cancelled)" in done.stdout
    statuses = Counter(item["data"]["status"] for item in pulled(client, site).values())
    assert statuses == {"planned": 249, "cancelled": 1}
    with hub.engine.connect() as conn:
        status = conn.execute(
            select(appointments.c.status).where(
                appointments.c.external_id == f"{organisation}/{gone['id']}"
            )
        ).scalar_one()
    assert status == "cancelled"

    wrong = tmp_path / "wrong"
    wrong.write_text("pas le bon")
    with rdv_sp.serving(stand_in) as url:
        hub_cli("admin", "rdv-sp", "set-account", str(organisation), "--region", region.slug,
                "--url", url, "--email", stand_in.email, "--password-file", str(wrong))  # fmt: skip
        done = hub_cli("rdv-sp", "sync", "--organisation", str(organisation))
    assert done.returncode == 1
    assert "refused the service account's e-mail or password" in done.stdout
    (row,) = [
        r for r in admin.listing(hub.engine, region.slug) if r["organisation"] == organisation
    ]
    assert "e-mail or password" in row["last_error"]


@pytest.mark.timeout(600)
def test_a_burst_of_2000_appointments_for_40_sites(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    sites = [region.site() for _ in range(40)]
    organisation = 60_000 + next(_organisations)
    path = connect(region, organisation, {1000 + n: s.slug for n, s in enumerate(sites)})
    stamp = datetime.now(UTC) - timedelta(minutes=1)
    start = tomorrow_at(8)
    bodies = [
        rdv_sp.delivery(
            SECRET,
            rdv_sp.rdv(
                80_000 + n, start + timedelta(minutes=n % 50 * 10),
                organisation_id=organisation, lieu_id=1000 + n % 40,
            ),
            "created",
            stamp,
        )
        for n in range(2000)
    ]  # fmt: skip

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with httpx.Client(base_url=hub.url, timeout=60, limits=limits) as shared:

        def post(pair: tuple[bytes, dict[str, str]]) -> str:
            answer = shared.post(path, content=pair[0], headers=pair[1])
            return f"{answer.status_code} {answer.json().get('outcome')}"

        with ThreadPoolExecutor(16) as pool:
            answers = Counter(pool.map(post, bodies))
    assert answers == {"200 received": 2000}, answers
    applied(hub.engine)
    for site in (sites[0], sites[17], sites[39]):
        assert len(pulled(client, site)) == 50


def test_from_rdv_service_public_to_a_real_sites_queue_and_back(
    hub: Hub, region: Region, client: httpx.Client, tmp_path: Path
) -> None:
    """Booked this morning in RDV Service Public: the delivery reaches the site's
    "Rendez-vous du jour" through a real `pvp sync`; moved, it moves; the visitor is
    checked in in one step with the name and slot; the visit's outcome shows on the hub's
    appointment; a later "to come" from the sender does not undo it. Another appointment,
    cancelled in RDV Service Public, leaves the site's list."""
    import json

    from pvp_tui.core import appointments as site_appointments
    from tests.hub.test_site_pull import fresh_desk, pull_once, soon
    from tests.hub.test_site_sync import make_site

    site = make_site(tmp_path, region, hub.url)
    organisation = 70_000 + next(_organisations)
    path = connect(region, organisation, {97: site.site.slug})
    slot = soon(site)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    first = rdv_sp.rdv(7101, slot - timedelta(minutes=30), organisation_id=organisation,
                       first_name="Jeanne", last_name="Rendez-Vous")  # fmt: skip
    other = rdv_sp.rdv(
        7102,
        slot,
        organisation_id=organisation,
        first_name="Paul",
        last_name="Annule",
        motif_id=999,
    )  # the service's partner: cpam
    send(hub, client, path, first, "created", t0)
    send(hub, client, path, other, "created", t0)
    moved = dict(first, starts_at=rdv_sp.ruby_time(slot), ends_at=rdv_sp.ruby_time(
        slot + timedelta(minutes=45)))  # fmt: skip
    send(hub, client, path, moved, "updated", t0 + timedelta(minutes=1))
    pull_once(site)
    listed = json.loads(site.pvp("appointments", "--json").stdout)
    assert sorted((a["name"], a["partner"]) for a in listed) == [
        ("Jeanne Rendez-Vous", "caf"), ("Paul Annule", "cpam")
    ]  # fmt: skip
    desk = fresh_desk(site)
    with desk.store.snapshot() as db:
        lines = {a.name: a for a in site_appointments.day_lines(db, desk.today())}
    assert lines["Jeanne Rendez-Vous"].starts_at == slot  # moved to the new time

    cancelled = dict(other, status="excused")
    send(hub, client, path, cancelled, "updated", t0 + timedelta(minutes=2))
    visit = desk.check_in_appointment(lines["Jeanne Rendez-Vous"].id)
    assert (visit.name, visit.appointment_at) == ("Jeanne Rendez-Vous", slot)
    desk.call(visit.ticket)
    desk.start(visit.ticket)
    desk.finish(visit.ticket, "resolved")
    pull_once(site)  # sends the visit, pulls the cancellation
    listed = json.loads(site.pvp("appointments", "--json").stdout)
    assert [a["name"] for a in listed] == ["Jeanne Rendez-Vous"]
    with hub.engine.connect() as conn:
        status = conn.execute(
            select(appointments.c.status).where(
                appointments.c.external_id == f"{organisation}/7101"
            )
        ).scalar_one()
    assert status == "seen"
    # RDV Service Public still says "to come" (nobody updated it there): still seen.
    before = changes_of(hub, organisation, 7101)
    send(hub, client, path, moved, "updated", t0 + timedelta(minutes=3))
    assert changes_of(hub, organisation, 7101) == before
    with hub.engine.connect() as conn:
        status = conn.execute(
            select(appointments.c.status).where(
                appointments.c.external_id == f"{organisation}/7101"
            )
        ).scalar_one()
    assert status == "seen"


def _own_hub(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest, name: str
) -> tuple[Engine, Region, Site, str, int]:
    """A database of its own (the session's hub would apply its inbox too), with a
    region, a site and a connected organisation."""
    url = database_url(hub.kind, workdir, request, name)
    engine = make_engine(url, pool_size=2)
    migrate(engine)
    region = Region(f"r{uuid.uuid4().hex[:12]}", engine)
    directory.create_region(engine, region.slug, "Région")
    partners = directory.check_partners(
        [{"id": "caf", "name": "CAF", "prefix": "C"},
         {"id": "cpam", "name": "Assurance Maladie", "prefix": "A"}]
    )  # fmt: skip
    directory.save_partners(engine, region.slug, partners)
    site = region.site()
    organisation = 90_000 + next(_organisations)
    return engine, region, site, connect(region, organisation, {97: site.slug}), organisation


def test_a_hub_killed_after_answering_applies_the_delivery_at_its_next_start(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine, _region, site, path, organisation = _own_hub(
        hub, workdir, request, f"rdv_killed_{hub.kind}_{uuid.uuid4().hex[:6]}"
    )
    url = engine.url.render_as_string(hide_password=False)
    # This hub's applier waits ten minutes after a delivery wakes it: killed before.
    slow = tmp_path / "hub.toml"
    slow.write_text("[sync]\nrdv_sp_gather_ms = 600000\n")
    first = HubProcess(url, workdir)
    first.start("--config", str(slow))
    try:
        data = rdv_sp.rdv(9101, tomorrow_at(9), organisation_id=organisation)
        with httpx.Client(base_url=first.url, timeout=30) as client:
            answer = deliver(client, path, data, "created", datetime.now(UTC))
        assert answer.status_code == 200 and answer.json() == {"outcome": "received"}
        first.kill()
        assert pending(engine) == 1
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(rdv_sp_states)).scalar() == 0
            (record,) = conn.execute(select(rdv_sp_inbox.c.record)).scalars()
        # The inbox keeps the minimised appointment, nothing else of the sender's body.
        for value in rdv_sp.PERSONAL.values():
            assert value not in str(record)
    finally:
        first.kill()
    second = HubProcess(url, workdir)
    second.start()
    try:
        applied(engine)
        with httpx.Client(base_url=second.url, timeout=30) as client:
            (item,) = pulled(client, site).values()
        assert item["data"]["name"] == "Marc MOREAU" and item["data"]["status"] == "planned"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar() == 0
    finally:
        second.stop()
        engine.dispose()


def test_a_delivery_that_cannot_be_applied_does_not_block_the_others(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The region removed the partner a motive maps to: that appointment's delivery is
    kept with its error (shown in `rdv-sp list` and on the region's view); the 30 others
    of the same batch are applied. The batch: a hub whose applier waits receives them
    all, is killed, and the next one applies its inbox at start, 31 rows at once."""
    engine, region, site, path, organisation = _own_hub(
        hub, workdir, request, f"rdv_poison_{hub.kind}_{uuid.uuid4().hex[:6]}"
    )
    url = engine.url.render_as_string(hide_password=False)
    directory.remove_partner(engine, region.slug, "caf")
    stamp = datetime.now(UTC) - timedelta(minutes=1)
    poison = rdv_sp.rdv(9500, tomorrow_at(9), organisation_id=organisation)  # caf's motive
    good = [
        rdv_sp.rdv(9501 + n, tomorrow_at(10, n), organisation_id=organisation, motif_id=999)
        for n in range(30)
    ]  # the service's partner: cpam
    slow = tmp_path / "hub.toml"
    slow.write_text("[sync]\nrdv_sp_gather_ms = 600000\n")
    first = HubProcess(url, workdir)
    first.start("--config", str(slow))
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            for data in [*good[:15], poison, *good[15:]]:
                answer = deliver(client, path, data, "created", stamp)
                assert answer.json() == {"outcome": "received"}, answer.text
    finally:
        first.kill()
    assert pending(engine) == 31
    second = HubProcess(url, workdir)
    second.start()
    try:
        applied(engine)
        with httpx.Client(base_url=second.url, timeout=30) as client:
            items = pulled(client, site)
        assert len(items) == 30 and {i["data"]["partner"] for i in items.values()} == {"cpam"}
        with engine.connect() as conn:
            (row,) = conn.execute(
                select(rdv_sp_inbox.c.error, rdv_sp_inbox.c.attempts, rdv_sp_inbox.c.retry_at)
            ).all()
        assert row.error == "unknown partner 'caf'" and row.attempts == 1
        assert row.retry_at > datetime.now(UTC) + timedelta(minutes=30)  # not in a hot loop
        (listed,) = admin.listing(engine, region.slug)
        assert listed["not_applied"] == 1
        assert listed["not_applied_error"] == "unknown partner 'caf'"
        with signed_in(Hub(hub.kind, second, engine), region.slug) as regional:
            page = regional.get("/region")
        assert page.status_code == 200
        assert "1 envoi de rendez-vous non appliqué" in page.text
        # What the inbox keeps of it: no personal field of the sender's body.
        with engine.connect() as conn:
            kept = repr(conn.execute(text("SELECT * FROM rdv_sp_inbox")).all())
        for value in rdv_sp.PERSONAL.values():
            assert value not in kept
        # The others still arrive while it waits: one more, applied at once.
        with httpx.Client(base_url=second.url, timeout=30) as client:
            later = rdv_sp.rdv(9600, tomorrow_at(16), organisation_id=organisation, motif_id=999)
            answer = deliver(client, path, later, "created", stamp)
            assert answer.json() == {"outcome": "received"}
            applied(engine)
            assert len(pulled(client, site)) == 31
    finally:
        second.stop()
        engine.dispose()


@pytest.mark.timeout(600)
def test_two_hub_processes_share_the_inbox_and_keep_the_latest_states(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest
) -> None:
    """Three states of each of 200 appointments, shuffled, delivered to two hub processes
    of one database at once (8 connections): whichever process applies a row, each
    appointment ends in its latest state, and every row is applied once."""
    import random

    engine, _region, site, path, organisation = _own_hub(
        hub, workdir, request, f"rdv_two_{hub.kind}_{uuid.uuid4().hex[:6]}"
    )
    url = engine.url.render_as_string(hide_password=False)
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    deliveries = []
    for n in range(200):
        first = rdv_sp.rdv(20_000 + n, tomorrow_at(9), organisation_id=organisation)
        same = {"rdv_uuid": uuid.UUID(first["uuid"]), "organisation_id": organisation}
        moved = rdv_sp.rdv(20_000 + n, tomorrow_at(10), **same)
        last = (
            dict(moved, status="revoked")
            if n % 2 == 0
            else rdv_sp.rdv(20_000 + n, tomorrow_at(11), **same)
        )
        for minutes, (data, event) in enumerate(
            [(first, "created"), (moved, "updated"), (last, "updated")]
        ):
            deliveries.append(rdv_sp.delivery(SECRET, data, event, t0 + timedelta(minutes=minutes)))
    random.Random(7).shuffle(deliveries)
    hubs = [HubProcess(url, workdir), HubProcess(url, workdir)]
    try:
        for process in hubs:
            process.start()
        clients = [httpx.Client(base_url=p.url, timeout=60) for p in hubs]

        def post(numbered: tuple[int, tuple[bytes, dict[str, str]]]) -> str:
            n, (body, headers) = numbered
            answer = clients[n % 2].post(path, content=body, headers=headers)
            return f"{answer.status_code} {answer.json().get('outcome')}"

        with ThreadPoolExecutor(8) as pool:
            answers = Counter(pool.map(post, enumerate(deliveries)))
        assert answers == {"200 received": 600}, answers
        applied(engine)
        items = pulled(clients[0], site)
        for client in clients:
            client.close()
    finally:
        for process in hubs:
            process.stop()
    with engine.connect() as conn:
        rows = conn.execute(
            select(appointments.c.external_id, appointments.c.status, appointments.c.starts_at)
        ).all()
        states = conn.execute(select(func.count()).select_from(rdv_sp_states)).scalar()
    # A cancellation applied first never reaches the site (nothing to take back).
    assert states == 200 and len(items) == len(rows)
    assert sum(int(r.external_id.split("/")[1]) % 2 for r in rows) == 100
    for external_id, status, starts_at in rows:
        if int(external_id.split("/")[1]) % 2 == 0:
            assert status == "cancelled", external_id
        else:
            assert (status, starts_at) == ("planned", tomorrow_at(11)), external_id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar() == 0
    engine.dispose()


def _received(engine: Engine, path: str, organisation: int, rdv_id: int) -> None:
    """One delivery into the inbox as the webhook takes it (signed, read, one row)."""
    data = rdv_sp.rdv(rdv_id, tomorrow_at(9), organisation_id=organisation)
    body, headers = rdv_sp.delivery(SECRET, data, "created", datetime.now(UTC))
    endpoint = path.split("/")[-2]
    assert inbox.receive(engine, endpoint, body, headers["X-Lapin-Signature"]) == "received"


def _transactions(engine: Engine, thread_name: str) -> Counter[str]:
    """The transactions `thread_name` opens on `engine`, by kind: "write" (on SQLite a
    BEGIN IMMEDIATE) or "read"."""
    seen: Counter[str] = Counter()

    def begun(conn: Connection) -> None:
        if threading.current_thread().name == thread_name:
            seen["write" if conn.get_execution_options().get(IMMEDIATE) else "read"] += 1

    sa_event.listen(engine, "begin", begun)
    return seen


def test_the_applier_stops_between_batches_while_deliveries_keep_coming(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A steady stream: each time the applier takes a connection (a read, then a batch),
    one more delivery arrives first, so the inbox never empties; stop() still ends the
    thread, after the batch under way."""
    engine, _region, _site, path, organisation = _own_hub(
        hub, workdir, request, f"rdv_stop_{hub.kind}_{uuid.uuid4().hex[:6]}"
    )
    ids = itertools.count(30_000)
    for _ in range(5):
        _received(engine, path, organisation, next(ids))
    batches, third, delivering = 0, threading.Event(), threading.local()

    def before_batch(*_: object) -> None:  # the applier takes a connection: no lock held
        nonlocal batches
        if threading.current_thread().name != "rdv-sp-inbox" or getattr(delivering, "now", 0):
            return
        delivering.now = True
        try:
            _received(engine, path, organisation, next(ids))
        finally:
            delivering.now = False
        batches += 1
        if batches >= 6:
            third.set()

    sa_event.listen(engine.pool, "checkout", before_batch)
    applier = inbox.Applier(engine, gather_s=0, limit=1)
    try:
        applier.start()
        assert third.wait(60), "the applier took no batch"
        assert applier.stop(timeout=60), "the applier kept applying the stream"
        assert pending(engine) > 0  # it stopped with deliveries still coming, between batches
        assert "not applied" not in caplog.text  # stopped by stop(), not by an error
    finally:
        sa_event.remove(engine.pool, "checkout", before_batch)
        applier.stop(timeout=60)
        engine.dispose()


def test_an_idle_applier_opens_no_write_transaction(
    hub: Hub, workdir: Path, request: pytest.FixtureRequest
) -> None:
    """Woken again and again with nothing due (only a failed row waiting for its retry),
    the applier only reads: no write transaction, so no BEGIN IMMEDIATE on SQLite that
    the webhook's insert would wait behind."""
    engine, _region, _site, path, organisation = _own_hub(
        hub, workdir, request, f"rdv_idle_{hub.kind}_{uuid.uuid4().hex[:6]}"
    )
    _received(engine, path, organisation, 31_000)
    with engine.begin() as conn:
        conn.execute(
            update(rdv_sp_inbox).values(
                error="unknown partner 'caf'",
                attempts=1,
                retry_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    seen = _transactions(engine, "rdv-sp-inbox")
    applier = inbox.Applier(engine, gather_s=0)
    try:
        applier.start()

        def woken_often() -> bool:
            inbox.wake()
            return seen["read"] >= 8

        wait_for(woken_often, 60, "the applier woken and reading", poll=0.05)
    finally:
        assert applier.stop(timeout=60)
    assert seen["write"] == 0, seen
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar() == 1
    engine.dispose()
