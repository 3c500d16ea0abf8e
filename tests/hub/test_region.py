"""The region's pages for its admins, against real hub processes on both engines: the
overview (last sync, queue, kiosks, today's visits by partner, failed sessions), one
site, and the activity report, whose figures and downloads are those `pvp report`
computes from the same events in a site store."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from sqlalchemy import update

from pvp_hub import directory, people
from pvp_hub.schema import sites
from pvp_hub.web.region import _report_tables
from pvp_tui.core import i18n
from pvp_tui.core.config import Config, load_config
from pvp_tui.core.exports import to_csv, to_xlsx
from pvp_tui.core.reports import ActivityReport, Period, activity_report
from pvp_tui.core.store import Store
from tests.hub.pages import cells, tables
from tests.hub.regions import Hub, Region, Site, event, push
from tests.hub.test_site_status import put, status
from tests.reports.history import SECRET_NAME, History
from tests.support.processes import children, niceness

PASSWORD = "un mot de passe assez long"
PARIS = ZoneInfo("Europe/Paris")


def signed_in(hub: Hub, region: str | None, kind: str = "admin") -> httpx.Client:
    """A client with the session cookie of a new admin of `region` (None: every region)."""
    login = f"{kind}-{uuid.uuid4().hex[:10]}@region.fr"
    if kind == "admin":
        directory.create_admin(hub.engine, region, login, "Chef de projet")
    else:
        directory.create_agent(hub.engine, region, login, "A. Martin", "caf", None)
    directory.set_password(hub.engine, login, PASSWORD)
    session = people.sign_in(hub.engine, login, PASSWORD)
    return httpx.Client(base_url=hub.url, cookies={"pvp_hub_session": session.token}, timeout=120)


@pytest.fixture
def admin(hub: Hub, region: Region) -> Iterator[httpx.Client]:
    with signed_in(hub, region.slug) as client:
        yield client


def seen(hub: Hub, site: Site, at: datetime | None) -> None:
    with hub.engine.begin() as conn:
        conn.execute(update(sites).where(sites.c.slug == site.slug).values(last_seen_at=at))


def today_at(seconds_ago: int) -> datetime:
    """A moment of today (Paris), `seconds_ago` before now, never before midnight."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(PARIS).date(), time(0), PARIS)
    return max(now - timedelta(seconds=seconds_ago), midnight + timedelta(seconds=1))


def checked_in(visit: uuid.UUID, partner: str, at: datetime) -> dict[str, Any]:
    data = {"partner": partner, "ticket": "C-001", "kind": "walk_in", "needs": []}
    return {**event(visit, "checked_in", at), "data": data}


def session_ended(visit: uuid.UUID, at: datetime, state: str) -> dict[str, Any]:
    return event(
        visit, "session_ended", at, kiosk="kiosque-1", state=state, reason="connection_lost",
        worst_quality="poor", reconnects=1, seconds_in_call=300,
    )  # fmt: skip


