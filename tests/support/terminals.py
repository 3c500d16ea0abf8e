"""Drive real terminals for the end-to-end tests: a private tmux server (its own socket,
killed by the test) and a private sshd (its own config, host key and authorized_keys in a
tmp dir, stopped by its PID)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port

PVP = str(Path(sys.executable).with_name("pvp"))
WAIT = 15.0  # generous: other suites share the two cores


def in_terminal(command: list[str], term: str = "xterm-256color", **env: str) -> list[str]:
    """`command` as run from a plain SSH terminal: this TERM, no COLORTERM (tmux sets
    TERM itself and passes its own environment on, so the pane's command decides)."""
    # COLUMNS/LINES inherited from the test runner would override the pane's real size
    unset = ["-u", "COLORTERM", "-u", "COLUMNS", "-u", "LINES"]
    return ["env", *unset, f"TERM={term}", *(f"{k}={v}" for k, v in env.items()), *command]


_TMUX_CONF = Path(__file__).with_name("tmux.conf")


class ScreenTimeout(AssertionError):
    pass


@dataclass
class Tmux:
    """One tmux server on a socket of its own; every pane is 80x24 unless told."""

    socket: str = field(default_factory=lambda: f"pvp-e2e-{uuid.uuid4().hex[:10]}")
    started: bool = False
    socket_path: str = ""

    def run(self, *args: str, check: bool = True) -> str:
        # -f: the server's options come from our file (never ~/.tmux.conf): a pane whose
        # program exits stays readable, and windows keep their size (no client attaches).
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(_TMUX_CONF), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def new_session(
        self, command: list[str], env: Mapping[str, str], *, width: int = 80, height: int = 24
    ) -> str:
        """Start the server with one window running `command`; returns its target."""
        args = ["new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height)]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        self.started = True
        pane = self.run(*args, "-P", "-F", "#{pane_id}", *command).strip()
        self.socket_path = self.run("display-message", "-p", "#{socket_path}").strip()
        return pane

    def new_window(self, command: list[str], env: Mapping[str, str]) -> str:
        args = ["new-window", "-d", "-t", "e2e", "-P", "-F", "#{pane_id}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        pane = self.run(*args, *command).strip()
        return pane

    def keys(self, pane: str, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", pane, key)

    def type(self, pane: str, text: str) -> None:
        self.run("send-keys", "-t", pane, "-l", text)

    def screen(self, pane: str) -> str:
        return self.run("capture-pane", "-p", "-t", pane)

    def counted(self, pane: str) -> KeyCount:
        """Send keys to `pane` through a counter (how many keys staff press for a task)."""
        return KeyCount(self, pane)

    def pane_pid(self, pane: str) -> int:
        return int(self.run("display-message", "-p", "-t", pane, "#{pane_pid}").strip())

    def wait_for(
        self,
        pane: str,
        predicate: Callable[[str], bool] | str,
        timeout: float = WAIT,
        what: str = "",
    ) -> str:
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(pane)
            if check(screen):
                return screen
            time.sleep(0.05)
        raise ScreenTimeout(f"waited {timeout}s for {what or predicate!r}; screen:\n{screen}")

    def kill(self) -> None:
        if self.started:
            self.run("kill-server", check=False)
            self.started = False
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


@dataclass
class KeyCount:
    """Keys sent to one pane, counted as staff press them: each key of `press` is one
    (F2, Tab, a letter, a digit); the text of `type` (a name, a time) is not counted."""

    term: Tmux
    pane: str
    pressed: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.pressed)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.term.run("send-keys", "-t", self.pane, key)
            self.pressed.append(key)

    def type(self, text: str) -> None:
        self.term.type(self.pane, text)


@contextlib.contextmanager
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        import pytest

        pytest.skip("tmux is not installed (scripts/bootstrap.sh installs it)")
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()


def wait_port(port: int, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Sshd:
    """A real sshd on 127.0.0.1 for this test session only."""

    port: int
    client_key: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]

    def ssh_command(self, remote: list[str]) -> list[str]:
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-t",
            "-p",
            str(self.port),
            "-i",
            str(self.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "LogLevel=ERROR",
            f"{os.environ.get('USER', 'root')}@127.0.0.1",
            *remote,
        ]


@contextlib.contextmanager
def sshd(directory: Path) -> Iterator[Sshd]:
    import pytest

    sshd_bin = Path("/usr/sbin/sshd")
    if not sshd_bin.exists() or shutil.which("ssh") is None:
        pytest.skip("openssh-server/openssh-client are not installed (scripts/bootstrap.sh)")
    if os.geteuid() != 0:
        pytest.skip("a private sshd on 127.0.0.1 needs root here (privilege separation)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    directory.mkdir(parents=True, exist_ok=True)
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    known_hosts = directory / "known_hosts"
    host_pub = host_key.with_suffix(".pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = directory / "sshd_config"
    config.write_text(
        f"""ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PidFile none
PrintMotd no
PrintLastLog no
AcceptEnv LANG
"""
    )
    log = (directory / "sshd.log").open("wb")
    process = subprocess.Popen(
        [str(sshd_bin), "-D", "-e", "-f", str(config), "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port)
        yield Sshd(port, client_key, known_hosts, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def db_rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return conn.execute(sql, params).fetchall()


def wait_db(db: Path, sql: str, expected: object, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        if db.exists():
            with contextlib.suppress(sqlite3.OperationalError):
                rows = db_rows(db, sql)
                if rows == expected:
                    return
        time.sleep(0.05)
    raise AssertionError(f"{sql}: {rows!r} != {expected!r}")
