"""The documents tests' site (benchmarks use it too): a site with one kiosk whose bridge a
test started, a front desk on a fixed Tuesday morning, and a visitor at the kiosk."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pvp_tui.core.config import Config, parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.bridge_daemons import BridgeProcess

PARIS_10AM = datetime.fromisoformat("2026-03-10T10:00:00+01:00")  # a Tuesday, CAF open
SITE = """
[site]
id = "leyme"
name = "Maison des services de Leyme"
timezone = "Europe/Paris"

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = {{ tue = ["08:00-18:00"] }}
document_types = ["identity_card", "payslip", "proof_of_address", "other"]

[[kiosks]]
id = "kiosk-1"
name = "Borne 1"
url = "{url}"
token_file = "{token}"
"""


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def site_config(bridge: BridgeProcess, **kiosk_extra: Any) -> Config:
    text = SITE.format(url=bridge.url, token=bridge.token_file)
    return parse_config(text, source="<test site>")


def make_desk(db: Path, config: Config, at: datetime = PARIS_10AM) -> FrontDesk:
    return FrontDesk(Store(db, create=True), config, Clock(at), actor="test")


def visitor_at_kiosk(desk: FrontDesk, name: str = "Mme Durand") -> str:
    visit = desk.check_in(CheckIn("caf", name))
    desk.call(visit.id)
    desk.start(visit.id)
    return visit.id
