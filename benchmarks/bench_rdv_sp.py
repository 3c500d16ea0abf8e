"""RDV Service Public's webhook deliveries absorbed by one `pvp-hub serve` process on a
PostgreSQL cluster started here (or SQLite with --engine sqlite), with signature checks.

Each delivery is a new appointment (`created`) of one organisation mapped to 40 sites,
its body built and signed as the sender builds and signs it (tests/support/rdv_sp.py).
The load generator is bench_hub_sync's open-loop keep-alive client: every request has a
scheduled time and its latency counts from that time.

The webhook answers once the delivery is in the hub's inbox; the hub's applier thread
applies the inbox in batches. Each phase waits for the inbox to be empty before it reads
the CPU counters, so the hub's CPU per delivery counts both the answer and the applying.
"applied" is the time from a delivery's scheduled moment to its change in the sites'
feed (`changes.at`, written inside the batch's transaction, committed at its end); "drained"
is how long after the last answer the inbox was empty.

(a) the fixed rate (--rate, 500/s): p50/p95/p99 of the answer, errors, time until
    applied, the hub's and PostgreSQL's CPU per delivery. Goal: p95 < 50 ms, 0 errors.
(b) flat out: the rate raised by a quarter per step until p99 > 100 ms, an error, a
    shortfall or an inbox not drained within 5 s: the highest step held is the sustained
    rate. Goal: >= 500 deliveries/s.
Baseline, side by side at the same rates on the same hub: `GET /api/v1/health` (one
database round trip, no signature, no write); the ratio is the webhook's p95 and CPU per
request over the baseline's.

Usage: uv run python benchmarks/bench_rdv_sp.py [--engine postgresql|sqlite] [--rate R]
       [--seconds S] [--runs N]   (about 3 minutes with the defaults)
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_hub_sync import (  # noqa: E402
    Connections,
    Result,
    cpu_seconds,
    load_average,
    postmaster_pid,
    tree_cpu,
)
from sqlalchemy import Engine, func, select  # noqa: E402

from pvp_hub import directory  # noqa: E402
from pvp_hub.database import make_engine, migrate  # noqa: E402
from pvp_hub.rdv_sp import admin  # noqa: E402
from pvp_hub.schema import appointments, changes, rdv_sp_inbox  # noqa: E402
from tests.support import rdv_sp  # noqa: E402
from tests.support.hub_daemons import HubProcess, PostgresCluster  # noqa: E402

SITES = 40
ORGANISATION = 309
SECRET = "le-secret-du-banc-d-essai-rdv-sp"
TIMEOUT_S = 10.0
PARIS = ZoneInfo("Europe/Paris")


def requests(path: str, count: int, first_id: int) -> list[tuple[int, bytes]]:
    """`count` signed deliveries, each a whole HTTP/1.1 request, with its rdv id."""
    day = datetime.now(PARIS).replace(hour=8, minute=0, second=0, microsecond=0)
    stamp = datetime.now(UTC) - timedelta(minutes=1)
    made = []
    for n in range(count):
        data = rdv_sp.rdv(
            first_id + n,
            day + timedelta(days=1 + n // 2000, minutes=n % 50 * 10),
            organisation_id=ORGANISATION,
            lieu_id=1000 + n % SITES,
        )
        body, headers = rdv_sp.delivery(SECRET, data, "created", stamp)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        made.append((first_id + n, raw))
    return made


HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@dataclass
class Phase(Result):
    due: dict[int, float] = field(default_factory=dict)  # rdv id -> wall clock
    applied: list[float] = field(default_factory=list)  # seconds, from due to its change
    drained: float = 0.0  # seconds after the last answer until the inbox was empty

    def applied_line(self) -> str:
        if not self.applied:
            return ""
        ordered = sorted(self.applied)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000
        return (
            f"  {'':<26} applied: p50 {p50:.0f} ms, p95 {p95:.0f} ms; inbox drained "
            f"{self.drained * 1000:.0f} ms after the last answer"
        )


async def drive(
    port: int, load: list[tuple[int, bytes]] | None, rate: float, seconds: float
) -> Phase:
    loop = asyncio.get_running_loop()
    conns = Connections(port, 64)
    result = Phase(rate, seconds)
    wall = time.time() - loop.time()
    total = int(rate * seconds)
    tasks: set[asyncio.Task[None]] = set()

    async def one(raw: bytes, due: float) -> None:
        try:
            status, _ = await asyncio.wait_for(conns.request(raw), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
            return
        if status != 200:
            result.errors[str(status)] = result.errors.get(str(status), 0) + 1
            return
        result.latencies.append(loop.time() - due)

    cpu0 = time.process_time()
    start = loop.time() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0.001:
            await asyncio.sleep(delay)
        if load is None:
            raw = HEALTH
        else:
            rdv_id, raw = load.pop()
            result.due[rdv_id] = wall + due
        task = loop.create_task(one(raw, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(list(tasks))
    result.sent = total
    result.elapsed = seconds
    result.generator_cpu = time.process_time() - cpu0
    conns.close()
    return result


def drain(engine: Engine, limit_s: float = 120.0) -> float:
    """Wait until the inbox is empty; how long it took."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        with engine.connect() as conn:
            if not conn.execute(select(func.count()).select_from(rdv_sp_inbox)).scalar():
                break
        time.sleep(0.01)
    return time.monotonic() - start


