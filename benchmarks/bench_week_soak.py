"""A week at a relay compressed into minutes: one `pvp` and one `pvp-bridge` left running.

The real processes: `pvp` in a tmux pane (120x40, its change feed on, linked to the
bridge as the site's kiosk) and `pvp-bridge` on SANE's test scanner and a cups-pdf queue
(the tests' helpers start cupsd and the bridge: tests/support/bridge_daemons.py). All of
them, and every "other desk", run on one test clock (`PVP_TEST_CLOCK`, shared by its
SINCE; never faketime), fast enough for a day's visits to fit in the day.

Each day, from 00:20 to the site's midnight: `--visits` visits made by other desks
through the CLI (`pvp checkin`, `call`, `start`, `finish`: cold processes, `--desks` at
a time), and meanwhile, for one visit in `--scan-every`, a 10-page feeder scan at the
kiosk (300 dpi colour) printed on cups-pdf (followed to the job's end) then deleted.
Then the clock crosses the site's midnight with nobody acting; about 00:30, once the app
has started the new day by itself (its screen is checked), each process is read:
resident memory, open file descriptors, threads (/proc), asyncio tasks (the line each
logs on SIGUSR2), and the database's and WAL's sizes.

Baselines: the bridge's idle RSS (its scanners listed, before any scan); the app's own
first night; and a fresh `pvp` started on day N's data at the end, next to the old one.

Goals: the app grows < 10 MB over the week (from its first night to its last); the
bridge within 20 MB of idle after each day; the WAL < 64 MB; fds, threads and asyncio
tasks flat from the first night on (a spread of at most 2 fds, 1 thread, 2 tasks).

No video call: a visio needs the kiosk session's Chromium and a far end (tests/
bridge_session); it is not part of this soak yet.

Usage: uv run python benchmarks/bench_week_soak.py [--days 7] [--visits 300] [--desks 3]
       [--scan-every 50] [--speed X]
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
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.errors import BridgeError  # noqa: E402
from pvp_common.testclock import TestClock, parse, spec  # noqa: E402
from pvp_tui.core.clock import next_local_midnight  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from tests.support.bridge_client import FEEDER_SCAN, Events  # noqa: E402
from tests.support.bridge_daemons import (  # noqa: E402
    BridgeProcess,
    Cupsd,
    cleanup_cups_pdf_output,
    have,
    write_sane_config,
)
from tests.support.sites import ALL_WEEK  # noqa: E402
from tests.support.terminals import PVP, Tmux, in_terminal  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
FIRST_MORNING = datetime(2026, 12, 7, 0, 20, tzinfo=PARIS)  # a Monday; each day as long
PRINTER = "pvp-pdf"
SIZE = (120, 40)
MIB = 1024 * 1024
APP_GROWTH_MB, BRIDGE_ABOVE_IDLE_MB, WAL_MB = 10.0, 20.0, 64.0
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

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = {ALL_WEEK}

[[partners]]
id = "cpam"
name = "Assurance Maladie"
prefix = "A"
interview_minutes = 30
hours = {ALL_WEEK}

[[partners]]
id = "france-travail"
name = "France Travail"
prefix = "T"
interview_minutes = 15
hours = {ALL_WEEK}

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
    """Other desks: cold `pvp` command lines on the shared test clock."""

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

    def visit(self, n: int) -> None:
        """Check in, call, start, finish; a refusal (the kiosks busy) is counted, and the
        visit is then ended as a no-show, so that nothing stays open."""
        partner = PARTNERS[n % len(PARTNERS)]
        out = self.cli("checkin", "--json", "--partner", partner, "--name", f"Visiteur {n}")
        ticket = str(json.loads(out)["ticket"])
        try:
            self.cli("call", ticket)
            self.cli("start", ticket)
            self.cli("finish", ticket, "--outcome", "resolved")
        except RuntimeError:
            self.refused += 1
            with contextlib.suppress(RuntimeError):
                self.cli("cancel", ticket)


async def run_day(
    desks: Desks, visits: int, parallel: int, client: BridgeClient, events: Events, scans: int
) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(n: int) -> None:
        async with gate:
            await asyncio.to_thread(desks.visit, n)

    async def kiosk() -> None:
        for _ in range(scans):  # as scan_print_delete, with cups-pdf's time on a busy PC
            scan = await client.request("scanner.scan", FEEDER_SCAN, timeout=600)
            doc = scan["document"]["id"]
            job = await client.request("printer.print", {"document": doc, "printer": PRINTER})
            await events.wait("print.job", timeout=600, job=job["job"]["job"], final=True)
            with contextlib.suppress(BridgeError):  # expired at the bridge's midnight
                await client.request("documents.delete", {"document": doc})

    await asyncio.gather(kiosk(), *(one(n) for n in range(visits)))


def calibrate(root: Path, env: dict[str, str]) -> float:
    """Real seconds a visit takes at the CLI (3 visits, one desk, on a scratch db)."""
    scratch = root / "calibrate.db"
    Store(scratch, create=True).close()
    desks = Desks({**env, "PVP_DB": str(scratch)})
    desks.env.pop("PVP_TEST_CLOCK", None)
    started = time.monotonic()
    for n in range(3):
        desks.visit(n)
    return (time.monotonic() - started) / 3


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
        bridge = BridgeProcess(
            bridge_root, env_base, config="[server]\nhealth_interval = 30\n", token_file=token
        )
        config.write_text(SITE.replace("@URL@", bridge.url).replace("@TOKEN@", str(token)))
        per_visit = args.per_visit or calibrate(root, desk_env)
        # Cold `pvp` processes fill two cores: desks at once did not go faster on a loaded
        # machine (3 desks: 3.1 s a visit), and cups-pdf's Ghostscript competes with them.
        scans = args.visits // args.scan_every
        day_real = args.visits * per_visit * 1.6 + 30 + scans * 60  # cups-pdf: ~1 min
        speed = args.speed or min(600.0, round(86400 / day_real, 1))  # a tick >= 0.1 s
        clock = parse(spec(FIRST_MORNING, speed, time.time() + 8))  # the processes start
        env_clock = {"PVP_TEST_CLOCK": spec(clock.start, clock.speed, clock.since)}
        print(
            f"week soak: {args.days} days x {args.visits} visits ({args.desks} desks at the "
            f"CLI, {per_visit:.2f} s a visit measured), a scan printed every "
            f"{args.scan_every} visits; clock x{speed:g} (a day in {86400 / speed:.0f} s)"
        )

        # The kiosk PC is set to the site's zone: its documents end at the site's midnight.
        bridge.env = {**env_base, **env_clock, "TZ": "Europe/Paris"}
        bridge.start()
        Store(db, create=True).close()
        desks = Desks({**desk_env, **env_clock})
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
                "tasks | db MiB  WAL MiB | visits s  day s  refused"
            )
            rows: list[tuple[Reading, Reading, float, float]] = []
            since = time.time()
            for day in range(1, args.days + 1):
                began = time.monotonic()
                await run_day(desks, args.visits, args.desks, client, events, scans)
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
                at = clock().astimezone(PARIS).strftime("%a %H:%M")
                print(
                    f"{day:3d}  {at:<12}  {app_now.rss:14.1f} {app_now.fds:4d} "
                    f"{app_now.threads:3d} {app_now.tasks!s:>5} | {bridge_now.rss:15.1f} "
                    f"{bridge_now.fds:4d} {bridge_now.threads:3d} {bridge_now.tasks!s:>5} | "
                    f"{db_mib:6.1f} {wal_mib:8.2f} | {busy:8.0f} {time.monotonic() - began:6.0f} "
                    f"{desks.refused:8d}{late}",
                    flush=True,
                )
                print(f"     app census: {app_now.census}", flush=True)
                print(f"     bridge census: {bridge_now.census}", flush=True)
            cleanup_cups_pdf_output(since)

        fresh = term.new_window(in_terminal([PVP]), {**desk_env, **env_clock})
        term.wait_for(fresh, "En attente (0)", timeout=60, what="a fresh start's screen")
        time.sleep(3.0)
        baseline = read_process(term.pane_pid(fresh), app_log)
    finally:
        term.kill()
        if bridge is not None:
            bridge.stop()
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


def stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--visits", type=int, default=300, help="visits a day")
    ap.add_argument("--desks", type=int, default=3, help="other desks at the CLI at once")
    ap.add_argument("--scan-every", type=int, default=50, help="a kiosk scan every N visits")
    ap.add_argument("--speed", type=float, default=0.0, help="the clock's speed (default: fit)")
    ap.add_argument("--per-visit", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not have("cupsd", "lpadmin", "tmux"):
        sys.exit("bench_week_soak: needs cupsd, lpadmin, tmux and SANE (scripts/bootstrap.sh)")
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
