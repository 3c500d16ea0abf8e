"""The real things the bridge tests run: dbus + avahi (for ippeveprinter), cupsd,
ippeveprinter, SANE's test backend and pvp-bridge itself. Each is started in its own
temporary directory and stopped by its own PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.processes import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _start(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )


# -- SANE -----------------------------------------------------------------------------


def write_sane_config(root: Path) -> Path:
    """A SANE_CONFIG_DIR with only the test backend: 2 devices, test options, A4-ish area."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dll.conf").write_text("test\n")
    lines = []
    for line in Path("/etc/sane.d/test.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "enable-test-options":
            line = "enable-test-options true"
        elif key == "number_of_devices":
            line = "number_of_devices 2"
        elif key == "br_x":
            line = "br_x 200.0"
        elif key == "br_y":
            line = "br_y 200.0"
        lines.append(line)
    (root / "test.conf").write_text("\n".join(lines) + "\n")
    return root


# -- dbus + avahi (ippeveprinter refuses to start without DNS-SD) ------------------------

DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""
AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=no
"""


class DnsSd:
    """A private system bus and an avahi-daemon in its own mount namespace (its pid file
    lives in a private tmpfs, so it never meets the machine's own avahi)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.sock = root / "dbus.sock"
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.sock}"}
        self.dbus: subprocess.Popen[bytes] | None = None
        self.avahi: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.root / "dbus.conf").write_text(DBUS_CONF.format(sock=self.sock))
        (self.root / "avahi.conf").write_text(AVAHI_CONF)
        self.dbus = _start(
            ["dbus-daemon", f"--config-file={self.root / 'dbus.conf'}", "--nofork"],
            self.root / "dbus.log",
        )
        wait_for(self.sock.exists, 10, "dbus-daemon socket")
        script = (
            "mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && "
            f"exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {self.root}/avahi.conf"
        )
        self.avahi = _start(
            ["unshare", "-m", "sh", "-c", script],
            self.root / "avahi.log",
            env={**os.environ, **self.env},
        )
        log = self.root / "avahi.log"
        wait_for(lambda: b"Server startup complete" in log.read_bytes(), 10, "avahi-daemon")

    def stop(self) -> None:
        stop_process(self.avahi)
        stop_process(self.dbus)


# -- cupsd ------------------------------------------------------------------------------

CUPSD_CONF = """LogLevel warn
Listen {sock}
Listen 127.0.0.1:{port}
Browsing No
DefaultAuthType None
WebInterface No
JobRetryInterval 1
PreserveJobHistory Yes
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""
CUPS_FILES_CONF = """ServerRoot {root}
RequestRoot {root}/spool
TempDir {root}/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
FileDevice Yes
Sandboxing Relaxed
"""


class Cupsd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "cups.sock"
        self.port = free_port()
        self.env = {"CUPS_SERVER": str(self.sock)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        for sub in ("spool", "tmp", "cache", "state", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "tmp", 0o1777)  # filters run as lp
        (self.root / "cupsd.conf").write_text(CUPSD_CONF.format(sock=self.sock, port=self.port))
        (self.root / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
        self.proc = _start(
            [
                "cupsd",
                "-f",
                "-c",
                str(self.root / "cupsd.conf"),
                "-s",
                str(self.root / "cups-files.conf"),
            ],
            self.root / "cupsd.out",
        )
        wait_for(self.running, 15, "cupsd", poll=0.1)

    def running(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"cupsd exited: {(self.root / 'cupsd.out').read_text()}")
        r = subprocess.run(["lpstat", "-r"], env=self.cmd_env(), capture_output=True, text=True)
        return "is running" in r.stdout

    def cmd_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(self, *args: str) -> str:
        r = subprocess.run(list(args), env=self.cmd_env(), capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{' '.join(args)}: {r.stderr or r.stdout}")
        return r.stdout

    def stop(self) -> None:
        stop_process(self.proc)


# -- ippeveprinter ------------------------------------------------------------------------

IPPE_SCRIPT = """#!/bin/sh
# Print command of the simulated printer; what it does comes from the mode file.
mode=$(cat "{mode}" 2>/dev/null || echo ok)
case "$mode" in
  fail) sleep 3; echo "ERROR: simulated device failure" >&2; exit 1 ;;
  slow) sleep 4 ;;
  paperout)
    echo "STATE: +media-empty-error" >&2
    while [ "$(cat "{mode}")" = paperout ]; do sleep 0.1; done
    echo "STATE: -media-empty-error" >&2 ;;
