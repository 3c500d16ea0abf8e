"""The documents panel's page strip: the selected document's pages, or the scan's."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll

from ....core.i18n import N_, _
from ... import actions, format
from .scan import ScanController
from .thumbs import PageThumb


class PageStrip(HorizontalScroll, can_focus=True):
    """The selected document's pages; arrows pick a page, keys edit it (the screen's
    actions: they need the bridge)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "pick(-1)", show=False),
        Binding("right", "pick(1)", show=False),
        Binding("delete,d", "screen.delete_page", N_("Delete page"), id="delete_page"),
        Binding("r", "screen.rotate_page", N_("Rotate"), id="rotate_page", show=False),
        Binding(
            "left_square_bracket",
            "screen.move_page(-1)",
            N_("Move left"),
            id="move_left",
            show=False,
        ),
        Binding(
            "right_square_bracket",
            "screen.move_page(1)",
            N_("Move right"),
            id="move_right",
            show=False,
        ),
        Binding("n", "screen.rescan_page", N_("Rescan page"), id="rescan_page", show=False),
    ]

    selected: int = 1

    def __init__(self, scan: ScanController[Image.Image]) -> None:
        super().__init__(id="pages")
        self._scan = scan  # while it runs, no page is marked selected

    def on_mount(self) -> None:
        actions.localize(self)
        self.border_title = _("Pages")

    def on_resize(self) -> None:
        # The border's corners and the room Textual keeps around a subtitle.
        hints = _("← → page · [ ] move · r rotate · n rescan · Del delete")
        self.border_subtitle = format.hints(hints, self.size.width - 6)

    def action_pick(self, step: int) -> None:
        self.pick(self.selected + step)

    def show(self, images: list[Image.Image | None]) -> None:
        """Show these pages, reusing the thumbnails already there."""
        existing = list(self.query(PageThumb))
        for i, image in enumerate(images, start=1):
            if i <= len(existing):
                thumb = existing[i - 1]
                if thumb.image is not image or thumb.page != i:
                    thumb.set_page(i, image)
            else:
                self.mount(PageThumb(i, image, id=f"page-{i}"))
        for extra in existing[len(images) :]:
            extra.remove()
        self.selected = max(1, min(self.selected, len(images) or 1))
        for thumb in existing[: len(images)]:
            thumb.set_class(thumb.page == self.selected, "-selected")
        if len(images) > len(existing):
            self.call_after_refresh(self.mark_selected)
        self.border_title = _("Pages ({n})").format(n=len(images))

    def mark_selected(self) -> None:
        for thumb in self.query(PageThumb):
            thumb.set_class(thumb.page == self.selected and not self._scan.scanning, "-selected")

    def pick(self, page: int) -> None:
        count = len(self.query(PageThumb))
        if count:
            self.selected = max(1, min(page, count))
            self.mark_selected()
            selected = self.query(PageThumb)[self.selected - 1]
            self.scroll_to_widget(selected, animate=False)

    def pictures(self) -> int:
        """How many thumbnails show a picture."""
        return sum(1 for t in self.query(PageThumb) if t.image is not None)
