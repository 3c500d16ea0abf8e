"""A week at a relay compressed into minutes: one `pvp` and one `pvp-bridge` left running.

The watched processes: `pvp` in a tmux pane (120x40, its change feed on, linked to the
bridge as the site's kiosk) and `pvp-bridge` on SANE's test scanner, a cups-pdf queue and
its kiosk session (headless Chromium with a fake camera; the tests' helpers start cupsd
and the bridge: tests/support/bridge_daemons.py). All of them, and every "other desk",
run on one test clock (`PVP_TEST_CLOCK`, shared by its SINCE; never faketime).

Each day, from 00:20 to the site's midnight: `--visits` visits made by other desks, spread
over the day (visit n not before n/visits of it). An other desk is a long-lived worker
thread with its own Store connection to the site's file and its own FrontDesk, calling
the core rules `pvp checkin`, `call`, `start`, `finish` and `cancel` call, `--desks` at a
time (`--cli`: cold `pvp` processes instead, ~2.6 s a visit on a loaded machine). During
one visit in `--visio-every`, the kiosk's video call: `session.start` on the bridge into a
local room (tests/support/farend.py: a page and an aiortc agent who joins), held
`--visio-hold` real seconds in call, `session.end`; then the Chromium processes left
(the bridge's descendants, or any naming the session's profiles) are counted. Meanwhile,
for one visit in `--scan-every`, a 10-page feeder scan at the kiosk (300 dpi colour)
printed on cups-pdf (followed to the job's end) then deleted, the scans one after the
other, spread over the day too.
Then the clock crosses the site's midnight with nobody acting; about 00:30, once the app
has started the new day by itself (its screen is checked), each process is read:
resident memory, open file descriptors, threads (/proc), asyncio tasks and the census
(the lines each logs on SIGUSR2), and the database's and WAL's sizes.

The day's length: first a visit at one desk (on a scratch database), one scan printed
and one visio (on a scratch bridge) are timed; the day is long enough for the slowest
lane of work (desks, scans, visios: they overlap) with room for load, and no shorter than
`--week-minutes` allows.

Baselines: the bridge's idle RSS (its scanners listed, before any scan or call); the app's
own first night; and a fresh `pvp` started on day N's data at the end, next to the old one.

Goals: the app grows < 10 MB over the week (from its first night to its last); the
bridge within 20 MB of idle after each day; the WAL < 64 MB; fds, threads and asyncio
tasks flat from the first night on (a spread of at most 2 fds, 1 thread, 2 tasks); no
Chromium process left after a call.

To find what holds malloc memory in the bridge: `--heaptrack FILE` runs the watched bridge
under heaptrack's preload library (same pid) and writes every allocation and free with its
backtrace to FILE.zst (`heaptrack_print -f FILE.zst`; docs/memory.md).

Usage: uv run python benchmarks/bench_week_soak.py [--days 7] [--visits 300] [--desks 3]
       [--scan-every 50] [--visio-every 25] [--visio-hold 4] [--week-minutes 40] [--cli]
       [--speed X] [--heaptrack FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.errors import BridgeError  # noqa: E402
from pvp_common.testclock import TestClock, parse, spec  # noqa: E402
from pvp_tui.core.clock import Clock, next_local_midnight, system_clock  # noqa: E402
from pvp_tui.core.config import load_config  # noqa: E402
from pvp_tui.core.errors import PvpError  # noqa: E402
from pvp_tui.core.frontdesk import CheckIn, FrontDesk, KioskBusy  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from tests.support.bridge_client import FEEDER_SCAN, Events  # noqa: E402
from tests.support.bridge_daemons import (  # noqa: E402
    BridgeProcess,
    Cupsd,
    cleanup_cups_pdf_output,
    have,
    write_sane_config,
)
from tests.support.farend import FarEnd  # noqa: E402
from tests.support.sites import ALL_WEEK_PARTNERS  # noqa: E402
from tests.support.terminals import PVP, Tmux, in_terminal  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
FIRST_MORNING = datetime(2026, 12, 7, 0, 20, tzinfo=PARIS)  # a Monday; each day as long
PRINTER = "pvp-pdf"
SIZE = (120, 40)
MIB = 1024 * 1024
APP_GROWTH_MB, BRIDGE_ABOVE_IDLE_MB, WAL_MB = 10.0, 20.0, 64.0
NIGHT_REAL = 15  # real seconds a night's readings take past 00:20, about
FLAT = {"fds": 2, "threads": 1, "tasks": 2}
PARTNERS = ("caf", "cpam", "france-travail")
COUNTS = re.compile(r"counts: asyncio tasks (\d+), threads (\d+)")
CENSUS = re.compile(r"census: (.*)")

SITE = f"""
[site]
id = "soak-site"
name = "Relais du soak"
timezone = "Europe/Paris"
kiosk_count = 4
{ALL_WEEK_PARTNERS}
[[kiosks]]
id = "kiosk-1"
name = "Borne 1"
url = "@URL@"
token_file = "@TOKEN@"
"""


@dataclass
class Reading:
    rss: float
    fds: int
    threads: int
    tasks: int | None
    census: str = ""


def read_process(pid: int, log: Path) -> Reading:
    """/proc's figures, and the asyncio tasks the process logs on SIGUSR2."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    offset = log.stat().st_size if log.exists() else 0
    os.kill(pid, signal.SIGUSR2)
    tasks, held = None, ""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not held:
        time.sleep(0.05)
        with contextlib.suppress(OSError):
            with log.open("rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
            found = COUNTS.findall(text)
            if found:
                tasks = int(found[-1][0])
            if census := CENSUS.findall(text):
                held = census[-1].strip()
    return Reading(rss, fds, threads, tasks, held)


def file_mib(path: Path) -> float:
    return path.stat().st_size / MIB if path.exists() else 0.0


class Desks:
    """Other desks, as `pvp` command lines would be, `run` visits at a time."""

    refused: int

    def visit(self, n: int, during: Callable[[str], None] | None = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DeskWorkers(Desks):
    """Long-lived desks: each thread its own Store connection to the site's file and its
    own FrontDesk, on the shared test clock, calling the core rules `pvp checkin`,
    `call`, `start`, `finish` and `cancel` call (pvp_tui/commands/desk.py). A desk runs
    the start of day (as every `pvp` start does) once a day, at its first visit."""

    def __init__(self, db: Path, config: Path, clock: Clock) -> None:
        self.db, self.config, self.clock = db, load_config(config), clock
        self.refused = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stores: list[Store] = []

    def _desk(self) -> FrontDesk:
        local = self._local
        if not hasattr(local, "desk"):
            store = Store(self.db)
            with self._lock:
                self._stores.append(store)
            local.desk, local.day = FrontDesk(store, self.config, self.clock), None
        desk: FrontDesk = local.desk
        if local.day != desk.today():
            desk.start_of_day()
            local.day = desk.today()
        return desk

    def visit(self, n: int, during: Callable[[str], None] | None = None) -> None:
        """Check in, call, start, (the kiosk's part,) finish; a refusal is counted and
        the visit is then cancelled, so that nothing stays open."""
        desk = self._desk()
        partner = PARTNERS[n % len(PARTNERS)]
        visit = desk.check_in(CheckIn(partner_id=partner, name=f"Visiteur {n}"))
        next((e for e in desk.queue() if e.visit.id == visit.id), None)  # as `--json` reads
        ticket = visit.ticket
        try:
            try:  # as `pvp call TICKET`: the kiosks checked in the call's own transaction
                desk.call(ticket, unless_busy=True)
            except KioskBusy:
                desk.call(ticket)
            desk.start(ticket)
            if during is not None:
                during(ticket)
            desk.finish(ticket, "resolved")
        except PvpError:
            with self._lock:
                self.refused += 1
            with contextlib.suppress(PvpError):
                desk.cancel(ticket)

    def close(self) -> None:
        for store in self._stores:  # closed from this thread: the workers are done
            with contextlib.suppress(Exception):
                store.close()


class ColdDesks(Desks):
    """Other desks as cold `pvp` command lines (`--cli`): slow, ~2.6 s a visit here."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.refused = 0

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [PVP, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            lines = [x for x in done.stderr.splitlines() if "warning: PVP_TEST_CLOCK" not in x]
            raise RuntimeError(f"pvp {args[0]}: {' '.join(lines)}")
        return done.stdout

    def visit(self, n: int, during: Callable[[str], None] | None = None) -> None:
        partner = PARTNERS[n % len(PARTNERS)]
        out = self.cli("checkin", "--json", "--partner", partner, "--name", f"Visiteur {n}")
        ticket = str(json.loads(out)["ticket"])
        try:
            self.cli("call", ticket)
            self.cli("start", ticket)
            if during is not None:
                during(ticket)
            self.cli("finish", ticket, "--outcome", "resolved")
        except RuntimeError:
            self.refused += 1
            with contextlib.suppress(RuntimeError):
                self.cli("cancel", ticket)


def browsers_left(bridge_pid: int, profiles: Path) -> int:
    """Chromium processes still there: the bridge's descendants named chrom*, and any
    process whose command line names a profile under `profiles` (an orphan)."""
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] == "Z":
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            cmdline = (entry / "cmdline").read_bytes().decode(errors="ignore")
            if f"--user-data-dir={profiles}" in cmdline:
                found.add(pid)
            elif "chrom" in stat[stat.find("(") + 1 : stat.rfind(")")].lower():
                ancestor = parents[pid]
                seen = 0
                while ancestor > 1 and seen < 64:
                    if ancestor == bridge_pid:
                        found.add(pid)
                        break
                    try:
                        up = Path(f"/proc/{ancestor}/stat").read_text()
                    except OSError:
                        break
                    ancestor = int(up[up.rfind(")") + 2 :].split()[1])
                    seen += 1
    return len(found)


class Kiosk:
    """The kiosk's side of the day through the real bridge: 10-page scans printed on
    cups-pdf then deleted, and visio calls (the bridge's session: headless Chromium,
    fake camera) into a local room whose agent (tests/support/farend.py) joins."""

    def __init__(
        self, client: BridgeClient, events: Events, bridge_pid: int, profiles: Path, hold: float
    ) -> None:
        self.client, self.events = client, events
        self.bridge_pid, self.profiles, self.hold = bridge_pid, profiles, hold
        self.lock = asyncio.Lock()  # one session at a time: the kiosk has one screen
        self.visios = 0
        self.visio_seconds: list[float] = []
        self.browsers_after: list[int] = []
        self.failures: list[str] = []

    async def scan_print_delete(self) -> float:
        began = time.monotonic()
        scan = await self.client.request("scanner.scan", FEEDER_SCAN, timeout=600)
        doc = scan["document"]["id"]
        job = await self.client.request("printer.print", {"document": doc, "printer": PRINTER})
        await self.events.wait("print.job", timeout=600, job=job["job"]["job"], final=True)
        with contextlib.suppress(BridgeError):  # expired at the bridge's midnight
            await self.client.request("documents.delete", {"document": doc})
        return time.monotonic() - began

    async def visio(self, ticket: str) -> None:
        """Start the session into a local room, wait for the agent, hold the call for
        `hold` real seconds, end it; then count the Chromium processes left."""
        async with self.lock:
            began = time.monotonic()
            mark = len(self.events.items)
            try:
                async with FarEnd() as far:
                    await self.client.request(
                        "session.start",
                        {"room_url": far.room_url(ticket), "display_name": ticket},
                        timeout=60,
                    )
                    await self._state("in_call", mark, 60)
                    await asyncio.sleep(self.hold)
                    await self.client.request("session.end", timeout=60)
                    await self._state("idle", mark, 30)
                self.visios += 1
            except (BridgeError, AssertionError, TimeoutError, OSError) as exc:
                self.failures.append(f"{ticket}: {type(exc).__name__}: {exc}"[:200])
                with contextlib.suppress(BridgeError, OSError, TimeoutError):
                    await self.client.request("session.end", timeout=30)
            self.visio_seconds.append(time.monotonic() - began)
            await asyncio.sleep(1.0)  # the bridge has killed the group by then
            self.browsers_after.append(browsers_left(self.bridge_pid, self.profiles))

    async def _state(self, state: str, mark: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, data in self.events.items[mark:]:
                if name == "session.state" and isinstance(data, dict):
                    if data.get("state") == state:
                        return
                    if data.get("state") == "failed":
                        raise AssertionError(f"session failed: {data.get('reason')}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"no session state {state} in {timeout} s")


async def run_day(
    desks: Desks,
    visits: int,
    parallel: int,
    kiosk: Kiosk,
    scans: int,
    visio_every: int,
    spread: float,
) -> None:
    """The day's visits, `parallel` at a time, visit n not before n * spread / visits real
    seconds into the day (the day's rhythm, not a burst); meanwhile the kiosk's scans,
    one after the other, spread the same way; a visio during one visit in `visio_every`."""
    gate = asyncio.Semaphore(parallel)
    loop = asyncio.get_running_loop()
    began = time.monotonic()

    async def not_before(offset: float) -> None:
        await asyncio.sleep(max(0.0, began + offset - time.monotonic()))

    def call_in(ticket: str) -> None:  # from a desk's thread: the kiosk's call, waited on
        asyncio.run_coroutine_threadsafe(kiosk.visio(ticket), loop).result(timeout=600)

    async def one(n: int) -> None:
        await not_before(n * spread / visits)
        during = call_in if visio_every and n % visio_every == visio_every // 2 else None
        async with gate:
            await asyncio.to_thread(desks.visit, n, during)

    async def scanning() -> None:
        for k in range(scans):
            await not_before(k * spread / max(scans, 1))
            await kiosk.scan_print_delete()

    await asyncio.gather(scanning(), *(one(n) for n in range(visits)))


def calibrate_desk(root: Path, config: Path, cli_env: dict[str, str] | None) -> float:
    """Real seconds a visit takes at one desk (5 visits on a scratch db, real clock)."""
    scratch = root / "calibrate.db"
    Store(scratch, create=True).close()
    desks: Desks
    if cli_env is not None:
        env = {**cli_env, "PVP_DB": str(scratch)}
        env.pop("PVP_TEST_CLOCK", None)
        desks = ColdDesks(env)
    else:
        desks = DeskWorkers(scratch, config, system_clock)
    started = time.monotonic()
    for n in range(5):
        desks.visit(n)
    desks.close()
    return (time.monotonic() - started) / 5


async def calibrate_kiosk(
    root: Path, env: dict[str, str], session: str, visio: bool, hold: float
) -> tuple[float, float]:
    """Real seconds one scan printed then deleted, and one visio, take on a scratch
    bridge (real clock, the same cupsd and SANE) next to everything else running."""
    scratch = BridgeProcess(
        root / "calibrate-bridge", {**env, "TZ": "Europe/Paris"}, config=session
    )
    scratch.start()
    try:
        assert scratch.proc is not None
        events = Events()
        async with BridgeClient(scratch.url, scratch.token, reconnect=False) as client:
            client.subscribe(events)
            await client.request("scanner.list")
            kiosk = Kiosk(client, events, scratch.proc.pid, root / "calibrate-profiles", hold)
            per_scan = await kiosk.scan_print_delete()
            per_visio = 0.0
            if visio:
                await kiosk.visio("C-001")
                if kiosk.failures:
                    raise RuntimeError(f"the calibration visio failed: {kiosk.failures[0]}")
                per_visio = kiosk.visio_seconds[0]
        return per_scan, per_visio
    finally:
        scratch.stop()


def session_table(profiles: Path) -> str:
    """The bridge's [session]: headless Chromium, fake camera, the local room allowed
    for the site's three partners' tickets."""
    chromium = shutil.which("chromium") or "chromium"
    lines = [
        "[session]",
        f'chromium = "{chromium}"',
        "headless = true",
        "fake_media = true",
        f'profile_dir = "{profiles}"',
        "stats_interval = 2",
    ]
    for partner, prefix in zip(PARTNERS, ("C", "A", "T"), strict=True):
        lines += [
            "",
            f"[session.partners.{partner}]",
            f'prefix = "{prefix}"',
            'domains = ["127.0.0.1"]',
            'display_name = "query:name"',
        ]
    return "\n".join(lines) + "\n"


def start_heaptrack(out: Path, root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`--heaptrack FILE`: the watched bridge runs under heaptrack's preload library (every
    malloc and free with its backtrace, as `heaptrack` does), the trace written to
    FILE.zst; read it with `heaptrack_print` (what is still allocated when the bridge
    stops, by backtrace). The bridge keeps its own pid, so it is read as usual."""
    preload = Path("/usr/lib/heaptrack/libheaptrack_preload.so")
    interpret = preload.parent / "libexec" / "heaptrack_interpret"
    if not preload.exists() or not interpret.exists():
        sys.exit(f"bench_week_soak: --heaptrack needs {preload} and {interpret}")
    fifo = root / "heaptrack.fifo"
    os.mkfifo(fifo)
    pipeline = subprocess.Popen(
        ["sh", "-c", f'"{interpret}" < "{fifo}" | zstd -q -c > "{out}.zst"'],
        start_new_session=True,
    )
    return pipeline, {"LD_PRELOAD": str(preload), "DUMP_HEAPTRACK_OUTPUT": str(fifo)}


def sleep_until(clock: TestClock, moment: datetime) -> None:
    ahead = (moment - clock()).total_seconds()
    if ahead > 0:
        time.sleep(clock.real_seconds(ahead))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def flat(values: list[int | None], spread: int) -> tuple[bool, str]:
    known = [v for v in values if v is not None]
    if not known:
        return False, "not read"
    return max(known) - min(known) <= spread, f"{min(known)}..{max(known)}"


async def soak(args: argparse.Namespace, root: Path) -> None:
    env_base = {"SANE_CONFIG_DIR": str(write_sane_config(root / "sane"))}
    cups = Cupsd(root / "cups")
    cups.start()
    bridge: BridgeProcess | None = None
    heaptrack: tuple[subprocess.Popen[bytes], dict[str, str]] | None = None
    desks: Desks | None = None
    term = Tmux()
    try:
        ppd = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
        cups.run("lpadmin", "-p", PRINTER, "-E", "-v", "cups-pdf:/", "-m", ppd)
        env_base.update(cups.env)

        config = root / "site.toml"
        db = root / "pvp.db"
        app_log = root / "pvp.log"
        desk_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PVP_")},
            "PVP_CONFIG": str(config),
            "PVP_DB": str(db),
            "PVP_LOG": str(app_log),
        }
        bridge_root = root / "bridge"
        token = bridge_root / "token"
        profiles = root / "profiles"
        visio = args.visio_every > 0
        session = session_table(profiles) if visio else ""
        bridge = BridgeProcess(
            bridge_root,
            env_base,
            config="[server]\nhealth_interval = 30\n\n" + session,
            token_file=token,
        )
        config.write_text(SITE.replace("@URL@", bridge.url).replace("@TOKEN@", str(token)))
        per_visit = args.per_visit or calibrate_desk(root, config, desk_env if args.cli else None)
        if args.per_scan:
            per_scan, per_visio = args.per_scan, args.per_visio
        else:
            per_scan, per_visio = await calibrate_kiosk(
                root, env_base, session_table(root / "calibrate-profiles"), visio, args.visio_hold
            )
        scans = args.visits // args.scan_every if args.scan_every else 0
        visios = args.visits // args.visio_every if visio else 0
        # The day's work in real seconds, lane by lane (they overlap): the desks (a visio
        # holds its desk), the kiosk's scans one after the other, its visios; with room
        # for a loaded machine. The visits are spread over the day, not run in a burst.
        desk_lane = args.visits * per_visit * 1.6 + visios * per_visio / max(1, args.desks)
        scan_lane = scans * per_scan * 1.25
        visio_lane = visios * (per_visio + 1.0) * 1.25
        # A day no shorter than --week-minutes allows: room for load that comes and goes
        # (one scan took 14 s on a quiet afternoon here, 60 s on a busy one).
        budget = args.week_minutes * 60 / args.days - NIGHT_REAL
        day_real = max(max(desk_lane, scan_lane, visio_lane) * 1.15 + 20, budget)
        spread = (day_real - 20) / 1.15
        speed = args.speed or min(600.0, round(86400 / day_real, 1))  # a tick >= 0.1 s
        if args.speed:
            spread = 86400 / speed * 0.8
        clock = parse(spec(FIRST_MORNING, speed, time.time() + 8))  # the processes start
        env_clock = {"PVP_TEST_CLOCK": spec(clock.start, clock.speed, clock.since)}
        mode = f"{args.desks} desks at the CLI" if args.cli else f"{args.desks} desk workers"
        week = args.days * (86400 / speed + NIGHT_REAL) / 60
        print(
            f"week soak: {args.days} days x {args.visits} visits ({mode}, "
            f"{per_visit * 1000:.0f} ms a visit measured), a 10-page scan printed every "
            f"{args.scan_every} visits ({scans} a day, {per_scan:.0f} s each measured), a "
            f"visio every {args.visio_every} visits ({visios} a day, {per_visio:.1f} s each "
            f"measured, held {args.visio_hold:g} s); clock x{speed:g} (a day in "
            f"{86400 / speed:.0f} s, its work spread over {spread:.0f} s; the week in about "
            f"{week:.0f} min)",
            flush=True,
        )

        # The kiosk PC is set to the site's zone: its documents end at the site's midnight.
        bridge.env = {**env_base, **env_clock, "TZ": "Europe/Paris"}
        if args.heaptrack:
            heaptrack = start_heaptrack(Path(args.heaptrack).resolve(), root)
            bridge.env.update(heaptrack[1])
        bridge.start()
        Store(db, create=True).close()
        desks = ColdDesks({**desk_env, **env_clock}) if args.cli else DeskWorkers(db, config, clock)
        app = term.new_session(
            in_terminal([PVP]), {**desk_env, **env_clock}, width=SIZE[0], height=SIZE[1]
        )
        term.wait_for(app, "En attente (0)", timeout=60, what="the app's first screen")
        app_pid = term.pane_pid(app)
        assert bridge.proc is not None
        bridge_pid = bridge.proc.pid

        events = Events()
        async with BridgeClient(bridge.url, bridge.token, reconnect=False) as client:
            client.subscribe(events)
            await client.request("scanner.list")
            await asyncio.sleep(2.0)
            idle = read_process(bridge_pid, bridge.log)
            first = read_process(app_pid, app_log)
            print(
                f"start: app {first.rss:.1f} MiB, {first.fds} fds, {first.threads} threads, "
                f"{first.tasks} tasks; bridge idle {idle.rss:.1f} MiB, {idle.fds} fds, "
                f"{idle.threads} threads, {idle.tasks} tasks"
            )
            print(
                "day  clock          app: RSS MiB  fds thr tasks | bridge: RSS MiB  fds thr "
                "tasks | db MiB  WAL MiB | visits s  day s  refused | visios chromium left"
            )
            kiosk = Kiosk(client, events, bridge_pid, profiles, args.visio_hold)
            rows: list[tuple[Reading, Reading, float, float]] = []
            left_per_day: list[int] = []
            since = time.time()
            for day in range(1, args.days + 1):
                began = time.monotonic()
                done_before, checks_before = kiosk.visios, len(kiosk.browsers_after)
                await run_day(
                    desks, args.visits, args.desks, kiosk, scans, args.visio_every, spread
                )
                busy = time.monotonic() - began
                today = (FIRST_MORNING + timedelta(days=day - 1)).replace(hour=12)
                midnight = next_local_midnight(today)  # this day's end, even if passed
                ran_over = clock() > midnight
                late = " (the day's visits and scans ran past its midnight)" if ran_over else ""
                await asyncio.to_thread(sleep_until, clock, midnight + timedelta(minutes=20))
                screen = term.wait_for(
                    app, "En attente (0)", timeout=30, what="the new day on the app"
                )
                assert "Visiteur" not in screen
                await asyncio.sleep(2.0)
                app_now = await asyncio.to_thread(read_process, app_pid, app_log)
                bridge_now = await asyncio.to_thread(read_process, bridge_pid, bridge.log)
                db_mib, wal_mib = file_mib(db), file_mib(Path(f"{db}-wal"))
                rows.append((app_now, bridge_now, db_mib, wal_mib))
                left_now = browsers_left(bridge_pid, profiles)
                after = kiosk.browsers_after[checks_before:]
                left_per_day.append(max([*after, left_now]))
                at = clock().astimezone(PARIS).strftime("%a %H:%M")
                print(
                    f"{day:3d}  {at:<12}  {app_now.rss:14.1f} {app_now.fds:4d} "
                    f"{app_now.threads:3d} {app_now.tasks!s:>5} | {bridge_now.rss:15.1f} "
                    f"{bridge_now.fds:4d} {bridge_now.threads:3d} {bridge_now.tasks!s:>5} | "
                    f"{db_mib:6.1f} {wal_mib:8.2f} | {busy:8.0f} {time.monotonic() - began:6.0f} "
                    f"{desks.refused:8d} | {kiosk.visios - done_before:6d} "
                    f"{max(after, default=0):d} after a call, {left_now:d} at night{late}",
                    flush=True,
                )
                print(f"     app census: {app_now.census}", flush=True)
                print(f"     bridge census: {bridge_now.census}", flush=True)
                for failure in kiosk.failures:
                    print(f"     visio failed: {failure}", flush=True)
                kiosk.failures.clear()
            cleanup_cups_pdf_output(since)

        fresh = term.new_window(in_terminal([PVP]), {**desk_env, **env_clock})
        term.wait_for(fresh, "En attente (0)", timeout=60, what="a fresh start's screen")
        time.sleep(3.0)
        baseline = read_process(term.pane_pid(fresh), app_log)
    finally:
        if desks is not None:
            desks.close()
        term.kill()
        if bridge is not None:
            bridge.stop()
        if heaptrack is not None:
            heaptrack[0].wait(120)  # the trace written and compressed
        cups.stop()

    apps = [r[0] for r in rows]
    bridges = [r[1] for r in rows]
    last = apps[-1]
    growth = last.rss - apps[0].rss
    print(
        f"baseline, a fresh pvp on day {args.days}'s data: {baseline.rss:.1f} MiB, "
        f"{baseline.fds} fds, {baseline.threads} threads, {baseline.tasks} tasks; the app "
        f"open all week {last.rss:.1f} MiB (ratio {last.rss / baseline.rss:.2f}, "
        f"{last.rss - baseline.rss:+.1f} MiB)"
    )
    print("goals:")
    print(
        f"  app growth over the week < {APP_GROWTH_MB:.0f} MB: night 1 {apps[0].rss:.1f} -> "
        f"night {len(apps)} {last.rss:.1f} MiB ({growth:+.1f})  "
        f"{verdict(growth * MIB / 1e6 < APP_GROWTH_MB)}"
    )
    worst = max(b.rss for b in bridges) - idle.rss
    print(
        f"  bridge within {BRIDGE_ABOVE_IDLE_MB:.0f} MB of idle ({idle.rss:.1f} MiB) after "
        f"each day: at most {worst:+.1f} MiB  "
        f"{verdict(worst * MIB / 1e6 <= BRIDGE_ABOVE_IDLE_MB)}"
    )
    wal = max(r[3] for r in rows)
    print(f"  WAL < {WAL_MB:.0f} MB: at most {wal:.2f} MiB  {verdict(wal * MIB / 1e6 < WAL_MB)}")
    for name, series in (("app", apps), ("bridge", bridges)):
        for what in ("fds", "threads", "tasks"):
            ok, span = flat([getattr(r, what) for r in series], FLAT[what])
            print(f"  {name} {what} flat (spread <= {FLAT[what]}): {span}  {verdict(ok)}")
    if visio:
        held = kiosk.visios
        print(
            f"  no Chromium left after a visio ({held} calls held over the week): at most "
            f"{max(left_per_day)} process(es) left on a day  {verdict(max(left_per_day) == 0)}"
        )


def stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--visits", type=int, default=300, help="visits a day")
    ap.add_argument("--desks", type=int, default=3, help="other desks acting at once")
    ap.add_argument("--cli", action="store_true", help="other desks as cold `pvp` processes (slow)")
    ap.add_argument("--scan-every", type=int, default=50, help="a kiosk scan every N visits")
    ap.add_argument("--visio-every", type=int, default=25, help="a visio every N visits (0: none)")
    ap.add_argument("--visio-hold", type=float, default=4.0, help="real seconds a call lasts")
    ap.add_argument("--week-minutes", type=float, default=40, help="the shortest the week may take")
    ap.add_argument("--speed", type=float, default=0.0, help="the clock's speed (default: fit)")
    ap.add_argument(
        "--heaptrack", default="", metavar="FILE", help="trace the bridge's mallocs to FILE.zst"
    )
    ap.add_argument("--per-visit", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--per-scan", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--per-visio", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not have("cupsd", "lpadmin", "tmux") or (args.visio_every and not have("chromium")):
        sys.exit(
            "bench_week_soak: needs cupsd, lpadmin, tmux, chromium and SANE (scripts/bootstrap.sh)"
        )
    signal.signal(signal.SIGTERM, stop)  # `kill PID`: the daemons are stopped all the same
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-week-"))
    os.chmod(root, 0o755)  # cups filters run as lp
    try:
        asyncio.run(soak(args, root))
    finally:
        if not os.environ.get("PVP_KEEP_TEST_DIR"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
