"""A site's outbox reaches a real hub exactly once: events made by the real front desk,
sent by the real sync worker (in-process or as `pvp sync`), through the failures the hub
documents (stopped, 500, 429 with Retry-After, hanging, the reply lost after the commit,
the sender SIGKILLed, the lease holder killed). After each: the hub holds every event once
and the outbox is empty. Where the hub's own storage answers for "once" (a reply lost after
its commit, a batch sent again under its key, the fault campaigns): on SQLite and
PostgreSQL; the site's own behaviour: on SQLite only."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk_bridge.shapes import DocumentInfo
from pvp_hub.schema import events as hub_events
from pvp_hub.schema import sites
from pvp_tui.core.config import load_config
from pvp_tui.core.documents import DocumentLog
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from pvp_tui.core.sync import Outbox, SyncWorker, Timeouts
from tests.hub.regions import Hub, Region, Site
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.hub_daemons import REPO, HubProcess
from tests.support.processes import wait_for
from tests.support.sites import OPEN_SITE


@dataclass
class SiteDesk:
    """A site's folder: its config (with [hub]), token file, database and front desk."""

    dir: Path
    site: Site
    desk: FrontDesk

    @property
    def db(self) -> Path:
        return self.dir / "pvp.db"

    @property
    def config_path(self) -> Path:
        return self.dir / "config.toml"

    @property
    def store(self) -> Store:
        return self.desk.store

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PVP_CONFIG": str(self.config_path),
            "PVP_DB": str(self.db),
            "PVP_LANG": "en",
            "PVP_LOG": str(self.dir / "pvp.log"),
        }

    def pvp(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pvp_tui.cli", *args],
            cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def start_pvp(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pvp_tui.cli", *args],
            cwd=REPO, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def worker(self, **kwargs: object) -> SyncWorker:
        assert self.desk.config.hub is not None
        return SyncWorker(Store(self.db), self.desk.config.hub, **kwargs)  # type: ignore[arg-type]


def make_site(tmp_path: Path, region: Region, url: str, name: str = "site") -> SiteDesk:
    site = region.site()
    folder = tmp_path / name
    folder.mkdir()
    (folder / "hub.token").write_text(site.token + "\n")
    text = OPEN_SITE.replace('id = "test-site"', f'id = "{site.slug}"', 1)
    text += f'\n[hub]\nurl = "{url}"\ntoken_file = "hub.token"\nretry_max_seconds = 1\n'
    (folder / "config.toml").write_text(text)
    config = load_config(folder / "config.toml")
    desk = FrontDesk(Store(folder / "pvp.db", create=True), config, actor="test")
    return SiteDesk(folder, site, desk)


def a_morning(desk: FrontDesk, visitors: int = 4) -> None:
    """Check-ins, calls, interviews, a transfer, a note, a no-show, documents scanned and
    printed: every kind of writer goes through FrontDesk.append_event."""
    docs = DocumentLog(desk)
    for n in range(visitors):
        visit = desk.check_in(CheckIn(partner_id="caf", name=f"Visiteur Secret {n}"))
        desk.call(visit.ticket)
        if n % 4 == 2:
            desk.no_show(visit.ticket)
            continue
        desk.start(visit.ticket)
        if n == 0:
            scanned: DocumentInfo = {"id": str(uuid.uuid4()), "kind": "scan", "type": "PDF",
                                     "pages": 2, "size": 1000, "sha256": "ab" * 32}  # fmt: skip
            trace = docs.captured(visit.id, "kiosque-1", scanned, "payslip")
            docs.printed(trace, "kiosk-printer", 1, False, 12)
        if n % 4 == 1:
            desk.set_note(visit.ticket, "a note about a person")
            desk.transfer(visit.ticket, "cpam")
            continue
        desk.finish(visit.ticket, "resolved")


def site_event_ids(site: SiteDesk) -> list[str]:
    return [row["id"] for row in site.store.query("SELECT id FROM events ORDER BY seq")]


def hub_counts(hub: Hub, site: SiteDesk) -> tuple[int, int]:
    """(events the hub holds for this site, of which distinct ids)."""
    with hub.engine.connect() as conn:
        site_id = conn.execute(select(sites.c.id).where(sites.c.slug == site.site.slug)).scalar()
        total = conn.execute(
            select(func.count(), func.count(func.distinct(hub_events.c.id))).where(
                hub_events.c.site_id == site_id
            )
        ).one()
    return int(total[0]), int(total[1])


def assert_all_once(hub: Hub, site: SiteDesk) -> None:
    expected = len(site_event_ids(site))
    assert expected > 0
    assert hub_counts(hub, site) == (expected, expected)
    left = site.store.query("SELECT count(*) AS n FROM outbox")[0]["n"]
    batches = site.store.query("SELECT count(*) AS n FROM outbox_batches")[0]["n"]
    assert (left, batches) == (0, 0)


# ------------------------------------------------------------------------------ tests


def test_without_a_hub_no_outbox_is_kept(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(OPEN_SITE)
    desk = FrontDesk(Store(tmp_path / "pvp.db", create=True), load_config(config_path))
    a_morning(desk)
    assert desk.store.query("SELECT count(*) AS n FROM outbox")[0]["n"] == 0
    assert desk.store.query("SELECT count(*) AS n FROM events")[0]["n"] > 10


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_the_outbox_is_written_with_the_event_and_holds_no_name(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk)
    rows = site.store.query("SELECT event_id, body FROM outbox ORDER BY seq")
    assert [r["event_id"] for r in rows] == site_event_ids(site)
    for row in rows:
        body = json.loads(row["body"])
        assert set(body) == {"id", "visit_id", "type", "at", "data"}
        assert body["at"].endswith("+00:00")
        assert "Secret" not in row["body"] and "person" not in row["body"]
    # A refused action writes neither the event nor its outbox row.
    with pytest.raises(Exception, match="C-001"):
        site.desk.finish("C-001", "resolved")
    assert len(site.store.query("SELECT 1 FROM outbox")) == len(rows)


def test_pvp_sync_once_sends_the_front_desks_events_exactly_once(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk)
    waiting = len(site_event_ids(site))
    status = site.pvp("sync", "--status")
    assert f"{waiting} events waiting" in status.stdout, status.stdout
    done = site.pvp("sync", "--once")
    assert done.returncode == 0, done.stderr
    assert f"Sent {waiting} events in 1 batch(es): {waiting} new" in done.stdout
    assert_all_once(hub, site)
    again = site.pvp("sync", "--once")
    assert "Sent 0 events" in again.stdout
    status = site.pvp("sync", "--status")
    assert "Online." in status.stdout and "Nothing waiting" in status.stdout
    assert f"{waiting} events sent in all." in status.stdout


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_pvp_sync_status_is_in_french_by_default(tmp_path: Path, region: Region, hub: Hub) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk, visitors=1)
    env = {k: v for k, v in site.env().items() if k != "PVP_LANG"}
    out = subprocess.run(
        [sys.executable, "-m", "pvp_tui.cli", "sync", "--status"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "en attente d'envoi" in out, out


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_the_hub_stopped_then_restarted(tmp_path: Path, region: Region, hub: Hub) -> None:
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    try:
        site = make_site(tmp_path, region, own.url)
        own.stop()
        a_morning(site.desk)
        worker = site.worker(timeouts=Timeouts(connect=1, read=2, total=3), wait_initial=0.1)
        result = worker.drain(timeout=2)
        assert result.events == 0 and result.error is not None
        status = Outbox(site.store).status()
        assert status.failing_since is not None and status.waiting == len(site_event_ids(site))
        assert status.last_error is not None and own.url in status.last_error
        # Restarted while the worker keeps trying: the items arrive once.
        worker.start()
        time.sleep(1.5)
        own.start()
        wait_for(lambda: Outbox(site.store).status().waiting == 0, 30, "the outbox drained")
        worker.stop()
        assert_all_once(hub, site)
        assert Outbox(site.store).status().online
    finally:
        own.stop()


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_500_429_and_a_hang_are_retried_and_arrive_once(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    with fault_proxy(hub.url, hang_seconds=3) as proxy:
        site = make_site(tmp_path, region, proxy.url)
        a_morning(site.desk)
        proxy.faults = ["500", "429", "hang", "500"]
        worker = site.worker(
            timeouts=Timeouts(connect=1, read=1, total=1.5), wait_initial=0.1, max_events=10
        )
        started = time.monotonic()
        result = worker.drain(timeout=30)
        assert result.error is None
        seen = proxy.pushes()
        assert [s.fault for s in seen[:5]] == ["500", "429", "hang", "500", "pass"]
        assert len({s.key for s in seen[:5]}) == 1  # one batch, one key through its retries
        assert time.monotonic() - started >= 1.0  # the 429's Retry-After: 1 was honoured
        assert result.events == len(site_event_ids(site))
        assert_all_once(hub, site)


def test_the_reply_lost_after_the_hub_committed_gets_the_first_answer(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    with fault_proxy(hub.url) as proxy:
        site = make_site(tmp_path, region, proxy.url)
        a_morning(site.desk)
        proxy.faults = ["drop"]
        worker = site.worker(timeouts=Timeouts(connect=1, read=2, total=3), wait_initial=0.1)
        result = worker.drain(timeout=30)
        seen = proxy.pushes()
        assert [s.fault for s in seen] == ["drop", "pass"]
        assert seen[0].status == 200 and seen[0].key == seen[1].key
        n = len(site_event_ids(site))
        # The retry got the first answer again: everything applied by the first request.
        assert result.answers == [{"received": n, "applied": n, "duplicates": 0}]
        assert_all_once(hub, site)


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_a_refused_batch_is_held_not_dropped_and_the_rest_goes_on(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk, visitors=1)
    # An event the hub refuses (an unknown type), written as a bug would.
    with site.store.transaction() as db:
        row = db.execute("SELECT body FROM outbox ORDER BY seq LIMIT 1").fetchone()
        bad = {**json.loads(row[0]), "id": str(uuid.uuid4()), "type": "no_such_type"}
        db.execute(
            "INSERT INTO outbox (event_id, body, queued_at) VALUES (?, ?, ?)",
            [bad["id"], json.dumps(bad), bad["at"]],
        )
    worker = site.worker(max_events=3)
    result = worker.drain(timeout=10)
    assert result.held >= 1 and result.error is None
    status = Outbox(site.store).status()
    assert status.waiting == 0 and status.held_batches == 1
    assert "422" in status.held_errors[0] and "no_such_type" in status.held_errors[0]
    out = site.pvp("sync", "--status").stdout
    assert "refused by the hub, kept aside" in out and "422" in out
    good = len(site_event_ids(site))
    assert hub_counts(hub, site) == (
        good - (status.held_events - 1),
        good - (status.held_events - 1),
    )
    # Fixed (here: the bad row removed), then sent again under a new key.
    with site.store.transaction() as db:
        db.execute("DELETE FROM outbox WHERE event_id = ?", [bad["id"]])
    assert "put back in line" in site.pvp("sync", "--retry-held").stdout
    assert site.pvp("sync", "--once").returncode == 0
    assert_all_once(hub, site)


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_a_refused_token_stops_and_says_so(tmp_path: Path, region: Region, hub: Hub) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk, visitors=1)
    (site.dir / "hub.token").write_text("pvphub_" + "x" * 43)
    done = site.pvp("sync", "--once")
    assert done.returncode == 1 and "401" in done.stderr
    status = Outbox(site.store).status()
    assert status.waiting == len(site_event_ids(site)) and status.failing_since is not None


def answered(proxy: FaultProxy) -> bool:
    """The hub has answered the first push (the proxy may still hold the answer)."""
    pushes = proxy.pushes()
    return bool(pushes) and pushes[0].status is not None


def test_pvp_sync_killed_mid_batch_then_restarted(tmp_path: Path, region: Region, hub: Hub) -> None:
    with fault_proxy(hub.url, hold_seconds=30) as proxy:
        site = make_site(tmp_path, region, proxy.url)
        a_morning(site.desk)
        sender = site.start_pvp("sync")
        try:
            # The hub has committed the batch; its answer is held by the proxy: kill now.
            wait_for(lambda: answered(proxy) or sender.poll() is not None, 30,
                     "the first push")  # fmt: skip
            assert proxy.pushes()[0].status == 200
        finally:
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
        first_key = proxy.pushes()[0].key
        assert Outbox(site.store).status().waiting > 0  # not marked sent: no answer came
        proxy.hold_seconds = 0
        # The lease of the killed process still runs: --once waits for it, then sends.
        assert Outbox(site.store).status().worker_active
        done = site.pvp("sync", "--once", "--wait", "30")
        assert done.returncode == 0, done.stderr
        assert proxy.pushes()[-1].key == first_key  # the same batch, the same key
        assert_all_once(hub, site)


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_two_processes_one_database_the_lease_holder_killed(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = make_site(tmp_path, region, hub.url)
    first = site.start_pvp("sync")
    second: subprocess.Popen[str] | None = None
    try:

        def holder() -> str | None:
            row = sqlite3.connect(site.db).execute("SELECT holder FROM sync_state").fetchone()
            return row[0] if row else None

        wait_for(lambda: holder() is not None, 30, "the first worker's lease")
        first_holder = holder()
        assert first_holder is not None and f":{first.pid}:" in first_holder
        second = site.start_pvp("sync")
        a_morning(site.desk, visitors=2)
        wait_for(lambda: Outbox(site.store).status().waiting == 0, 30, "the first sending")
        assert holder() == first_holder  # the second one only waits
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        a_morning(site.desk, visitors=2)
        wait_for(lambda: Outbox(site.store).status().waiting == 0, 40, "the takeover")
        assert time.monotonic() - killed_at < 25
        assert f":{second.pid}:" in (holder() or "")
        assert_all_once(hub, site)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_the_app_starts_the_worker_in_a_thread_of_its_own(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    from pvp_tui import cli
    from pvp_tui.commands.context import Context

    site = make_site(tmp_path, region, hub.url)
    made = cli._start_sync(Context(config=site.desk.config, desk=site.desk))
    try:
        a_morning(site.desk)  # written while the worker runs: it sees them within a second
        wait_for(lambda: Outbox(site.store).status().waiting == 0, 30, "the app's worker sent")
        assert_all_once(hub, site)
        assert Outbox(site.store).status().worker_active
    finally:
        wait_for(lambda: bool(made), 10, "the worker made")
        made[0].stop(wait=5)
    assert not Outbox(site.store).status().worker_active  # released at once on stop


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_a_worker_that_cannot_start_logs_why_and_draws_nothing_on_the_screen(
    tmp_path: Path, region: Region, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from pvp_tui import cli
    from pvp_tui.commands.context import Context

    site = make_site(tmp_path, region, hub.url)
    site.store.path.unlink()  # the database gone under the app: the worker cannot open it
    site.store.path.mkdir()
    uncaught: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: uncaught.append(args.exc_value)
    try:
        with caplog.at_level("ERROR", logger="pvp.sync"):
            cli._start_sync(Context(config=site.desk.config, desk=site.desk))
            wait_for(lambda: bool(caplog.records), 10, "the worker's failure logged")
    finally:
        threading.excepthook = previous
    assert uncaught == []  # no traceback printed over the app's screen
    assert "the sync worker stopped" in caplog.records[0].getMessage()


@pytest.mark.engine("sqlite")  # the site's side: the hub's storage plays no role
def test_a_day_offline_reaches_the_hub_intact_when_the_link_returns(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    try:
        site = make_site(tmp_path, region, own.url)
        own.stop()
        a_morning(site.desk, visitors=40)  # about 200 events, the hub unreachable
        worker = site.worker(timeouts=Timeouts(connect=1, read=2, total=3), max_events=25)
        assert worker.drain(timeout=1).events == 0
        waiting = Outbox(site.store).status().waiting
        assert waiting == len(site_event_ids(site)) > 150
        own.start()
        result = worker.drain(timeout=30)
        assert (result.events, result.applied, result.duplicates) == (waiting, waiting, 0)
        assert result.batches == -(-waiting // 25)
        assert_all_once(hub, site)
    finally:
        own.stop()


@pytest.mark.slow
def test_a_small_random_fault_campaign_loses_and_duplicates_nothing(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    import random

    rng = random.Random(15)
    with fault_proxy(hub.url, hang_seconds=1.5) as proxy:
        site = make_site(tmp_path, region, proxy.url)
        a_morning(site.desk, visitors=16)
        kinds = ["500", "429", "hang", "drop", "pass"]
        proxy.faults = [rng.choice(kinds) for _ in range(40)]
        injected = sum(f != "pass" for f in proxy.faults)
        worker = site.worker(
            timeouts=Timeouts(connect=1, read=1, total=1), wait_initial=0.05, max_events=5
        )
        result = worker.drain(timeout=60)
        assert result.error is None
        n = len(site_event_ids(site))
        assert result.events == n
        # Each event applied once: a lost reply's retry gets the first answer (same key).
        assert (result.applied, result.duplicates) == (n, 0)
        assert injected >= 20 and len(proxy.pushes()) >= result.batches + injected
        assert_all_once(hub, site)


@pytest.mark.slow
def test_the_full_fault_campaign_loses_and_duplicates_nothing(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    """Hundreds of injected failures of every kind in one run, while the front desk keeps
    writing: the proxy's 500s, 429s with Retry-After, hangs past the timeout and replies
    lost after the commit; the hub SIGKILLed and stopped, then restarted; two `pvp sync`
    on the database, the lease holder SIGKILLed with a batch committed by the hub and its
    answer on the way (the other takes over). Reports sent / duplicates / lost."""
    import dataclasses
    import random

    rng = random.Random(615)
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    procs: list[subprocess.Popen[str]] = []
    kills = 0
    try:
        with fault_proxy(own.url, hang_seconds=0.4, retry_after="0.1") as proxy:
            site = make_site(tmp_path, region, proxy.url)
            assert site.desk.config.hub is not None
            # In-process senders wait little between tries (the config's floor is 1 s).
            fast = dataclasses.replace(site.desk.config.hub, retry_max_seconds=0.05)

            def in_process(holder: str) -> SyncWorker:
                return SyncWorker(Store(site.db), fast, holder=holder, max_events=1,
                                  timeouts=Timeouts(connect=0.5, read=0.3, total=0.3),
                                  wait_initial=0.02)  # fmt: skip

            kinds = ["500"] * 3 + ["429"] * 3 + ["drop"] * 3 + ["hang"] + ["pass"] * 2
            # Phase 1: an in-process worker through ~200 proxy faults, the hub killed and
            # stopped under it, the desk writing all along.
            proxy.faults = [rng.choice(kinds) for _ in range(240)]
            worker = in_process("campaign-1").start()
            for round_ in range(6):
                a_morning(site.desk, visitors=3)
                if round_ in (1, 3):  # a crash (no shutdown), then a clean stop
                    if round_ == 1:
                        own.kill()
                    else:
                        own.stop()
                    kills += 1
                    time.sleep(0.3)
                    own.start(wait=90)  # a loaded machine starts a hub slowly
                time.sleep(0.5)
            wait_for(lambda: not proxy.faults, 60, "the proxy's faults all used")
            wait_for(lambda: Outbox(site.store).status().waiting == 0, 60, "phase 1 drained")
            worker.stop(wait=5)

            def holder() -> str:
                row = sqlite3.connect(site.db).execute("SELECT holder FROM sync_state").fetchone()
                return str(row[0])

            # Phase 2: two `pvp sync` on the database; the lease holder SIGKILLed with the
            # hub's answer to its committed batch held on the way; the other takes over.
            proxy.faults = [rng.choice(["500", "429", "drop", "pass"]) for _ in range(12)]
            first = site.start_pvp("sync")
            procs.append(first)
            wait_for(lambda: f":{first.pid}:" in holder(), 60, "the first one's lease")
            second = site.start_pvp("sync")
            procs.append(second)
            seen = len(proxy.pushes())
            proxy.hold_seconds = 30
            a_morning(site.desk, visitors=8)
            wait_for(lambda: any(s.status == 200 for s in proxy.pushes()[seen:])
                     or first.poll() is not None, 60, "a batch committed")  # fmt: skip
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            kills += 1
            proxy.hold_seconds = 0
            a_morning(site.desk, visitors=4)
            wait_for(lambda: Outbox(site.store).status().waiting == 0, 60, "the takeover")
            assert f":{second.pid}:" in holder()
            second.send_signal(signal.SIGTERM)
            second.wait(15)
            injected = sum(s.fault != "pass" for s in proxy.pushes()) + kills
            requests = len(proxy.pushes())
        total, distinct = hub_counts(hub, site)
        expected = len(site_event_ids(site))
        print(f"\nfault campaign: {requests} pushes, {injected} injected failures "
              f"({kills} kills), {expected} events: sent {distinct}, "
              f"duplicates {total - distinct}, lost {expected - distinct}")  # fmt: skip
        assert injected >= 200
        assert (total - distinct, expected - distinct) == (0, 0)
        assert_all_once(hub, site)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        own.stop()
