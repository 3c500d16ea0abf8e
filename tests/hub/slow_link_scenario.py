"""A 30 MB document crosses a 1 Mbit/s link to a real hub, cut in the middle, the sender
killed and restarted: the scenario, as a program the test session starts in the background
at collection (it is almost all waiting), so it overlaps the rest of the suite.

    python -m tests.hub.slow_link_scenario OUTDIR

The site's `pvp sync` runs in a network namespace of its own whose only way out is a
veth pair to this one, shaped to 1 Mbit/s upstream with tbf (this kernel has no netem);
the hub (`pvp-hub serve`, SQLite, a port of its own) listens here. Once a third is on the
hub, the link goes down: the chunk in flight is lost, the sender says why; it is
SIGKILLed, the link comes back, a new `pvp sync` resumes from the hub's `received_bytes`
(its log says where), and the rest goes. Needs root (ip netns, tc).

It asserts nothing: it writes OUTDIR/result.json with what it saw, and
tests/hub/test_site_send_slow_link.py asserts on it. The namespace, veth and addresses
are derived from OUTDIR (a fresh temporary folder), so two runs never share them;
`cleanup(OUTDIR)` removes them whatever became of the run (SIGKILL included).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from pvp_hub import directory
from pvp_hub.database import make_engine
from pvp_tui.core import hub_uploads
from pvp_tui.core.config import load_config
from pvp_tui.core.documents import DocumentLog
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.hub.people_pages import agent, signed_in
from tests.hub.regions import Region
from tests.hub.test_site_send import big_pdf, scanned
from tests.support.hub_daemons import REPO, HubProcess
from tests.support.processes import wait_for
from tests.support.sites import OPEN_SITE

SIZE = 30_000_000  # the hub's default max_bytes is 30 MiB (31,457,280)
RATE = ("rate", "1mbit", "burst", "32kbit", "latency", "400ms")


def can_run() -> bool:
    return os.geteuid() == 0 and shutil.which("tc") is not None and shutil.which("ip") is not None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def names(outdir: Path) -> tuple[str, str, str, str, str]:
    """(namespace, veth end here, its peer there, hub address, site address), all from
    OUTDIR: a /30 among the 32,768 of 10.96.0.0/15, away from the bridge tests' 10.99.0.0/24."""
    digest = hashlib.sha256(str(outdir.resolve()).encode()).digest()
    tag = digest[:4].hex()
    first = (int.from_bytes(digest[4:6], "big") % 32768) * 4  # the /30's first address
    base = f"10.{96 + first // 65536}.{first // 256 % 256}"
    hub_ip, site_ip = f"{base}.{first % 256 + 1}", f"{base}.{first % 256 + 2}"
    return f"pvps-{tag}", f"pvsa{tag}", f"pvsb{tag}", hub_ip, site_ip


def cleanup(outdir: Path) -> None:
    """The veth pair and the namespace go, whatever state the run left them in."""
    netns, here, _there, _hub_ip, _site_ip = names(outdir)
    subprocess.run(["ip", "link", "del", here], check=False, capture_output=True)
    subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)


@contextlib.contextmanager
def shaped_link(outdir: Path) -> Iterator[tuple[str, str, str, str]]:
    """(namespace, its veth end, the hub's address here, the site's address there): a
    private namespace joined to this one by a veth pair, its upstream at 1 Mbit/s."""
    netns, here, there, hub_ip, site_ip = names(outdir)
    try:
        ip("netns", "add", netns)
        ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", netns)
        ip("addr", "add", f"{hub_ip}/30", "dev", here)
        ip("link", "set", here, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "addr", "add", f"{site_ip}/30", "dev", there)
        ip("-n", netns, "link", "set", there, "up")
        ip("netns", "exec", netns, "tc", "qdisc", "add", "dev", there, "root", "tbf", *RATE)
        yield netns, there, hub_ip, site_ip
    finally:
        cleanup(outdir)


