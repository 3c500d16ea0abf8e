"""[[partners]] room_url / room_domains: validated at load with the rules the bridge applies
(pvp_common.rooms, which kiosk_bridge.session.config uses too), one line per mistake naming
the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_bridge.session.config import PartnerRooms, RoomRefused, SessionConfig
from pvp_tui.core.config import ConfigError, parse_config, room_address

BASE = """
[site]
id = "leyme"
name = "Leyme"

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
{extra}
"""


ROOM = (
    'room_url = "https://webconf.numerique.gouv.fr/PvpLeyme-{ticket}"\n'
    'room_domains = ["webconf.numerique.gouv.fr", "*.visio.caf.fr"]'
)


def load(extra: str) -> object:
    return parse_config(BASE.format(extra=extra), source="site.toml")


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(extra)
    return err.value.problems


def test_a_room_with_its_domains_and_a_ticket_template() -> None:
    config = load(
        'room_url = "https://webconf.numerique.gouv.fr/PvpLeyme-{ticket}"\n'
        'room_domains = ["webconf.numerique.gouv.fr", "*.visio.caf.fr"]'
    )
    caf = config.partner("caf")  # type: ignore[attr-defined]
    assert caf.room_domains == ("webconf.numerique.gouv.fr", "*.visio.caf.fr")
    assert room_address(caf.room_url, "C-007", "leyme") == (
        "https://webconf.numerique.gouv.fr/PvpLeyme-C-007"
    )


def test_no_room_is_fine() -> None:
    caf = load("").partner("caf")  # type: ignore[attr-defined]
    assert caf.room_url is None and caf.room_domains == ()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('room_url = "https://visio.caf.fr/r"', "partners[0].room_domains: is required"),
        ('room_domains = ["visio.caf.fr"]', "partners[0].room_url: is required"),
        (
            'room_url = "https://visio.caf.fr/r"\nroom_domains = []',
            "partners[0].room_domains: must list at least one host",
        ),
        (
            'room_url = "http://visio.caf.fr/r"\nroom_domains = ["visio.caf.fr"]',
            "partners[0].room_url: https is required (http only for localhost)",
        ),
        (
            'room_url = "https://evil.example/r"\nroom_domains = ["visio.caf.fr"]',
            "partners[0].room_url: its host evil.example is not in room_domains",
        ),
        (
            'room_url = "https://visio.caf.fr/r"\nroom_domains = ["visio caf.fr"]',
            "partners[0].room_domains: visio caf.fr is not a host name",
        ),
        (
            'room_url = "https://visio.caf.fr/{name}"\nroom_domains = ["visio.caf.fr"]',
            "partners[0].room_url: only {ticket} and {site} may appear in braces",
        ),
        (
            'room_url = "https://user@visio.caf.fr/r"\nroom_domains = ["visio.caf.fr"]',
            "partners[0].room_url: user names in addresses are refused",
        ),
        ('room_url = 42\nroom_domains = ["visio.caf.fr"]', "partners[0].room_url: must be"),
    ],
)
def test_mistakes_name_the_key(extra: str, expected: str) -> None:
    found = problems(extra)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("url", "domains", "allowed"),
    [
        ("https://webconf.numerique.gouv.fr/x", ("webconf.numerique.gouv.fr",), True),
        ("https://a.visio.caf.fr/x", ("*.visio.caf.fr",), True),
        ("https://visio.caf.fr/x", ("*.visio.caf.fr",), False),  # subdomains only
        ("https://visio.caf.fr.evil.example/x", ("visio.caf.fr",), False),
        ("http://localhost:8000/x", ("localhost",), True),
        ("http://127.0.0.1:8000/x", ("127.0.0.1",), True),
        ("http://10.0.0.1/x", ("10.0.0.1",), False),  # http only for this machine
        # written otherwise than the browser loads it (case, root dot): refused by both
        ("https://WebConf.Numerique.Gouv.Fr./x", ("webconf.numerique.gouv.fr",), False),
    ],
)
def test_the_app_and_the_bridge_agree(url: str, domains: tuple[str, ...], allowed: bool) -> None:
    """What the site config accepts is what the bridge's [session.partners] accepts."""
    bridge = SessionConfig(partners=(PartnerRooms("caf", "C", domains, "none"),))
    try:
        bridge.check_request(url, "C-001", "caf")
        bridge_ok = True
    except RoomRefused:
        bridge_ok = False
    listed = "[" + ", ".join(f'"{d}"' for d in domains) + "]"
    try:
        load(f'room_url = "{url}"\nroom_domains = {listed}')
        app_ok = True
    except ConfigError:
        app_ok = False
    assert app_ok == bridge_ok == allowed


def test_the_site_config_judges_rooms_without_the_bridge_code() -> None:
    """The room rules are one module both sides import: reading a site's rooms loads none
    of the bridge's session code."""
    script = (
        "import sys\n"
        "from pvp_tui.core.config import parse_config\n"
        f"config = parse_config({BASE.format(extra=ROOM)!r}, source='site.toml')\n"
        "assert config.partners[0].room_url\n"
        "print(sorted(m for m in sys.modules if m.startswith('kiosk_bridge')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
