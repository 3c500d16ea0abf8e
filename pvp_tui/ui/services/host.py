"""What the parts the app owns need of the app (a module of its own: the parts import
it, and the package's `Services` names the parts)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.message import Message
    from textual.notifications import SeverityLevel


class Host(Protocol):
    """What the parts the app owns (`Documents`, `Sessions`) need of it: tell it what
    changed, say something to the staff, run a task. The app is one; a test may pass
    another."""

    def post_message(self, message: Message) -> bool: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...

    def run_worker(
        self,
        work: Coroutine[Any, Any, None],
        *,
        group: str = "default",
        exit_on_error: bool = True,
    ) -> object: ...
