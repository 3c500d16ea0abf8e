"""The "Borne" view: what the kiosk's screen shows the visitor, seen from the desk.

`k` on the queue opens it. It asks the kiosk's bridge for a small picture of its screen
(`kiosk.screenshot`, about 20 KB) and draws it like the documents' thumbnails
(documents/thumbs.py: textual-image where the terminal shows images, half blocks over
plain SSH, a text box without colours). `r` takes a new picture; `l` loads the kiosk's
page again and `ctrl+b` restarts its browser (after a confirmation), for a visitor who is
stuck. During a call the bridge shows nothing unless the site allows it (`[screen]
screenshot_during_call`): the view then says that the visitor and the adviser are talking.
Nothing is written to disk: the picture lives in memory while the view is open.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Static

from ...core.i18n import N_, _
from ...core.kiosks import NO_KIOSK, BridgeError, KioskLink, bridge_message
from .. import actions
from .dialogs import ConfirmDialog
from .documents.thumbs import (
    DrawnWidget,
    current_mode,
    decode,
    graphics_widget,
    halfblock_lines,
)

if TYPE_CHECKING:
    from PIL import Image
    from textual.app import App

    from ..services import Services

log = logging.getLogger("pvp.ui.kiosk")

SCREENSHOT_WIDTH = 480  # the bridge's default: ~20 KB, under a second over 1 Mbit/s
RESTART_SETTLE_S = 3.0  # the kiosk's browser starts again in about a second

# What the kiosk shows, in the staff's words (kiosk_bridge.screen's views).
VIEWS = {
    "idle": N_("welcome page"),
    "preparing": N_("preparing (ticket and camera check)"),
    "call": N_("the video call is opening"),
    "interrupted": N_("call interrupted: the visitor waits for you"),
    "after": N_("after the call (thanks, question, documents)"),
    "in_call": N_("video call"),
}


class KioskPicture(DrawnWidget):
    """The kiosk's screen as a picture, or a sentence when there is none to show."""

    DEFAULT_CSS = """
    KioskPicture {
        height: 1fr;
        border: round $panel-lighten-2;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="kiosk-picture")
        self.image: Image.Image | None = None
        self.message = _("Asking the kiosk for a picture of its screen…")
        self._lines: list[Strip] | None = None
        self._shown: Widget | None = None

    def show_image(self, image: Image.Image) -> None:
        self.image, self._lines = image, None
        widget = graphics_widget()
        if widget is not None:
            if self._shown is not None:
                self._shown.remove()
            self._shown = widget(image)
            self.mount(self._shown)
        self.refresh()

    def show_message(self, message: str) -> None:
        self.image, self.message, self._lines = None, message, None
        if self._shown is not None:
            self._shown.remove()
            self._shown = None
        self.refresh()

    def _draw(self, cols: int, rows: int) -> list[Strip]:
        if cols <= 0 or rows <= 0:
            return []
        if self.image is not None and graphics_widget() is not None:
            return [Strip.blank(cols) for _ in range(rows)]
        if (
            self.image is not None
            and current_mode() != "text"
            and self.app.console.color_system is not None
        ):
            return halfblock_lines(self.image, cols, rows)
        text = self.message
        if self.image is not None:
            w, h = self.image.size
            text = _("Picture of {w}×{h} pixels (this terminal shows no images)").format(w=w, h=h)
        lines = [Strip.blank(cols) for _ in range(rows)]
        words = _wrap(text, max(10, cols - 4))
        start = max(0, (rows - len(words)) // 2)
        for i, line in enumerate(words):
            if start + i < rows:
                lines[start + i] = Strip([Segment(line.center(cols)[:cols])], cols)
        return lines


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines


class KioskView(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,f5", "refresh_picture", N_("Refresh"), id="refresh_picture"),
        Binding("l", "reload_page", N_("Reload its page"), id="reload_page"),
        Binding("ctrl+b", "restart_browser", N_("Restart its browser"), id="restart_browser"),
        Binding("ctrl+k", "next_kiosk", N_("Next kiosk"), id="next_kiosk"),
        Binding("escape", "back", N_("Back"), id="back"),
    ]

    DEFAULT_CSS = """
    KioskView #kiosk-header { height: 1; padding: 0 1; background: $panel; }
    KioskView #kiosk-status { height: auto; padding: 0 1; }
    """

    def __init__(self, services: Services, link: KioskLink) -> None:
        super().__init__(id="kiosk-view")
        actions.localize(self)
        self.services = services
        self.link = link
        self.pictures = 0  # pictures received (tests wait on it)
        self.view: str | None = None  # what the kiosk showed in the last picture

    def compose(self) -> ComposeResult:
        yield Static("", id="kiosk-header", markup=False)
        yield KioskPicture()
        yield Static("", id="kiosk-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._header()
        self.refresh_picture()

    def _header(self) -> None:
        self.query_one("#kiosk-header", Static).update(
            _("{kiosk}: what the visitor sees").format(kiosk=self.link.kiosk.name)
        )

    def _status(self, text: str) -> None:
        self.query_one("#kiosk-status", Static).update(text)

    @work(exclusive=True, group="kiosk-picture")
    async def refresh_picture(self) -> None:
        picture = self.query_one(KioskPicture)
        try:
            reply: dict[str, Any] = await self.link.request(
                "kiosk.screenshot", {"width": SCREENSHOT_WIDTH}, timeout=15
            )
            image = await asyncio.to_thread(decode, base64.b64decode(reply["data"]))
        except BridgeError as err:
            self.view = None
            picture.show_message(bridge_message(err))
            self._status("")
            return
        except (KeyError, ValueError, OSError):
            picture.show_message(_("The kiosk sent a picture that cannot be read. Try again (r)."))
            return
        self.pictures += 1
        self.view = str(reply.get("view") or "")
        picture.show_image(image)
        words = _(VIEWS[self.view]) if self.view in VIEWS else self.view
        desk = self.services.desk
        now = desk.clock().astimezone(desk.config.site.timezone).strftime("%H:%M:%S")
        self._status(
            _("The kiosk shows: {what} (picture of {time}; r: refresh)").format(
                what=words, time=now
            )
        )

    def action_refresh_picture(self) -> None:
        self.refresh_picture()

    @work(exclusive=True, group="kiosk-action")
    async def action_reload_page(self) -> None:
        try:
            await self.link.request("kiosk.reload", timeout=15)
        except BridgeError as err:
            self.notify(bridge_message(err), severity="warning", markup=False)
            return
        log.info("kiosk %s: page reloaded from the desk", self.link.kiosk.id)
        self.notify(_("The kiosk's page was loaded again."), markup=False)
        await asyncio.sleep(1.0)
        self.refresh_picture()

    def action_restart_browser(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._restart()

        self.app.push_screen(
            ConfirmDialog(
                _("Restart the kiosk's browser? Its screen goes blank for a second or two."),
                _("Restart"),
            ),
            callback=answered,
        )

    @work(exclusive=True, group="kiosk-action")
    async def _restart(self) -> None:
        try:
            await self.link.request("kiosk.restart_browser", timeout=15)
        except BridgeError as err:
            self.notify(bridge_message(err), severity="warning", markup=False)
            return
        log.info("kiosk %s: browser restarted from the desk", self.link.kiosk.id)
        self.notify(_("The kiosk's browser is starting again."), markup=False)
        self.query_one(KioskPicture).show_message(_("The kiosk's browser is starting again…"))
        await asyncio.sleep(RESTART_SETTLE_S)
        self.refresh_picture()

    def action_next_kiosk(self) -> None:
        links = list(self.services.kiosks)
        if len(links) < 2:
            self.notify(_("This site has one kiosk."), markup=False)
            return
        index = next(i for i, ln in enumerate(links) if ln is self.link)
        self.link = links[(index + 1) % len(links)]
        self._header()
        self.query_one(KioskPicture).show_message(
            _("Asking the kiosk for a picture of its screen…")
        )
        self.refresh_picture()

    def action_back(self) -> None:
        self.app.pop_screen()


def open_kiosk_view(app: App[Any], services: Services) -> None:
    """`k` from the queue: the first kiosk online (ctrl+k moves to the next)."""
    if not services.kiosks:
        app.notify(_(NO_KIOSK), severity="warning")
        return
    links = list(services.kiosks)
    link = next((ln for ln in links if ln.state.online), links[0])
    app.push_screen(KioskView(services, link))
