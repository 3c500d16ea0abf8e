"""The state of the documents panel's scan, apart from any widget (tests need no Textual).

One scan at a time per panel: F6 (or the scan bar's buttons) starts it, the bridge's
`scan.page` events bring its pages, its reply is recorded as a document, and only then is
the scan over: until its document is recorded, F6 cannot start another one (the two would
race for the same pages) and the panel keeps showing the pages received.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

Page = TypeVar("Page")  # a page's thumbnail (a PIL image in the panel), None until it comes


class ScanState(Enum):
    IDLE = "idle"  # no scan yet in this panel
    SCANNING = "scanning"  # asked the bridge, no page yet
    PAGES = "pages received"  # pages arriving; still scanning
    RECORDED = "recorded"  # the reply's document is recorded: another scan may start
    FAILED = "failed"  # the scan stopped on an error (its kept pages, if any, recorded)


class ScanController(Generic[Page]):
    """What a scan is doing, what F6 may start, and when the scan is over."""

    def __init__(self) -> None:
        self.state = ScanState.IDLE
        self.live: list[Page | None] = []  # the pages of the scan in flight
        self.target: str | None = None  # the document the scan appends to (None: a new one)
        self.expected_pages = 1
        self.retry_doc: str | None = None  # a failed scan's kept document: F6 appends to it
        self._succeeded: bool | None = None  # what the bridge said of the scan in flight

    @property
    def scanning(self) -> bool:
        """From the start until its document is recorded (or could not be)."""
        return self.state in (ScanState.SCANNING, ScanState.PAGES)

    def f6_document(self) -> str | None:
        """The document F6 scans into: the kept one after a retryable failure, else a new one."""
        return self.retry_doc

    def start(self, append_to: str | None, expected_pages: int) -> bool:
        """Begin a scan; False (and nothing changes) while another one is not over."""
        if self.scanning:
            return False
        self.state = ScanState.SCANNING
        self.live = []
        self.target = append_to
        self.expected_pages = expected_pages
        self._succeeded = None
        return True

    def page(self, sheet: int | None, image: Page) -> int | None:
        """A page came (`scan.page`): its sheet number (the next one if unsaid), or None
        when no scan is in flight (a late event: ignored)."""
        if not self.scanning:
            return None
        sheet = len(self.live) + 1 if sheet is None else sheet
        while len(self.live) < sheet:
            self.live.append(None)
        self.live[sheet - 1] = image
        self.state = ScanState.PAGES
        return sheet

    def total(self, done: int, fraction: float) -> int:
        """The progress bar's total: the pages asked for, or more once the feeder goes on."""
        return max(self.expected_pages, done + (1 if fraction < 1 else 0))

    def failed(self, kept_doc: str | None, retryable: bool) -> None:
        """The bridge reported an error: F6 continues the kept document if it may retry."""
        self.retry_doc = kept_doc if retryable else None
        self._succeeded = False

    def succeeded(self) -> None:
        """The bridge replied with the document: F6 starts a new one next time."""
        self.retry_doc = None
        self._succeeded = True

    def recorded(self) -> None:
        """The reply has been dealt with (its document recorded, or recording it failed):
        the scan is over and another may start."""
        if self.scanning:
            self.state = ScanState.RECORDED if self._succeeded else ScanState.FAILED
