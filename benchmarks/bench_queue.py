"""The queue screen's goals, with 50,000 past visits and 300 waiting.

(a) start-up to the first frame showing the loaded queue: a real `pvp` process in a pty
    (80x24), timed until the waiting list's title with its count is drawn, against a bare
    Textual app showing a DataTable of the same 300 rows from the same database.
    Goals: ratio <= 1.5 and under 1 s. Also pvp's resident memory (goal < 150 MB).
(b) check-in (the form's save key) to the new row on screen, in-process with Textual's
    Pilot, against a bare app that saves the same check-in then rebuilds its whole table
    (as naive code does). Goal: ratio <= 0.6.
    The key event is posted to the app (as the driver does with a key from the terminal)
    and the clock stops when the first frame drawn with the new row in the table is
    handed to the terminal: the row in the table's data is not yet on screen (DataTable
    measures and renders its rows at the next frame, which is where a rebuild costs).
    `pilot.press` is not the clock: it returns only after two 20 ms windows in which the
    process used almost no CPU (Textual's wait_for_idle), so its time moves in 20 ms steps
    and counts everything the app does after the row (repaints, closing a dialog...). Its
    times are printed too, for information.

Usage: uv run python benchmarks/bench_queue.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from _history import populate
from textual import events
from textual.app import App, ComposeResult
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Select

from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.widgets.visit_table import VisitTable

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC)

BARE_APP = textwrap.dedent(
    """
    import sqlite3, sys
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self):
            yield DataTable()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns("No.", "Partner", "Name", "Waited", "Estimate", "Notes")
            conn = sqlite3.connect(sys.argv[1])
            rows = conn.execute(
                "SELECT v.ticket, v.partner_id, d.name, v.arrived_at FROM visits v"
                " LEFT JOIN visitor_details d ON d.visit_id = v.id"
                " WHERE v.status = 'waiting' ORDER BY v.arrived_at").fetchall()
            for ticket, partner, name, arrived in rows:
                table.add_row(ticket, partner, name, arrived[11:16], "~20 min", "")
            table.border_title = f"Waiting ({len(rows)})"
            table.styles.border = ("round", "white")

    Bare().run()
    """
)


def time_to_marker(cmd: list[str], env: dict[str, str], marker: bytes) -> tuple[float, int]:
    """Seconds from spawn until `marker` is drawn in an 80x24 pty, and the RSS then (kB)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        while marker not in seen:
            ready, _, _ = select.select([master], [], [], 20)
            if not ready:
                raise TimeoutError(f"{marker!r} never drawn by {cmd}")
            seen += os.read(master, 65536)
        elapsed = time.perf_counter() - started
        time.sleep(0.5)  # let it settle, then read its memory
        rss = 0
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        return elapsed, rss
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def bench_startup(db: Path, runs: int) -> None:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "TEXTUAL_ANIMATIONS": "none",
        "PVP_LANG": "en",
        "PVP_DB": str(db),
    }
    env.pop("PVP_CONFIG", None)
    bare = Path(tempfile.mkdtemp()) / "bare.py"
    atexit.register(shutil.rmtree, bare.parent, True)  # the scratch folder goes at the end
    bare.write_text(BARE_APP)
    pvp_cmd = [sys.executable, "-m", "pvp_tui.cli"]
    bare_cmd = [sys.executable, str(bare), str(db)]
    pvp_times, bare_times, rss = [], [], []
    for _ in range(runs):  # alternate, so both see the same machine load
        elapsed, kb = time_to_marker(pvp_cmd, env, b"Waiting (300)")
        pvp_times.append(elapsed)
        rss.append(kb)
        bare_times.append(time_to_marker(bare_cmd, env, b"Waiting (300)")[0])
    pvp_med, bare_med = statistics.median(pvp_times), statistics.median(bare_times)
    print(f"(a) start-up to the loaded queue, median of {runs}:")
    print(
        f"    pvp {pvp_med:.3f} s   bare DataTable app {bare_med:.3f} s   "
        f"ratio {pvp_med / bare_med:.2f} (goal <= 1.5, and pvp < 1 s)"
    )
    print(f"    pvp resident memory {statistics.median(rss) / 1024:.0f} MB (goal < 150 MB)")


class NaiveForm(ModalScreen[str]):
    """The same step as pvp's check-in form: a modal whose save key closes it."""

    BINDINGS: ClassVar = [("ctrl+s", "save", "Save")]

    def compose(self) -> ComposeResult:
        yield Input(id="name")

    def action_save(self) -> None:
        self.dismiss(self.query_one(Input).value)


