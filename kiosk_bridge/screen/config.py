"""The `[screen]` section of the bridge config: the kiosk's own pages.

Example (every key optional)::

    [screen]
    enabled = true                  # show the kiosk's pages full screen all day
    site_name = "Maison France Services de Leyme"
    logo = ""                       # a PNG/SVG/JPEG file on the kiosk (shown on every page)
    language = "fr"                 # or "en"
    satisfaction = true             # the three-face question after a call
    after_call_seconds = 30         # "Merci" page, then back to idle
    preparing_minutes = 15          # inactivity guard: preparing page with no call -> idle
    screenshot_max_width = 1280     # upper bound of kiosk.screenshot's width
    screenshot_during_call = false  # kiosk.screenshot while a call runs (the visitor's face)
    wipe_at_idle = true             # back to idle: cancel the visit's print jobs still queued,
                                    # delete the documents scanned or received during it

    [screen.partner_names]          # "Votre conseiller CAF va vous rejoindre"
    caf = "CAF"
    cpam = "Assurance Maladie"

The browser itself (binary, headless, kiosk, fake media, flags, profile folder) is the
one `[session]` configures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pvp_common import checks
from pvp_common.checks import Checker, ConfigError

LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class ScreenConfig:
    enabled: bool = False
    site_name: str = ""
    logo: Path | None = None
    language: str = "fr"
    satisfaction: bool = True
    after_call_seconds: float = 30.0
    preparing_minutes: float = 15.0
    screenshot_max_width: int = 1280
    screenshot_during_call: bool = False
    wipe_at_idle: bool = True
    partner_names: tuple[tuple[str, str], ...] = ()

    def partner_name(self, partner: str | None) -> str | None:
        return dict(self.partner_names).get(partner or "")


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError("must be 'fr' or 'en'")
    return str(value)


def _logo(value: Any) -> Path | None:
    if not isinstance(value, str):
        raise ValueError("must be a path string")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ValueError("must be an absolute path (the logo file on the kiosk)")
    if path.suffix.lower() not in (".png", ".svg", ".jpg", ".jpeg", ".webp"):
        raise ValueError("must be a .png, .svg, .jpg or .webp file")
    return path


def _width(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 160 <= value <= 3840:
        raise ValueError("must be a whole number of pixels between 160 and 3840")
    return value


def _names(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(v, str) and v.strip() and len(v) <= 60 for v in value.values()
    ):
        raise ValueError('must be a table of partner id = "display name" (60 characters at most)')
    return tuple((str(k), v.strip()) for k, v in value.items())


def read(check: Checker, raw: Any, where: str = "screen") -> ScreenConfig:
    """The `[screen]` table read through `check`; a wrong value leaves its default."""
    table = check.table(raw, where)
    if table is None:
        return ScreenConfig()
    values = check.fields(
        table,
        f"{where}.",
        {
            "enabled": checks.flag,
            "site_name": checks.text,
            "logo": _logo,
            "language": _language,
            "satisfaction": checks.flag,
            "after_call_seconds": checks.positive_number,
            "preparing_minutes": checks.positive_number,
            "screenshot_max_width": _width,
            "screenshot_during_call": checks.flag,
            "wipe_at_idle": checks.flag,
            "partner_names": _names,
        },
    )
    return ScreenConfig(**values)


def parse(raw: Any) -> ScreenConfig:
    check = Checker()
    config = read(check, raw)
    if check.problems:
        raise ConfigError("", check.problems)
    return config
