"""The change feed between pvp processes sharing one database.

`PRAGMA data_version` changes only when another connection commits, so a watcher thread
with its own connection reads it every half second (a few microseconds, no busy loop)
and calls back when it moved. A process's own writes are refreshed by the caller.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.5


class ChangeWatcher:
    def __init__(
        self, path: Path | str, on_change: Callable[[], None], interval: float = POLL_SECONDS
    ) -> None:
        self.path = str(path)
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self.error: BaseException | None = None  # the last failure, for diagnosis
        self._thread = threading.Thread(target=self._run, name="pvp-change-watcher", daemon=True)

    def start(self) -> ChangeWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        # mode=rw: never create the file (the Store creates it with group permissions).
        uri = Path(self.path).absolute().as_uri() + "?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            last = conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:
            self.error = exc
            return
        try:
            while not self._stop.wait(self.interval):
                try:
                    current = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    continue  # locked for a moment: the next tick will see the change
                if current != last:
                    last = current
                    try:
                        self.on_change()
                    except Exception as exc:  # a failing callback must not stop the feed
                        self.error = exc
        finally:
            conn.close()
