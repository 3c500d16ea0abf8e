"""A 30 MB document crosses a 1 Mbit/s link to a real hub, cut in the middle, the sender
killed and restarted, and arrives intact (the hub's sha256 equal to the site's).

The site's `pvp sync` runs in a network namespace of its own whose only way out is a
veth pair to this one, shaped to 1 Mbit/s upstream with tbf (this kernel has no netem);
the hub (`pvp-hub serve`, SQLite) listens here. Halfway, the link goes down: the chunk in
flight is lost, the sender says why; it is SIGKILLed, the link comes back, a new
`pvp sync` resumes from the hub's `received_bytes` (its log says where), and the rest
goes. About 4 minutes of upload at 1 Mbit/s: marked slow. Needs root (ip netns, tc).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # about 5 minutes of a 1 Mbit/s upload
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("tc") is None, reason="needs root, ip and tc"
    ),
]

SIZE = 30_000_000  # the hub's default max_bytes is 30 MiB (31,457,280)
RATE = ("rate", "1mbit", "burst", "32kbit", "latency", "400ms")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def shaped_link() -> Iterator[tuple[str, str, str, str]]:
    """(namespace, its veth end, the hub's address here, the site's address there): a
    private namespace joined to this one by a veth pair, its upstream at 1 Mbit/s."""
    tag = secrets.token_hex(4)
    netns, here, there = f"pvps-{tag}", f"pvsa{tag}", f"pvsb{tag}"
    third = 100 + secrets.randbelow(100)
    hub_ip, site_ip = f"10.97.{third}.1", f"10.97.{third}.2"
    ip("netns", "add", netns)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", netns)
        ip("addr", "add", f"{hub_ip}/30", "dev", here)
        ip("link", "set", here, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "addr", "add", f"{site_ip}/30", "dev", there)
        ip("-n", netns, "link", "set", there, "up")
        ip("netns", "exec", netns, "tc", "qdisc", "add", "dev", there, "root", "tbf", *RATE)
        yield netns, there, hub_ip, site_ip
    finally:
        subprocess.run(["ip", "link", "del", here], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)


def tx_bytes(netns: str, dev: str) -> int:
    out = subprocess.run(
        ["ip", "-n", netns, "-s", "link", "show", dev], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    line = next(i for i, text in enumerate(out) if text.strip().startswith("TX:"))
    return int(out[line + 1].split()[0])


def test_30_mb_over_1_mbit_cut_midway_resumed_after_a_restart_arrives_intact(
    tmp_path: Path,
) -> None:
    key = tmp_path / "documents.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = HubProcess(url, tmp_path)
    hub.start("--host", "0.0.0.0", env={**os.environ, "PVP_HUB_DOCUMENTS_KEY_FILE": str(key)})
    engine = make_engine(url, pool_size=2)
    senders: list[subprocess.Popen[bytes]] = []
    try:
        with shaped_link() as (netns, dev, hub_ip, _site_ip):
            region = Region(f"r{uuid.uuid4().hex[:12]}", engine)
            directory.create_region(engine, region.slug, "Region")
            directory.save_partners(
                engine,
                region.slug,
                directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}]),
            )
            site = region.site()
            folder = tmp_path / "site"
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
            assert abs(len(data) - SIZE) < 100
            trace = log.updated(scanned(log, visit.id, data), consent=True)
            upload = log.send_to_agent(trace, data)
            sha = hashlib.sha256(data).hexdigest()

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
            assert 0 < cut_at < len(data)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            row = hub_uploads.get(desk.store, upload.id)
            assert row is not None and row.state == "waiting" and row.sent_bytes <= cut_at
            assert hub_uploads.spooled(desk.store, upload.id) == data  # survives the restart

            ip("-n", netns, "link", "set", dev, "up")
            second = start_sender(2)
            wait_for(
                lambda: hub_uploads.get(desk.store, upload.id).state == "sent",  # type: ignore[union-attr]
                600, "the whole document on the hub", poll=2,
            )  # fmt: skip
            second.send_signal(signal.SIGTERM)
            second.wait(20)

            # Resumed where the hub's copy ended, not from 0.
            said = (folder / "pvp-2.log").read_text()
            holds = [int(n) for n in re.findall(r"the hub holds (\d+) of", said)]
            assert holds and holds[0] == cut_at, said[-2000:]
            sent_up = tx_bytes(netns, dev)
            assert sent_up < len(data) + cut_at  # a restart from 0 would have sent more

            with httpx.Client(base_url=hub.url, timeout=30) as client:
                state = client.get(f"/api/v1/site/documents/{upload.id}", headers=site.auth).json()
            assert (state["state"], state["sha256"], state["size"]) == ("ready", sha, len(data))
            with signed_in(hub.url, agent(region, "caf", [site.slug])) as browser:
                shown = browser.get(f"/agent/documents/{upload.id}")
            assert hashlib.sha256(shown.content).hexdigest() == sha  # intact, end to end
            assert hub_uploads.spooled(desk.store, upload.id) is None
            print(
                f"\n30 MB over 1 Mbit/s: cut at {cut_at} bytes, {sent_up} bytes sent "
                f"upstream in all ({sent_up / len(data):.3f} x the document)"
            )
    finally:
        for proc in senders:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        hub.stop()
        engine.dispose()
