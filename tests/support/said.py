"""What an app said to the staff: every message of its status lines, in order (the app's
`MessageBoard` keeps the log; pvp_tui/ui/widgets/status_line.py)."""

from __future__ import annotations

from typing import Any

from textual.app import App

from pvp_tui.ui.widgets.status_line import BOARDS, Said


def said(app: App[Any]) -> list[str]:
    """The texts said, oldest first."""
    return [s.text for s in said_in_full(app)]


def said_in_full(app: App[Any]) -> list[Said]:
    """Each message with its severity (an error stays on the status line until read)."""
    return list(BOARDS[app].said)
