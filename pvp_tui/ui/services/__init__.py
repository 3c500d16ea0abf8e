"""What the app gives its screens: the services they use, never the app itself.

A screen receives a `Services` at construction (as Harlequin's components receive an
adapter) and talks back with typed messages (`ui/messages.py`, and the parts' own here),
which the app handles. The parts the app owns live beside it: `Documents` (documents.py)
and `Sessions` (sessions.py). No module of the UI but the app's entry point imports
`ui.app`; an import-linter contract keeps it so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from ...core.frontdesk import FrontDesk
    from ...core.kiosks import KioskLinks
    from ...core.models import Visit
    from ..messages import QueueState
    from .documents import Documents
    from .sessions import Sessions


# What an action did, from the visit after it (or a text formatted with its ticket).
Done: TypeAlias = "str | Callable[[Visit], str]"


class Services(Protocol):
    """The front desk, the kiosks and the parts built on them, as the screens use them."""

    @property
    def desk(self) -> FrontDesk: ...

    @property
    def kiosks(self) -> KioskLinks: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def privacy(self) -> bool:
        """Names hidden on screen (a public-facing screen)."""
        ...

    def perform(self, fn: Callable[[], Visit], done: Done) -> None:
        """Run one front-desk action in a worker; `done` gives what it did from the visit
        after it (or is a text formatted with its ticket). The app says it, follows the
        visit and shows the queue read after it."""
        ...

    def show_read_after(self, state: QueueState | None) -> None:
        """Show the queue read by the worker that just acted (None: read it again), at
        once: the frame that closes the check-in form shows the new row."""
        ...