class NaiveApp(App[None]):
    """Saves the check-in, then clears and rebuilds the whole table from the queue.
    With `modal`, the check-in goes through a form as in pvp (F2, then the save key)."""

    BINDINGS: ClassVar = [("ctrl+s", "save", "Save"), ("f2", "form", "Form")]

    def __init__(self, desk: FrontDesk, modal: bool = False) -> None:
        super().__init__()
        self.desk = desk
        self.modal = modal
        self.count = 0

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("No.", "Partner", "Name", "Waited", "Est.", "Notes")
        self.rebuild()

    def rebuild(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for entry in self.desk.queue():
            visit = entry.visit
            table.add_row(
                visit.ticket, visit.partner_id, visit.name or "", "0", "~20", "", key=visit.id
            )

    def action_save(self, name: str | None = None) -> None:
        self.count += 1
        self.desk.check_in(CheckIn("caf", name or f"Naive {self.count}"))
        self.rebuild()

    def action_form(self) -> None:
        self.push_screen(NaiveForm(), callback=self.action_save)


async def time_rows(
    app: App[object], table_of, press_save, runs: int
) -> tuple[list[float], list[float]]:
    """(key event to the row, pilot.press to the row): `runs` check-ins timed each way."""
    direct, pressed = [], []
    frames: list[tuple[float, int]] = []  # each frame handed to the terminal: when, rows
    watched: list[DataTable] = []  # the table, once it is loaded
    display = app._display

    def timed_display(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None and watched:
            frames.append((time.perf_counter(), len(watched[0].rows)))

    app._display = timed_display  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            await pilot.pause()
            if len(table_of(app).rows) >= 300:
                break
        watched.append(table_of(app))
        for index in range(2 * runs):
            await press_save(pilot, index)
            await pilot.pause()
            before = len(table_of(app).rows)
            frames.clear()
            started = time.perf_counter()
            if index % 2 == 0:
                key = events.Key("ctrl+s", None)
                key.set_sender(app)
                app.post_message(key)  # what the driver does with a key from the terminal
            else:
                await pilot.press("ctrl+s")
            while len(table_of(app).rows) == before:
                await asyncio.sleep(0.0005)
            if index % 2 == 0:  # the clock: the first frame drawn with the row in the table
                while not frames or frames[-1][1] == before:
                    await asyncio.sleep(0.0005)
                direct.append(next(t for t, rows in frames if rows > before) - started)
            else:
                pressed.append(time.perf_counter() - started)
            await pilot.pause()
            while len(app.screen_stack) > 1:
                await pilot.pause()
    return direct, pressed


def bench_check_in(db: Path, runs: int) -> None:
    config = load_config(None)
    work = Path(tempfile.mkdtemp())
    atexit.register(shutil.rmtree, work, True)  # the scratch folder goes at the end

    async def pvp_fill(pilot, index: int) -> None:
        await pilot.press("f2")
        while len(pilot.app.screen_stack) < 2:
            await pilot.pause()
        form = pilot.app.screen
        form.query_one("#name").value = f"Visitor {index}"
        form.query_one("#partner", Select).value = "caf"
        await pilot.pause()

    async def naive_fill(pilot, index: int) -> None:
        await pilot.pause()

    async def naive_form_fill(pilot, index: int) -> None:
        await pilot.press("f2")
        while len(pilot.app.screen_stack) < 2:
            await pilot.pause()
        pilot.app.screen.query_one(Input).value = f"Visitor {index}"
        await pilot.pause()

    pvp_times, naive_times, naive_form_times = [], [], []
    pvp_pressed, naive_pressed, form_pressed = [], [], []
    for copy in range(runs):
        pvp_db = work / f"pvp{copy}.db"
        naive_db = work / f"naive{copy}.db"
        form_db = work / f"form{copy}.db"
        for target in (pvp_db, naive_db, form_db):
            shutil.copy(db, target)
        pvp = PvpApp(
            FrontDesk(Store(pvp_db, create=True), config), watch_changes=False, tick_seconds=None
        )
        direct, pressed = asyncio.run(
            time_rows(pvp, lambda a: a.queue_screen.query_one("#waiting", VisitTable), pvp_fill, 3)
        )
        pvp_times += direct
        pvp_pressed += pressed
        naive = NaiveApp(FrontDesk(Store(naive_db, create=True), config))
        direct, pressed = asyncio.run(
            time_rows(naive, lambda a: a.query_one(DataTable), naive_fill, 3)
        )
        naive_times += direct
        naive_pressed += pressed
        naive_form = NaiveApp(FrontDesk(Store(form_db, create=True), config), modal=True)
        direct, pressed = asyncio.run(
            time_rows(
                naive_form, lambda a: a.screen_stack[0].query_one(DataTable), naive_form_fill, 3
            )
        )
        naive_form_times += direct
        form_pressed += pressed
    pvp_med, naive_med = statistics.median(pvp_times), statistics.median(naive_times)
    print(f"(b) check-in save key to the new row, median of {len(pvp_times)}:")
    print(
        f"    pvp {pvp_med * 1000:.1f} ms   naive rebuild {naive_med * 1000:.1f} ms   "
        f"ratio {pvp_med / naive_med:.2f} (goal <= 0.6)"
    )
    form_med = statistics.median(naive_form_times)
    print(
        f"    naive rebuild behind the same modal form step {form_med * 1000:.1f} ms   "
        f"ratio {pvp_med / form_med:.2f}"
    )
    pressed_meds = [statistics.median(t) * 1000 for t in (pvp_pressed, naive_pressed, form_pressed)]
    print(
        "    for information, timed by pilot.press (20 ms steps, waits until idle): "
        "pvp {:.0f} ms, naive {:.0f} ms, naive behind the form {:.0f} ms".format(*pressed_meds)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        populate(db, load_config(None), NOW, past=50_000, waiting=300)
        print("database: 50,000 past visits, 300 waiting")
        bench_startup(db, args.runs)
        bench_check_in(db, args.runs)


if __name__ == "__main__":
    main()