esac
exit 0
"""


class Ippe:
    """ippeveprinter with a scripted print command (modes: ok, slow, paperout, fail)."""

    def __init__(self, root: Path, env: dict[str, str], name: str = "pvp-sim") -> None:
        self.root = root
        self.env = env
        self.name = name
        self.port = free_port()
        self.mode_file = root / "mode"
        self.script = root / "print.sh"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ipp://localhost:{self.port}/ipp/print"

    def set_mode(self, mode: str) -> None:
        tmp = self.mode_file.with_suffix(".tmp")
        tmp.write_text(mode)
        tmp.replace(self.mode_file)

    def start(self) -> None:
        (self.root / "spool").mkdir(parents=True, exist_ok=True)
        self.script.write_text(IPPE_SCRIPT.format(mode=self.mode_file))
        self.script.chmod(0o755)
        if not self.mode_file.exists():
            self.set_mode("ok")
        self.proc = _start(
            [
                "ippeveprinter",
                "-p",
                str(self.port),
                "-d",
                str(self.root / "spool"),
                "-c",
                str(self.script),
                "-f",
                "application/pdf,image/pwg-raster,image/png",
                self.name,
            ],
            self.root / "ippeveprinter.log",
            env={**os.environ, **self.env},
        )

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError((self.root / "ippeveprinter.log").read_text())
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://localhost:{self.port}/", timeout=1).close()
                return True
            return False

        wait_for(up, 10, "ippeveprinter")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        stop_process(self.proc)


# -- pvp-bridge -------------------------------------------------------------------------------


class BridgeProcess:
    """A real ``python -m kiosk_bridge`` process."""

    def __init__(
        self,
        root: Path,
        env: dict[str, str],
        *,
        config: str = "",
        token_file: Path | None = None,
        spool: Path | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.port = free_port()
        self.spool = spool or root / "spool"
        self.config = root / "bridge.toml"
        self.config.write_text(config)
        self.token_file = token_file or root / "token"
        self.log = root / "bridge.log"
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        if not self.token_file.exists():
            subprocess.run(
                [sys.executable, "-m", "kiosk_bridge", "token", "--out", str(self.token_file)],
                check=True,
                capture_output=True,
                cwd=REPO,
            )

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    @property
    def url(self) -> str:
        scheme = "wss" if self.tls else "ws"
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/v1"

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "kiosk_bridge",
            "--config",
            str(self.config),
            "--port",
            str(self.port),
            "--token-file",
            str(self.token_file),
            "--spool-dir",
            str(self.spool),
            "--log-level",
            "INFO",
        ]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = _start(args, self.log, env=env)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"pvp-bridge exited:\n{self.log.read_text()[-3000:]}")
            return b"pvp-bridge listening" in self.log.read_bytes()[offset:]

        wait_for(up, 20, "pvp-bridge", poll=0.05)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        stop_process(self.proc)


def cleanup_cups_pdf_output(since: float) -> None:
    """cups-pdf writes into ~/PDF of the job's user: remove what our jobs left there."""
    out = Path.home() / "PDF"
    if not out.is_dir():
        return
    for path in out.glob("pvp-doc_*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime >= since - 1:
                path.unlink()


def make_cert(root: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for localhost: (ca, cert, key)."""
    root.mkdir(parents=True, exist_ok=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=root)

    ssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=pvp test CA",
    )  # fmt: skip
    ssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost",
    )  # fmt: skip
    (root / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip
    return root / "ca.pem", root / "server.pem", root / "server.key"


def have(*programs: str) -> bool:
    return all(shutil.which(p) for p in programs)
