"""The app's Textual CSS: one file per screen or family of panels in styles/.

They are shipped inside the wheel (pvp_tui/styles) and read from the repository's root in a
checkout. The app loads its own (`APP_STYLES`, in that order); a screen whose rules are
its default CSS (scoped to it, below the app's) reads its file with `default_css`.
"""

from __future__ import annotations

from pathlib import Path, PurePath

APP_STYLES = ("base.tcss", "queue.tcss", "dialogs.tcss")


def _folder() -> Path:
    """styles/: inside the installed package, else at the repository's root."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "styles", here.parent / "styles"):
        if (candidate / APP_STYLES[0]).is_file():
            return candidate
    raise FileNotFoundError(f"{APP_STYLES[0]} not found in pvp_tui/styles or styles/")


FOLDER = _folder()


def app_css_paths() -> list[str | PurePath]:
    """The app's CSS_PATH: its stylesheets in cascade order."""
    return [FOLDER / name for name in APP_STYLES]


def default_css(name: str) -> str:
    """A screen's DEFAULT_CSS, kept in styles/ with the others."""
    return (FOLDER / name).read_text(encoding="utf-8")