# ------------------------------------------------------------------------- overview
def test_the_overview_shows_each_sites_sync_queue_kiosks_visits_and_failures(
    hub: Hub, region: Region, client: httpx.Client, admin: httpx.Client
) -> None:
    busy, calm, gone, new = (region.site(s) for s in ("busy", "calm", "gone", "new"))
    v1, v2, v3, v4, v5 = (uuid.uuid4() for _ in range(5))
    t = today_at(120)
    yesterday = datetime.combine(t.astimezone(PARIS).date(), time(0), PARIS) - timedelta(hours=2)
    batch = [
        checked_in(v1, "caf", t),
        session_ended(v1, t + timedelta(seconds=9), "failed"),
        checked_in(v2, "caf", t + timedelta(seconds=1)),
        event(v2, "called", t + timedelta(seconds=2), **{"from": "waiting", "to": "called"}),
        event(v2, "started", t + timedelta(seconds=3)),
        session_ended(v2, t + timedelta(seconds=4), "failed"),
        checked_in(v3, "cpam", t + timedelta(seconds=5)),
        session_ended(v3, t + timedelta(seconds=6), "ended"),
        checked_in(v4, "caf", yesterday),  # another day: not today's
        session_ended(v4, yesterday + timedelta(minutes=5), "failed"),
        checked_in(v5, "caf", t + timedelta(seconds=7)),
        event(v5, "name_shared", t + timedelta(seconds=8), name="Mme Durand", consent=True),
    ]
    assert push(client, busy, batch).status_code == 200
    assert put(client, calm, status(datetime.now(UTC))).status_code == 200
    seen(hub, busy, datetime.now(UTC))
    seen(hub, calm, datetime.now(UTC))
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    seen(hub, gone, three_hours_ago)

    answer = admin.get("/region")
    assert answer.status_code == 200, answer.text
    assert answer.headers["refresh"] == "60"
    assert "Mme Durand" not in answer.text
    rows = cells(answer.text)
    one = rows["data-site=busy"]
    assert one["seen"] == "en ligne"
    # no status from this site: its queue is the hub's visits of today
    assert (one["waiting"], one["called"], one["in_session"]) == ("3", "0", "1")
    assert (one["partner:caf"], one["partner:cpam"], one["visits"]) == ("3", "1", "4")
    assert one["failed"] == "2"
    two = rows["data-site=calm"]
    assert (two["waiting"], two["called"], two["in_session"]) == ("4", "1", "2")
    assert two["kiosks"] == "1 dégradé 1 en service"
    assert (two["visits"], two["failed"]) == ("0", "0")
    since = three_hours_ago.astimezone(PARIS)
    expected = f"{since:%H:%M}" if since.date() == datetime.now(PARIS).date() else ""
    assert rows["data-site=gone"]["seen"].startswith("hors ligne depuis")
    assert expected in rows["data-site=gone"]["seen"]
    assert rows["data-site=gone"]["seen"].endswith("(il y a 3 h 00)")
    assert rows["data-site=new"]["seen"] == "jamais synchronisé"
    total = rows["data-site="]
    assert (total["waiting"], total["called"], total["in_session"]) == ("7", "1", "3")
    assert (total["partner:caf"], total["partner:cpam"], total["visits"]) == ("3", "1", "4")
    assert total["failed"] == "2"
    assert total["seen"] == "2 sur 4 en ligne"
    assert len([r for r in rows if r.startswith("data-site=") and r != "data-site="]) == 4

    page = admin.get(f"/region/sites/{busy.slug}")
    assert page.status_code == 200
    figures = cells(page.text)
    assert figures["data-partner=caf"]["visits"] == "3"
    assert figures["data-partner=cpam"]["visits"] == "1"
    assert figures[""]["failed"] == "2"
    assert "Mme Durand" not in page.text
    kiosks = cells(admin.get(f"/region/sites/{calm.slug}").text)
    assert kiosks["data-kiosk=kiosque-2"]["state"] == "dégradé"
    assert kiosks["data-kiosk=kiosque-2"]["problems"] == "printer_offline, paper_low"
    assert kiosks["data-site=calm"]["waiting"] == "4"
    english = admin.get(f"/region/sites/{calm.slug}?lang=en")
    assert "Queue now" in english.text and "degraded" in english.text
    assert admin.get(f"/region/sites/{new.slug}").status_code == 200
    assert admin.get("/region/sites/nowhere").status_code == 404


