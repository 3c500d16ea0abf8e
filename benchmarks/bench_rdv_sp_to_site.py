"""From RDV Service Public's webhook delivery to the appointment in a site's store, with
the site's sync running as at a relay: a real `pvp-hub serve` (SQLite, or `--engine
postgresql` on a cluster started here) and a real `pvp sync` process pulling every
`[hub] pull_seconds` (10 s, the default).

Each delivery is a new appointment for today at the site, signed as the sender signs it
(tests/support/rdv_sp.py), posted at a random moment of the pull period; the clock stops
when the site's own database holds it (read there every 20 ms, by the name). The open
app shows it from there through its change feed (`PRAGMA data_version`, checked every
0.25 s), so the screen follows within a fraction of a second. Goal: under 15 s with a
10 s pull period. Baseline: the pull period itself (a delivery waits on average half of
it, at worst all of it, plus the pull's own time).

Usage: uv run python benchmarks/bench_rdv_sp_to_site.py [--deliveries N] [--engine E]
       [--pull-seconds S]
"""

from __future__ import annotations

import argparse
import atexit
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from _local_hub import local_hub

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from pvp_hub.database import make_engine  # noqa: E402
from pvp_hub.rdv_sp import admin  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from tests.support import rdv_sp  # noqa: E402
from tests.support.sites import OPEN_SITE  # noqa: E402

SLUG = "bench-site"
SECRET = "le-secret-du-banc-vers-le-site"
PARIS = ZoneInfo("Europe/Paris")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pull-seconds", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rdv-site-"))
    atexit.register(shutil.rmtree, work, True)  # the scratch folder goes at the end
    rng = random.Random(17)
    with local_hub(work, args.engine, SLUG) as hub:
        engine = make_engine(hub.db_url, pool_size=1)
        mapping = f'organisation = 309\n[lieux]\n97 = "{SLUG}"\n[motifs]\n157 = "caf"\n'
        endpoint, _ = admin.add(engine, "bench", 309, "CAF", mapping, "bench", SECRET)
        engine.dispose()
        site = work / "site"
        site.mkdir()
        (site / "config.toml").write_text(
            OPEN_SITE.replace('id = "test-site"', f'id = "{SLUG}"', 1)
            + f'\n[hub]\nurl = "{hub.hub.url}"\ntoken_file = "{hub.hub.token_file}"\n'
            + f"pull_seconds = {args.pull_seconds}\n"
        )
        Store(site / "pvp.db", create=True).close()
        env = {
            "PVP_CONFIG": str(site / "config.toml"),
            "PVP_DB": str(site / "pvp.db"),
            "PVP_LOG": str(site / "pvp.log"),
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
        }
        sync = subprocess.Popen(
            [str(Path(sys.executable).with_name("pvp")), "sync"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        waits: list[float] = []
        try:
            reader = sqlite3.connect(f"file:{site / 'pvp.db'}?mode=ro", uri=True)
            now = datetime.now(PARIS)
            with httpx.Client(base_url=hub.process.url, timeout=30) as client:
                time.sleep(args.pull_seconds + 2)  # the worker's first pull is done
                for n in range(args.deliveries):
                    time.sleep(rng.uniform(0, args.pull_seconds))
                    name = f"Banc {n:03d}"
                    data = rdv_sp.rdv(
                        9000 + n,
                        now + timedelta(hours=1, minutes=n),
                        first_name="Banc",
                        last_name=f"{n:03d}",
                    )
                    body, headers = rdv_sp.delivery(SECRET, data, "created", datetime.now(PARIS))
                    start = time.monotonic()
                    answer = client.post(
                        admin.webhook_path(endpoint), content=body, headers=headers
                    )
                    if answer.status_code != 200:
                        print(f"delivery {n}: HTTP {answer.status_code} {answer.text[:200]}")
                        return 1
                    while time.monotonic() - start < 60:
                        found = reader.execute(
                            "SELECT 1 FROM appointment_details WHERE name = ?", (name,)
                        ).fetchone()
                        if found:
                            break
                        time.sleep(0.02)
                    else:
                        print(f"delivery {n}: not at the site after 60 s")
                        return 1
                    waits.append(time.monotonic() - start)
                    print(f"  delivery {n:2d}: at the site after {waits[-1]:5.2f} s")
        finally:
            sync.terminate()
            sync.wait(10)
    median, worst = statistics.median(waits), max(waits)
    print(
        f"\ndelivery -> site store ({args.engine}, pull every {args.pull_seconds:.0f} s): "
        f"median {median:.2f} s, worst {worst:.2f} s; baseline (the pull period) "
        f"{args.pull_seconds:.0f} s, ratio worst/period {worst / args.pull_seconds:.2f}"
    )
    print(f"goal < 15 s: {'met' if worst < 15 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
