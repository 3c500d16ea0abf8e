"""`pvp doctor`'s hub check against a real `pvp-hub serve` (on SQLite: the check is the
site's, the hub's storage plays no role): all well; a bad token; another site's token; a
stopped hub; a name that does not resolve; TLS through a real https front (the fault proxy
with a certificate) trusted with its CA, refused without it or with another CA; a clock far
off. Each problem says what to do."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from pvp_tui.core.config import Hub as HubConfig
from pvp_tui.core.doctor import Finding
from pvp_tui.core.doctor_hub import check_hub
from tests.hub.regions import Hub, Region
from tests.hub.test_site_sync import make_site
from tests.support.bridge_daemons import make_cert
from tests.support.fault_proxy import fault_proxy
from tests.support.hub_daemons import HubProcess
from tests.support.processes import free_port

pytestmark = pytest.mark.engine("sqlite")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


def hub_config(tmp_path: Path, url: str, token: str, ca: Path | None = None) -> HubConfig:
    token_file = tmp_path / "hub.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o640)
    return HubConfig(url, token_file, ca)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_all_well_then_a_bad_token_then_another_sites(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = region.site()
    ok = only(check_hub(hub_config(tmp_path, hub.url, site.token), site.slug))
    assert ok.ok and f"token accepted for {site.slug}" in ok.message
    assert ok.check == "hub"
    bad = only(check_hub(hub_config(tmp_path, hub.url, "pvphub_" + "x" * 43), site.slug))
    assert not bad.ok and "401" in bad.message and "token issue" in bad.fix
    other = region.site()
    wrong = only(check_hub(hub_config(tmp_path, hub.url, other.token), site.slug))
    assert not wrong.ok and other.slug in wrong.message and "[site] id" in wrong.fix


def test_a_stopped_hub_and_a_name_that_does_not_resolve(tmp_path: Path, region: Region) -> None:
    site = region.site()
    down = only(check_hub(hub_config(tmp_path, f"http://127.0.0.1:{free_port()}", site.token),
                          site.slug))  # fmt: skip
    assert not down.ok and "does not answer" in down.message and "firewall" in down.fix
    nowhere = check_hub(hub_config(tmp_path, "https://no-such-hub.invalid", site.token), site.slug)
    assert not nowhere[-1].ok and "does not resolve" in nowhere[-1].message


def test_tls_trusted_with_its_ca_refused_without_or_with_another(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = region.site()
    ca, cert, key = make_cert(tmp_path / "tls")
    other_ca, _cert, _key = make_cert(tmp_path / "other")
    with fault_proxy(hub.url, tls=(cert, key)) as front:
        assert front.url.startswith("https://localhost:")
        good = only(check_hub(hub_config(tmp_path, front.url, site.token, ca), site.slug))
        assert good.ok, good
        none = only(check_hub(hub_config(tmp_path, front.url, site.token), site.slug))
        assert not none.ok and "not trusted" in none.message and "ca_file" in none.fix
        wrong = only(check_hub(hub_config(tmp_path, front.url, site.token, other_ca), site.slug))
        assert not wrong.ok and "not trusted" in wrong.message and str(other_ca) in wrong.fix
        # The sync worker trusts the same CA file (its exchange goes through).
        made = make_site(tmp_path, region, front.url)
        assert made.desk.config.hub is not None
        made.desk.config = dataclasses.replace(
            made.desk.config, hub=dataclasses.replace(made.desk.config.hub, ca_file=ca)
        )
        from pvp_tui.core.frontdesk import CheckIn

        made.desk.check_in(CheckIn(partner_id="caf", name="Visiteur"))
        assert made.worker().drain(timeout=10).events == 1


def test_a_clock_far_off_is_a_problem_with_its_fix(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = region.site()
    config = hub_config(tmp_path, hub.url, site.token)
    ahead = only(check_hub(config, site.slug, clock=lambda: time.time() + 3 * 3600 + 305))
    assert not ahead.ok and ahead.message == "this PC's clock is 3 h 05 min ahead of the hub's."
    assert "timedatectl set-ntp true" in ahead.fix
    behind = only(check_hub(config, site.slug, clock=lambda: time.time() - 90))
    assert not behind.ok and "1 min 30 s behind" in behind.message
    near = only(check_hub(config, site.slug, clock=lambda: time.time() + 20))
    assert near.ok


def test_pvp_doctor_checks_the_configured_hub_in_french(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    site = make_site(tmp_path, region, own.url)
    (site.dir / "hub.token").chmod(0o640)
    env = {k: v for k, v in site.env().items() if k != "PVP_LANG"}
    import subprocess
    import sys

    def doctor(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "pvp_tui.cli", "doctor", "--skip-kiosks", *args],
            cwd=site.dir, env=env, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        return [f for f in json.loads(out) if f["check"] == "hub"]

    try:
        [good] = doctor("--json")
        assert good["ok"] and "jeton accepté" in str(good["message"])
    finally:
        own.stop()
    [down] = doctor("--json")
    assert not down["ok"] and "ne répond pas" in str(down["message"])
    assert doctor("--json", "--skip-hub") == []


def test_every_address_of_the_name_is_tried(
    tmp_path: Path, region: Region, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name may resolve to an address where nothing listens before the hub's (on
    Debian, "localhost" is ::1 then 127.0.0.1, and the hub listens on 127.0.0.1): the
    check goes on to the next address, as any client does."""
    import socket

    from pvp_tui.core import doctor_hub

    site = region.site()
    port = int(hub.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    dead = free_port()  # nothing listens there

    def first_a_dead_end(host: str, wanted: int, *args: object, **kwargs: object) -> list:
        found = real("127.0.0.1", wanted, *args, **kwargs)  # type: ignore[arg-type]
        nowhere = real("127.0.0.1", dead, *args, **kwargs)  # type: ignore[arg-type]
        return [*nowhere, *found]

    monkeypatch.setattr(doctor_hub.socket, "getaddrinfo", first_a_dead_end)
    url = f"http://localhost:{port}"
    finding = only(check_hub(hub_config(tmp_path, url, site.token), site.slug))
    assert finding.ok, finding