def applied_times(engine: Engine, due: dict[int, float]) -> list[float]:
    """From each delivery's scheduled moment to its appointment's first change."""
    if not due:
        return []
    query = (
        select(appointments.c.external_id, func.min(changes.c.at))
        .join(changes, changes.c.object_id == appointments.c.id)
        .where(appointments.c.source == "rdv-sp")
        .group_by(appointments.c.external_id)
    )
    found = []
    with engine.connect() as conn:
        for external_id, at in conn.execute(query):
            rdv_id = int(external_id.split("/")[1])
            if rdv_id in due:
                found.append(at.timestamp() - due[rdv_id])
    return found


def phase(
    hub: HubProcess,
    engine: Engine,
    db_pid: int | None,
    load: list[tuple[int, bytes]] | None,
    rate: float,
    seconds: float,
) -> Phase:
    assert hub.proc is not None
    server0 = cpu_seconds(hub.proc.pid, children=True)
    db0 = tree_cpu(db_pid) if db_pid else 0.0
    result = asyncio.run(drive(hub.port, load, rate, seconds))
    result.drained = drain(engine) if load is not None else 0.0
    result.server_cpu = cpu_seconds(hub.proc.pid, children=True) - server0
    result.db_cpu = (tree_cpu(db_pid) - db0) if db_pid else 0.0
    result.applied = applied_times(engine, result.due)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--p99-bound", type=float, default=100.0)
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-rdv-sp-"))
    atexit.register(shutil.rmtree, workdir, True)  # the scratch folder goes at the end
    cluster = None
    db_pid = None
    if args.engine == "postgresql":
        cluster = PostgresCluster()
        cluster.start()
        url = cluster.create_database("bench_rdv_sp")
        db_pid = postmaster_pid(cluster)
    else:
        url = f"sqlite:///{workdir / 'hub.db'}"
    engine = make_engine(url, pool_size=2)
    migrate(engine)
    directory.create_region(engine, "bench", "Région du banc d'essai")
    for n in range(SITES):
        directory.create_site(engine, "bench", f"site-{n:02d}", f"Site {n:02d}")
    partners = directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}])
    directory.save_partners(engine, "bench", partners)
    places = "\n".join(f'{1000 + n} = "site-{n:02d}"' for n in range(SITES))
    mapping = f'organisation = {ORGANISATION}\n[lieux]\n{places}\n[motifs]\n157 = "caf"\n'
    endpoint_id, _ = admin.add(engine, "bench", ORGANISATION, "CAF", mapping, "bench", SECRET)
    path = admin.webhook_path(endpoint_id)
    hub = HubProcess(url, workdir)
    hub.start()
    next_id = 1
    try:
        # Warm up: the first requests of a process compile and connect.
        load = requests(path, 500, next_id)
        next_id += 500
        phase(hub, engine, db_pid, load, 100, 5)
        print(f"\n(a) {args.rate:.0f} deliveries/s for {args.seconds:.0f} s, {args.runs} runs "
              "alternating with the baseline")  # fmt: skip
        hooks, bases = [], []
        for _ in range(args.runs):
            count = int(args.rate * args.seconds)
            load = requests(path, count, next_id)
            next_id += count
            hooks.append(phase(hub, engine, db_pid, load, args.rate, args.seconds))
            print(hooks[-1].line("webhook"))
            print(hooks[-1].applied_line())
            bases.append(phase(hub, engine, db_pid, None, args.rate, args.seconds))
            print(bases[-1].line("baseline: GET /health"))
        p95 = statistics.median(r.quantile(0.95) for r in hooks)
        base95 = statistics.median(r.quantile(0.95) for r in bases)
        cpu = statistics.median(r.cpu_ms_per_request() for r in hooks)
        base_cpu = statistics.median(r.cpu_ms_per_request() for r in bases)
        errors = sum(r.error_count for r in hooks)
        print(f"  median p95: webhook {p95:.1f} ms, baseline {base95:.1f} ms "
              f"(ratio {p95 / base95:.2f}); hub CPU per request {cpu:.2f} ms against "
              f"{base_cpu:.2f} ms (ratio {cpu / base_cpu:.2f}); errors {errors}")  # fmt: skip
        print(
            f"  goal p95 < 50 ms with 0 errors: {'met' if p95 < 50 and errors == 0 else 'NOT met'}"
        )

        print(f"\n(b) flat out: steps of {args.step_seconds:.0f} s from {args.rate:.0f}/s, "
              f"held while p99 < {args.p99_bound:.0f} ms, no error, >= 97 % answered")  # fmt: skip
        rate, held = args.rate, 0.0
        while rate < 20_000:
            count = int(rate * args.step_seconds)
            load = requests(path, count, next_id)
            next_id += count
            step = phase(hub, engine, db_pid, load, rate, args.step_seconds)
            print(step.line("webhook"))
            print(step.applied_line())
            ok = (
                step.quantile(0.99) < args.p99_bound
                and step.error_count == 0
                and len(step.latencies) >= 0.97 * step.sent
                and step.drained < 5.0
            )
            if not ok:
                break
            held = rate
            rate *= 1.25
        print(f"  sustained: {held:.0f} deliveries/s; goal >= 500/s: "
              f"{'met' if held >= 500 else 'NOT met'}")  # fmt: skip
        print(f"load average at the end: {load_average()}")
    finally:
        hub.stop()
        engine.dispose()
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