def tx_bytes(netns: str, dev: str) -> int:
    out = subprocess.run(
        ["ip", "-n", netns, "-s", "link", "show", dev], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    line = next(i for i, text in enumerate(out) if text.strip().startswith("TX:"))
    return int(out[line + 1].split()[0])


def run(outdir: Path) -> dict[str, Any]:
    """The scenario; returns what the test asserts on."""
    facts: dict[str, Any] = {}
    key = outdir / "documents.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    url = f"sqlite:///{outdir / 'hub.db'}"
    hub = HubProcess(url, outdir)
    hub.start("--host", "0.0.0.0", env={**os.environ, "PVP_HUB_DOCUMENTS_KEY_FILE": str(key)})
    engine = make_engine(url, pool_size=2)
    senders: list[subprocess.Popen[bytes]] = []
    try:
        with shaped_link(outdir) as (netns, dev, hub_ip, _site_ip):
            region = Region(f"r{uuid.uuid4().hex[:12]}", engine)
            directory.create_region(engine, region.slug, "Region")
            directory.save_partners(
                engine,
                region.slug,
                directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}]),
            )
            site = region.site()
            folder = outdir / "site"
            folder.mkdir()
            (folder / "hub.token").write_text(site.token + "\n")
            text = OPEN_SITE.replace('id = "test-site"', f'id = "{site.slug}"', 1)
            text += (
                f'\n[hub]\nurl = "http://{hub_ip}:{hub.port}"\ntoken_file = "hub.token"\n'
                "retry_max_seconds = 2\n"
            )
            (folder / "config.toml").write_text(text)
            desk = FrontDesk(
                Store(folder / "pvp.db", create=True), load_config(folder / "config.toml"),
                actor="test",
            )  # fmt: skip
            visit = desk.check_in(CheckIn(partner_id="caf", name="Visiteuse Secrete"))
            desk.call(visit.ticket)
            desk.start(visit.ticket)
            log = DocumentLog(desk)
            overhead = len(big_pdf(1000)) - 1000
            data = big_pdf(SIZE - overhead)
            trace = log.updated(scanned(log, visit.id, data), consent=True)
            upload = log.send_to_agent(trace, data)
            sha = hashlib.sha256(data).hexdigest()
            facts.update(size=len(data), sha256=sha)

            def start_sender(run: int) -> subprocess.Popen[bytes]:
                env = {
                    **os.environ,
                    "PVP_CONFIG": str(folder / "config.toml"),
                    "PVP_DB": str(folder / "pvp.db"),
                    "PVP_LANG": "en",
                    "PVP_LOG": str(folder / f"pvp-{run}.log"),
                }
                with (folder / f"sync-{run}.out").open("wb") as out:
                    proc = subprocess.Popen(
                        ["ip", "netns", "exec", netns, sys.executable, "-m", "pvp_tui.cli",
                         "sync"],
                        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )  # fmt: skip
                senders.append(proc)
                return proc

            def hub_holds() -> int:
                with httpx.Client(base_url=hub.url, timeout=10) as client:
                    answer = client.get(f"/api/v1/site/documents/{upload.id}", headers=site.auth)
                if answer.status_code == 404:
                    return -1
                return int(answer.json()["received_bytes"])

            first = start_sender(1)
            wait_for(lambda: hub_holds() >= SIZE // 3, 400, "a third on the hub", poll=1)

            # The link goes down mid-chunk: the sender notices (write timeout), is killed.
            ip("-n", netns, "link", "set", dev, "down")
            wait_for(
                lambda: bool(hub_uploads.get(desk.store, upload.id).error),  # type: ignore[union-attr]
                120, "the sender's failure recorded", poll=1,
            )  # fmt: skip
            cut_at = hub_holds()
            facts["cut_at"] = cut_at
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            row = hub_uploads.get(desk.store, upload.id)
            facts["after_kill"] = (
                None if row is None else {"state": row.state, "sent_bytes": row.sent_bytes}
            )
            facts["spooled_after_kill_intact"] = hub_uploads.spooled(desk.store, upload.id) == data

            ip("-n", netns, "link", "set", dev, "up")
            second = start_sender(2)
            wait_for(
                lambda: hub_uploads.get(desk.store, upload.id).state == "sent",  # type: ignore[union-attr]
                600, "the whole document on the hub", poll=2,
            )  # fmt: skip
            second.send_signal(signal.SIGTERM)
            second.wait(20)

            said = (folder / "pvp-2.log").read_text()
            facts["resumed_log"] = said[-2000:]
            facts["resumed_from"] = [int(n) for n in re.findall(r"the hub holds (\d+) of", said)]
            facts["sent_upstream"] = tx_bytes(netns, dev)

            with httpx.Client(base_url=hub.url, timeout=30) as client:
                state = client.get(f"/api/v1/site/documents/{upload.id}", headers=site.auth).json()
            facts["hub"] = {k: state.get(k) for k in ("state", "sha256", "size")}
            with signed_in(hub.url, agent(region, "caf", [site.slug])) as browser:
                shown = browser.get(f"/agent/documents/{upload.id}")
            facts["shown_sha256"] = hashlib.sha256(shown.content).hexdigest()
            facts["spooled_at_end"] = hub_uploads.spooled(desk.store, upload.id) is not None
    finally:
        for proc in senders:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        hub.stop()
        engine.dispose()
    return facts


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # the `finally`s run: senders, hub, namespace go


def _orphaned_ends_it(parent: int) -> None:
    """If the test session dies without stopping it (SIGKILL, say), this run stops too,
    through its SIGTERM handler, so its namespace and processes go."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    signal.signal(signal.SIGTERM, _terminated)
    _orphaned_ends_it(os.getppid())
    facts = run(outdir)
    (outdir / "result.json.tmp").write_text(json.dumps(facts, indent=1))
    (outdir / "result.json.tmp").rename(outdir / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