def test_a_newer_status_from_today_wins_over_the_hubs_visits(
    region: Region, client: httpx.Client, admin: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    assert push(client, site, [checked_in(visit, "caf", today_at(60))]).status_code == 200
    assert cells(admin.get("/region").text)[f"data-site={site.slug}"]["waiting"] == "1"
    # a status made yesterday is not today's queue
    old = datetime.now(UTC) - timedelta(days=1, hours=1)
    assert put(client, site, status(old, waiting=12)).status_code == 200
    assert cells(admin.get("/region").text)[f"data-site={site.slug}"]["waiting"] == "1"
    assert put(client, site, status(datetime.now(UTC), waiting=0)).status_code == 200
    assert cells(admin.get("/region").text)[f"data-site={site.slug}"]["waiting"] == "0"


# --------------------------------------------------------------------------- access
def test_an_admin_sees_only_their_region(hub: Hub, region: Region, admin: httpx.Client) -> None:
    mine = region.site()
    other = Region(f"r{uuid.uuid4().hex[:12]}", hub.engine)
    directory.create_region(hub.engine, other.slug, "Autre région")
    theirs = other.site()
    with signed_in(hub, other.slug) as stranger:
        own = stranger.get("/region")
        assert own.status_code == 200 and theirs.slug in own.text and mine.slug not in own.text
        for path in (
            f"/region/sites/{mine.slug}",
            f"/region/rapport?site={mine.slug}",
            f"/region/rapport?site={mine.slug}&format=csv",
            f"/region?region={region.slug}",
            f"/region/rapport?region={region.slug}",
        ):
            answer = stranger.get(path)
            assert answer.status_code == 404, path
            assert "Page introuvable" in answer.text
    # an admin of every region picks one, then sees it (and keeps it in every link)
    with signed_in(hub, None) as everywhere:
        pick = everywhere.get("/region")
        assert pick.status_code == 200 and f"/region?region={region.slug}" in pick.text
        chosen = everywhere.get(f"/region?region={region.slug}")
        assert chosen.status_code == 200 and f'data-site="{mine.slug}"' in chosen.text
        assert f"/region/sites/{mine.slug}?region={region.slug}" in chosen.text
        assert everywhere.get("/region?region=nowhere").status_code == 404


def test_no_session_goes_to_the_sign_in_form_and_an_agent_gets_404(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    for path in ("/region", f"/region/sites/{site.slug}", "/region/rapport?du=01/11/2026"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/connexion?suite=/region")
    with signed_in(hub, region.slug, kind="agent") as agent:
        assert agent.get("/region").status_code == 404
        assert agent.get("/region/rapport?format=csv").status_code == 404


def test_bad_dates_get_a_400_page_naming_the_date(region: Region, admin: httpx.Client) -> None:
    region.site()
    answer = admin.get("/region/rapport?du=31/13/2026&au=30/11/2026")
    assert answer.status_code == 400
    assert "Du : « 31/13/2026 » n'est pas une date" in html.unescape(answer.text)
    assert 'value="31/13/2026"' in answer.text  # kept in the form, to be corrected
    reversed_ = admin.get("/region/rapport?du=30/11/2026&au=01/11/2026&format=csv")
    assert reversed_.status_code == 400
    assert "se termine (01/11/2026) avant de commencer (30/11/2026)" in html.unescape(
        reversed_.text
    )
    english = admin.get("/region/rapport?du=2026-11-01&au=someday&lang=en")
    assert english.status_code == 400
    assert 'to: "someday" is not a date' in html.unescape(english.text)
    assert admin.get("/region/rapport?format=pdf").status_code == 400
    long = admin.get("/region/rapport?du=" + "1" * 5000)
    assert long.status_code == 400 and long.headers["content-type"].startswith("text/html")
    alert = long.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
    assert "1" * 20 in alert and "1" * 41 not in alert  # the message shows its start only


# --------------------------------------------------------------------------- report
def site_history(path: Path, site_id: str, seed: int, first: date) -> tuple[Store, Config]:
    """A site's fortnight, made by the real front desk (tests/reports/history.py)."""
    base = load_config(None)
    config = dataclasses.replace(base, site=dataclasses.replace(base.site, id=site_id))
    store = Store(path, create=True)
    History(store, config, seed=seed).build(first, 14, per_day=(2, 6))
    return store, config


def push_log(client: httpx.Client, site: Site, store: Store) -> int:
    rows = store.query("SELECT id, visit_id, at, type, data FROM events ORDER BY seq")
    for start in range(0, len(rows), 300):
        batch = [
            {"id": r["id"], "visit_id": r["visit_id"], "at": r["at"], "type": r["type"],
             "data": json.loads(r["data"])}
            for r in rows[start : start + 300]
        ]  # fmt: skip
        answer = push(client, site, batch)
        assert answer.status_code == 200, answer.text
    return len(rows)


def sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_the_report_is_pvp_reports_from_the_same_events(
    hub: Hub, region: Region, client: httpx.Client, admin: httpx.Client, tmp_path: Path
) -> None:
    directory.save_partners(hub.engine, region.slug, list(load_config(None).partners))
    today = datetime.now(PARIS).date()
    first = today - timedelta(days=15)  # 14 days, up to the day before yesterday
    stores = {}
    for seed, slug in ((4, "demo"), (9, "gramat")):
        site = region.site(slug)
        store, config = site_history(tmp_path / f"{slug}.db", slug, seed, first)
        assert push_log(client, site, store) > 100
        stores[slug] = (store, config)
    period = Period(today - timedelta(days=7), today - timedelta(days=1))
    dates = f"du={period.start:%d/%m/%Y}&au={period.end:%d/%m/%Y}"
    partners = tuple(sorted(load_config(None).partners, key=lambda p: (p.name.casefold(), p.id)))

    def expected(slug: str, name: str) -> ActivityReport:
        store, config = stores[slug]
        site = dataclasses.replace(config.site, name=name)
        with i18n.using_language("fr"):
            return activity_report(store, Config(site, partners, "test"), period)

    demo = expected("demo", "Site demo")
    assert demo.current.total.visits > 5 and demo.current.total.failed_sessions > 0
    assert demo.previous.total.visits > 5  # the comparison is exercised too

    page = admin.get(f"/region/rapport?{dates}&site=demo")
    assert page.status_code == 200, page.text
    assert SECRET_NAME not in page.text
    shown = tables(page.text)
    with i18n.using_language("fr"):
        laid_out = {t["key"]: t for t in _report_tables(demo)}
    for key in ("summary", "partners", "kiosks", "failures"):
        want = [[text for text, _num in row] for row in laid_out[key]["rows"]]
        assert shown[key][1:] == want, key
    assert shown["summary"][1][:2] == ["Visiteurs", str(demo.current.total.visits)]

    csv = admin.get(f"/region/rapport?{dates}&site=demo&format=csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    name = f"rapport-demo-{period.start}-{period.end}.csv"
    assert csv.headers["content-disposition"] == f'attachment; filename="{name}"'
    with i18n.using_language("fr"):
        assert csv.content == to_csv(demo)
        want_xlsx = sheets(to_xlsx(demo))
    assert SECRET_NAME.encode() not in csv.content
    xlsx = admin.get(f"/region/rapport?{dates}&site=demo&format=xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"].endswith(f'{period.end}.xlsx"')
    assert sheets(xlsx.content) == want_xlsx

    # The region: every site's visits together, each kiosk named after its site.
    gramat = expected("gramat", "Site gramat")
    whole = admin.get(f"/region/rapport?{dates}&format=xlsx")
    assert whole.status_code == 200
    assert whole.headers["content-disposition"] == (
        f'attachment; filename="rapport-region-{region.slug}-{period.start}-{period.end}.xlsx"'
    )
    summary = {row[0]: row[1:] for row in sheets(whole.content)["Synthèse"][5:]}
    for label, figure in (
        ("Visiteurs", "visits"),
        ("Reçus", "served"),
        ("Absents", "no_shows"),
        ("Visios", "sessions"),
        ("Visios en échec", "failed_sessions"),
        ("Documents numérisés", "documents_scanned"),
    ):
        now = getattr(demo.current.total, figure) + getattr(gramat.current.total, figure)
        before = getattr(demo.previous.total, figure) + getattr(gramat.previous.total, figure)
        assert summary[label][:2] == (now, before), label
    kiosks = {row[0]: row[1] for row in sheets(whole.content)["Par kiosque"][5:]}
    for slug, report in (("demo", demo), ("gramat", gramat)):
        for kiosk in report.current.kiosks:
            assert kiosks[f"{slug}/{kiosk.kiosk}"] == kiosk.sessions
    for store, _config in stores.values():
        store.close()


def test_a_visitor_transferred_after_midnight_keeps_their_needs_in_the_report(
    region: Region, client: httpx.Client, admin: httpx.Client
) -> None:
    """The visit they came from entered the day before the report's range: its check-in
    (which says the needs) is read too, as the site's visit row would carry them."""
    site = region.site()
    day = datetime.now(PARIS).date() - timedelta(days=1)  # the report's day
    # The transfer opens the previous day (the period the report compares with); the
    # check-in is before it, outside both.
    midnight = datetime.combine(day - timedelta(days=1), time(0), PARIS)
    first, moved = uuid.uuid4(), uuid.uuid4()
    came = checked_in(first, "caf", midnight - timedelta(minutes=10))
    came["data"]["needs"] = ["hearing"]
    at = midnight + timedelta(minutes=10)
    batch = [
        came,
        event(first, "transferred", at, to_partner="cpam", to_visit=str(moved), to_ticket="A-001"),
        event(moved, "transferred_in", at, from_partner="caf", from_visit=str(first),
              from_ticket="C-001", partner="cpam", ticket="A-001"),
        event(moved, "called", at + timedelta(minutes=5), **{"from": "waiting", "to": "called"}),
        event(moved, "started", at + timedelta(minutes=6)),
        event(moved, "finished", at + timedelta(minutes=20), outcome="resolved"),
    ]  # fmt: skip
    assert push(client, site, batch).status_code == 200
    page = admin.get(f"/region/rapport?du={day:%d/%m/%Y}&au={day:%d/%m/%Y}&site={site.slug}")
    summary = {row[0]: row[1:3] for row in tables(page.text)["summary"][1:]}
    assert summary["Visiteurs"] == ["0", "0"]  # the visitor arrived the day before
    assert summary["Besoins d'accessibilité"] == ["0", "1"]
    assert summary["Besoins d'accessibilité satisfaits"] == ["0", "1"]
    assert summary["Transferts"] == ["0", "0"]  # the transfer closed a visit of no period


def test_the_report_page_shows_the_kiosks_satisfaction_answers(
    region: Region, client: httpx.Client, admin: httpx.Client
) -> None:
    """The kiosk's three faces after a call, per partner and in total, with the share of
    video sessions answered: counts only, no visitor."""
    site = region.site()
    day = datetime.now(PARIS).date() - timedelta(days=1)
    at = datetime.combine(day, time(10), PARIS)
    answered, silent = uuid.uuid4(), uuid.uuid4()
    batch = []
    for visit, minute in ((answered, 0), (silent, 30)):
        start = at + timedelta(minutes=minute)
        batch += [
            checked_in(visit, "caf", start),
            event(
                visit, "called", start + timedelta(minutes=2), **{"from": "waiting", "to": "called"}
            ),
            event(visit, "started", start + timedelta(minutes=3)),
            event(visit, "session_started", start + timedelta(minutes=3), kiosk="kiosque-1"),
            session_ended(visit, start + timedelta(minutes=15), "ended"),
            event(visit, "finished", start + timedelta(minutes=20), outcome="resolved"),
        ]
    batch.append(
        event(answered, "session_satisfaction", at + timedelta(minutes=16), kiosk="kiosque-1",
              session="s-1", answer="ok")
    )  # fmt: skip
    assert push(client, site, batch).status_code == 200
    page = admin.get(f"/region/rapport?du={day:%d/%m/%Y}&au={day:%d/%m/%Y}&site={site.slug}")
    assert page.status_code == 200, page.text
    shown = tables(page.text)
    summary = {row[0]: row[1] for row in shown["summary"][1:]}
    assert [summary[f"Aidé : {a}"] for a in ("oui", "un peu", "non")] == ["0", "1", "0"]
    assert summary["Réponses après la visio (%)"] == "50,0"
    header, *rows = shown["partners"]
    first = header.index("Aidé : oui")
    assert header[first : first + 4] == [
        "Aidé : oui", "Aidé : un peu", "Aidé : non", "Réponses après la visio (%)",
    ]  # fmt: skip
    assert header[-1] == "Évolution %"
    caf = next(row for row in rows if row[0] == "CAF")
    assert caf[first : first + 4] == ["0", "1", "0", "50,0"]
    assert rows[-1][first : first + 4] == ["0", "1", "0", "50,0"]  # the Total row
    assert "1 réponse anonyme pour 2 visios." in page.text


def test_reports_are_made_in_child_processes_that_a_crash_does_not_take_down(
    hub: Hub, region: Region, admin: httpx.Client
) -> None:
    """A region's month is seconds of CPU: the hub makes reports in child processes at a
    lower priority, so the sites' sync requests keep the serving process. A child killed
    (out of memory, by an admin) costs one 503 at most, then reports work again."""
    assert hub.process.proc is not None
    serving = hub.process.proc.pid
    path = "/region/rapport?du=01/11/2026&au=30/11/2026"
    assert admin.get(path).status_code == 200
    makers = [pid for pid in children(serving) if niceness(pid) == niceness(serving) + 10]
    assert makers, "no report process under the hub"
    for pid in makers:
        os.kill(pid, signal.SIGKILL)
    answers = []
    for _ in range(5):
        answer = admin.get(path)
        answers.append(answer.status_code)
        if answer.status_code == 200:
            break
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "Réessayez dans un instant" in html.unescape(answer.text)
    assert answers[-1] == 200 and len(answers) <= 2, answers
    assert hub.process.proc.poll() is None
    assert admin.get("/api/v1/health").status_code == 200
