"""A status line of the documents panel: its text, coloured by its level."""

from __future__ import annotations

from textual.widgets import Static

LEVELS = ("ok", "info", "warn", "error")


def say(widget: Static, text: str, level: str = "error") -> None:
    """Show `text` at `level` (ok, info, warn, error: the classes -ok... colour it)."""
    widget.update(text)
    for lv in LEVELS:
        widget.set_class(lv == level, f"-{lv}")
