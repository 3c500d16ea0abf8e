"""The kiosk screen's rules without a browser: [screen] parsing, which view follows which
call state, the inactivity guard, peripheral trouble, one anonymous answer per visit.
(The page itself is tested in real Chromium in test_kiosk_screen.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kiosk_bridge.config import load
from kiosk_bridge.screen.config import ScreenConfig
from kiosk_bridge.screen.screen import KioskScreen
from kiosk_bridge.session.config import SessionConfig
from pvp_common.checks import ConfigError


class Emitted(list[tuple[str, dict[str, Any]]]):
    def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.append((name, data))

    def views(self) -> list[tuple[str, Any]]:
        return [(d["view"], d["reason"]) for n, d in self if n == "kiosk.screen"]


def make(**changes: Any) -> tuple[KioskScreen, Emitted]:
    emitted = Emitted()
    return KioskScreen(ScreenConfig(enabled=True, **changes), SessionConfig(), emitted), emitted


async def settle(screen: KioskScreen) -> None:
    while not screen._events.empty():
        name, data = screen._events.get_nowait()
        await screen._handle(name, data)


def test_screen_config_mistakes_are_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(
        '[screen]\nenabled = "yes"\nlanguage = "de"\nlogo = "logo.png"\n'
        "screenshot_max_width = 50\npartner_names = { caf = 3 }\n"
    )
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.problems == [
        "screen.enabled: must be true or false",
        "screen.language: must be 'fr' or 'en'",
        "screen.logo: must be an absolute path (the logo file on the kiosk)",
        "screen.screenshot_max_width: must be a whole number of pixels between 160 and 3840",
        'screen.partner_names: must be a table of partner id = "display name" '
        "(60 characters at most)",
    ]
    path.write_text('[screen]\nenabled = true\n[screen.partner_names]\ncaf = "CAF"\n')
    config = load(path)
    assert config.extra["screen"]["enabled"] is True


async def test_call_states_lead_the_views() -> None:
    screen, emitted = make()
    launching = {"state": "launching", "session": "s1", "display_name": "C-007", "partner": "caf"}
    for data in (launching, {"state": "in_call", "session": "s1"}):
        screen.on_event("session.state", data)
    await settle(screen)
    assert screen.view == "call" and screen.state()["ticket"] == "C-007"
    ended = {"state": "ended", "session": "s1", "reason": "far_end_left"}
    screen.on_event("session.state", ended)  # shown under the call's browser, still there
    screen.on_event("session.state", {"state": "idle", "session": "s1", "last": ended})
    await settle(screen)
    assert screen.view == "after" and screen.state()["satisfaction"]
    assert screen.state()["ticket"] == ""  # the thanks page shows no ticket

    # A call that failed before the agent came: "stay seated, the desk is coming".
    screen.on_event("session.state", {**launching, "session": "s2", "display_name": "C-008"})
    failed = {"state": "failed", "session": "s2", "reason": "browser_crashed"}
    screen.on_event("session.state", {"state": "idle", "session": "s2", "last": failed})
    await settle(screen)
    assert screen.view == "interrupted"
    # Ended by staff before the agent came (cancelled visit): straight back to idle.
    screen.on_event("session.state", {**launching, "session": "s3", "display_name": "C-009"})
    screen.on_event(
        "session.state", {"state": "ended", "session": "s3", "reason": "ended_by_staff"}
    )
    await settle(screen)
    assert screen.view == "idle" and screen.visit is None
    assert [v for v, _ in emitted.views()] == [
        "call",
        "after",
        "call",
        "interrupted",
        "call",
        "idle",
    ]


async def test_preparing_left_alone_returns_to_idle_and_tells_the_desk() -> None:
    screen, emitted = make(preparing_minutes=0.001)  # 60 ms
    await screen.prepare("C-007", "caf")
    for _ in range(100):
        if screen.view == "idle":
            break
        await asyncio.sleep(0.02)
    assert emitted.views() == [("preparing", None), ("idle", "inactivity")]


async def test_trouble_concerns_the_visitor_only_during_a_visit() -> None:
    screen, _ = make(language="en")
    paper_out = {"job": 3, "final": False, "printer_reasons": ["paper_low", "paper_out"]}
    screen.on_event("print.job", paper_out)
    await settle(screen)
    assert screen.trouble is None  # nobody at the kiosk: nothing to tell
    await screen.prepare("C-007", "caf")
    screen.on_event("print.job", paper_out)
    await settle(screen)
    assert screen.state()["trouble"] == "The printer is out of paper, the front desk is coming."
    screen.on_event("scan.done", {})  # a scan cannot clear the printer's trouble
    await settle(screen)
    assert screen.trouble == "paper_out"
    screen.on_event("print.job", {**paper_out, "final": True})
    await settle(screen)
    assert screen.trouble is None
    screen.on_event("scan.failed", {"error": {"code": "scanner_cover_open"}})
    await settle(screen)
    assert screen.trouble == "scanner_cover_open"
    screen.on_event("scan.failed", {"error": {"code": "internal_error"}})  # not the visitor's
    await settle(screen)
    assert screen.trouble == "scanner_cover_open"
    await screen.idle()
    assert screen.trouble is None and screen.state()["trouble"] is None


async def test_one_anonymous_answer_per_visit_never_for_another() -> None:
    screen, emitted = make()
    screen.on_event(
        "session.state",
        {"state": "launching", "session": "s1", "display_name": "C-007", "partner": "caf"},
    )
    screen.on_event(
        "session.state",
        {"state": "idle", "session": "s1", "last": {"state": "ended", "agent_joined_at": "t"}},
    )
    await settle(screen)
    screen._on_report({"answer": "good", "visit": "s0"})  # a page left from another visit
    screen._on_report({"answer": "meh", "visit": "s1"})
    screen._on_report({"answer": "ok", "visit": "s1"})
    screen._on_report({"answer": "bad", "visit": "s1"})
    answers = [d for n, d in emitted if n == "kiosk.satisfaction"]
    assert len(answers) == 1 and answers[0]["answer"] == "ok"
    assert set(answers[0]) == {"session", "display_name", "partner", "answer", "at"}
    assert screen.state()["answered"]


async def test_english_on_the_sites_choice_and_the_partners_name_from_config() -> None:
    screen, _ = make(language="en", partner_names=(("caf", "CAF"),), site_name="Leyme")
    state = screen.state()
    assert state["texts"]["idle_title"] == "Welcome" and state["language"] == "en"
    await screen.prepare("C-007", "caf")
    assert screen.state()["joining"] == "Your CAF adviser will join you."
    await screen.prepare("C-008", "cpam")  # no name for it: said without one
    assert screen.state()["joining"] == "Your adviser will join you."
    await screen.prepare("C-009", "cpam", "Assurance Maladie")  # the desk's name wins
    assert screen.state()["joining"] == "Your Assurance Maladie adviser will join you."
    french, _ = make()
    assert french.state()["texts"]["idle_desk"] == "Pour commencer, adressez-vous à l'accueil."
