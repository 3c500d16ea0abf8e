"""Bytes per second `pvp` writes to its terminal while nothing changes, against htop's.

Over SSH on a rural link every byte a screen repaints costs: an idle queue screen should
write next to nothing. Each program runs in a pseudo-terminal this script owns (80x24,
TERM=xterm-256color, no COLORTERM: a plain SSH session); after start-up has settled, every
byte it writes during the idle window is counted. htop (default refresh) is the anchor,
measured the same way at the same time.

    uv run python benchmarks/bench_idle_bytes.py [--seconds 60] [--waiting 20]

Goal: pvp below 50 B/s, far below htop.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

GOAL_BYTES_PER_SECOND = 50.0
PVP = str(Path(sys.executable).with_name("pvp"))
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_WEEK = ", ".join(f'{d} = ["00:00-23:59"]' for d in DAYS)
SITE = f"""
[site]
id = "bench"
name = "Relais de mesure"
timezone = "Europe/Paris"

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = {{ {ALL_WEEK} }}

[[partners]]
id = "cpam"
name = "Assurance Maladie"
prefix = "A"
interview_minutes = 25
hours = {{ {ALL_WEEK} }}
"""


@dataclass
class Terminal:
    """One program in a pty of ours; `read()` drains what it wrote, counting bytes."""

    name: str
    argv: list[str]
    env: dict[str, str]
    pid: int = 0
    fd: int = -1
    total: int = 0
    marks: list[tuple[float, int]] = field(default_factory=list)

    def start(self, columns: int = 80, lines: int = 24) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the program
            os.execvpe(self.argv[0], self.argv, self.env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        os.kill(pid, signal.SIGWINCH)

    def read(self) -> int:
        got = 0
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return got
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the program exited
                return got
            if not chunk:
                return got
            got += len(chunk)
            self.total += len(chunk)
            self._answer_queries(chunk)

    def _answer_queries(self, chunk: bytes) -> None:
        # A real terminal answers a cursor-position request (ESC[6n); some programs wait.
        if b"\x1b[6n" in chunk:
            os.write(self.fd, b"\x1b[24;1R")

    def mark(self) -> None:
        self.marks.append((time.monotonic(), self.total))

    def stop(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                self.read()
                done, _status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            self.pid = 0
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def pump(terminals: list[Terminal], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([t.fd for t in terminals], [], [], min(left, 0.2))
        for t in terminals:
            t.read()


def settle(terminals: list[Terminal], watched: Terminal, quiet: float, limit: float) -> None:
    """Start-up is over when `watched` has written nothing for `quiet` seconds (htop never
    stops writing: it gets the same warm-up time)."""
    deadline = time.monotonic() + limit
    last = {t.name: (time.monotonic(), t.total) for t in terminals}
    while time.monotonic() < deadline:
        pump(terminals, 0.1)
        now = time.monotonic()
        settled = True
        for t in [watched]:
            since, total = last[t.name]
            if t.total != total:
                last[t.name] = (now, t.total)
                settled = False
            elif now - since < quiet:
                settled = False
        if settled:
            return


def terminal_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", LANG="C.UTF-8", **extra)
    return env


def fill_queue(env: dict[str, str], waiting: int) -> None:
    for i in range(waiting):
        partner = "caf" if i % 2 else "cpam"
        subprocess.run(
            [PVP, "--create-db", "checkin", "--partner", partner, "--name", f"Visiteur {i + 1}"],
            env=env,
            check=True,
            capture_output=True,
        )
    subprocess.run([PVP, "call"], env=env, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window (default 60)")
    parser.add_argument("--waiting", type=int, default=20, help="visitors in the queue")
    args = parser.parse_args()
    htop = shutil.which("htop")
    if htop is None:
        print("htop is not installed (scripts/bootstrap.sh installs it)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="pvp-idle-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(SITE)
        pvp_env = terminal_env({"PVP_CONFIG": str(config), "PVP_DB": str(Path(tmp) / "pvp.db")})
        fill_queue(pvp_env, args.waiting)
        htop_env = terminal_env({"HOME": tmp, "XDG_CONFIG_HOME": tmp})  # default htoprc

        terminals = [
            Terminal("pvp", [PVP], pvp_env),
            Terminal("htop", [htop], htop_env),
        ]
        try:
            for t in terminals:
                t.start()
            settle(terminals, terminals[0], quiet=3.0, limit=30.0)
            startup = {t.name: t.total for t in terminals}
            for t in terminals:
                t.mark()
            # the idle window, cut in 10 slices to show whether output comes in bursts
            slices = 10
            for _ in range(slices):
                pump(terminals, args.seconds / slices)
                for t in terminals:
                    t.mark()
        finally:
            for t in terminals:
                t.stop()

    print(f"idle output over {args.seconds:.0f} s, 80x24, TERM=xterm-256color, no COLORTERM")
    print(f"pvp: {args.waiting} waiting, 1 called; htop: default settings")
    rates: dict[str, float] = {}
    for t in terminals:
        (t0, b0), (t1, b1) = t.marks[0], t.marks[-1]
        rates[t.name] = (b1 - b0) / (t1 - t0)
        per_slice = [
            round((b - pb) / (tt - pt), 1)
            for (pt, pb), (tt, b) in zip(t.marks, t.marks[1:], strict=False)
        ]
        slice_rates = sorted(per_slice)
        median = slice_rates[len(slice_rates) // 2]
        print(
            f"  {t.name:5} start-up {startup[t.name]:7d} B; idle {b1 - b0:7d} B = "
            f"{rates[t.name]:8.1f} B/s (median of {len(per_slice)} slices {median} B/s)"
        )
    ratio = rates["pvp"] / rates["htop"] if rates["htop"] else float("inf")
    print(f"ratio pvp/htop: {ratio:.4f}")
    ok = rates["pvp"] < GOAL_BYTES_PER_SECOND and ratio < 0.1
    print(
        f"goal < {GOAL_BYTES_PER_SECOND:.0f} B/s and far below htop: {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
