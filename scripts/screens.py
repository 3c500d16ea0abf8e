"""Regenerate the screen pictures of the French staff guide (docs/guide-fr.md).

The real app, headless, on a fixed morning (Tuesday 10 March 2026, 10:00 in Paris, the
demo site's partners, made-up visitors), exported as SVG by Textual at 80x24 — the size of
a plain SSH terminal. Run it after changing a screen, and commit docs/images/:

    uv run python scripts/screens.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: scripts/ is not a package

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input  # noqa: E402

from pvp_tui.core import i18n  # noqa: E402
from pvp_tui.ui.app import PvpApp  # noqa: E402
from tests.support.desk_morning import make_app  # noqa: E402
from tests.support.desk_morning import settle as settle_workers  # noqa: E402

SIZE = (80, 24)


async def settle(pilot: Pilot[object]) -> None:
    """The tests' settle (every worker done, the latest read shown), no blinking cursor."""
    await settle_workers(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def _queue(pilot: Pilot[object]) -> None:
    await settle(pilot)


async def _check_in(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)
    await pilot.press(*"Mme Garnier")
    await pilot.press("tab", "enter", "down", "down", "enter")  # Assurance Maladie
    await settle(pilot)


async def _outcome(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("tab")  # the kiosk list: the visitor in session
    await pilot.press("f8")
    await settle(pilot)


async def _visit_menu(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("enter")  # the first waiting visitor
    await settle(pilot)


async def _help(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("f1")
    await settle(pilot)


async def _palette(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*"abs")
    await settle(pilot)


async def _privacy(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await pilot.press("p")
    await settle(pilot)


async def _db_unreachable(pilot: Pilot[object]) -> None:
    await settle(pilot)
    app = pilot.app
    assert isinstance(app, PvpApp)
    app.update_badges(db_ok=False)  # what a failed read shows (see _worker_failed)
    await settle(pilot)


SCREENS: dict[str, tuple[str, Callable[[Pilot[object]], Awaitable[None]]]] = {
    "queue": ("La file d'attente", _queue),
    "check-in": ("Accueillir un visiteur (F2)", _check_in),
    "outcome": ("Terminer un entretien (F8)", _outcome),
    "visit-menu": ("Les actions sur un visiteur (Entrée)", _visit_menu),
    "help": ("L'aide (F1)", _help),
    "palette": ("Chercher une action (ctrl+p)", _palette),
    "privacy": ("Mode confidentiel (p)", _privacy),
    "db-unreachable": ("Base de données injoignable", _db_unreachable),
}


async def shoot(name: str, out: Path, work: Path) -> Path:
    title, steps = SCREENS[name]
    app = make_app(work / f"{name}.db")  # the snapshot tests' morning, at 10:00
    async with app.run_test(size=SIZE) as pilot:
        await steps(pilot)
        svg = app.export_screenshot(title=f"PVP Relais — {title}")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main_async(out: Path, names: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    i18n.set_language("fr")
    with tempfile.TemporaryDirectory(prefix="pvp-screens-") as tmp:
        return [await shoot(name, out, Path(tmp)) for name in names]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("names", nargs="*", choices=[*SCREENS, []], help="default: all")
    args = parser.parse_args()
    for path in asyncio.run(main_async(args.out, args.names or list(SCREENS))):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
