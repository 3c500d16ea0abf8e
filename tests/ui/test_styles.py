"""The app's CSS: one file per screen or family of panels in styles/, shipped in the wheel."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pvp_tui.ui import styles

ROOT = Path(__file__).resolve().parents[2]


def test_every_stylesheet_named_by_the_code_is_in_styles_and_none_is_left_over() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "pvp_tui" / "ui").rglob("*.py"))
    named = set(styles.APP_STYLES) | set(re.findall(r'default_css\("([^"]+)"\)', source))
    on_disk = {p.name for p in (ROOT / "styles").glob("*.tcss")}
    assert named == on_disk
    assert styles.FOLDER == ROOT / "styles"
    assert [Path(p).name for p in styles.app_css_paths()] == list(styles.APP_STYLES)


def test_the_wheel_ships_styles_where_the_app_looks_for_them() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["styles"] == "pvp_tui/styles"
