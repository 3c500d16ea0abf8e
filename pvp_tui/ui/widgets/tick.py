"""A checkbox whose state reads without colour (an X or a blank), as over any SSH client.

Space ticks it; Enter is left to the form around it, as in a text field: in the check-in
form it saves (a tick never changes under Enter)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Checkbox


class Tick(Checkbox, inherit_bindings=False):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_button", "Toggle", show=False),
    ]

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button
