"""pvp-bridge on PVP_TEST_CLOCK: the spool's documents follow it (a soak's week of
kiosk days ends each day's documents at that clock's midnight); a value it cannot read
stops the bridge with one line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk_bridge import clock
from kiosk_bridge.cli import main as cli_main
from kiosk_bridge.spool import Spool
from pvp_common.testclock import parse, spec
from tests.support.bridge_client import small_pdf


def test_the_spool_s_documents_live_on_the_test_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evening = dt.datetime(2026, 12, 7, 18, 0).astimezone()  # the machine's zone, as expiry
    real = 1_000_000.0
    monkeypatch.setattr("pvp_common.testclock.time.time", lambda: real)
    monkeypatch.setattr(clock, "_test_clock", parse(spec(evening, 600, real)))
    sp = Spool(tmp_path / "spool")
    doc = sp.put_bytes(small_pdf())
    assert doc.created == evening.timestamp()
    midnight = (evening + dt.timedelta(days=1)).replace(hour=0)
    assert doc.expires == midnight.timestamp()
    real += 5 * 3600 / 600  # five clock hours: 23:00, still there
    assert sp.purge_expired() == [] and sp.get(doc.id).id == doc.id
    real += 3600 / 600  # past the clock's midnight: gone
    assert sp.purge_expired() == [doc.id]


def test_an_unreadable_test_clock_stops_the_bridge_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text("")
    monkeypatch.setenv("PVP_TEST_CLOCK", "2026-12-07T06:00:00+01:00@quick")
    code = cli_main(["--config", str(config), "--token-file", str(tmp_path / "token")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("pvp-bridge: PVP_TEST_CLOCK=")
    assert "SPEED 'quick' is not a number" in err and "unset it" in err
    assert clock.now() == pytest.approx(dt.datetime.now().timestamp(), abs=5)
