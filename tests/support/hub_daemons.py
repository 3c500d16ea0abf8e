"""What the hub's tests run for real: a PostgreSQL cluster from Debian's packages and
`pvp-hub serve` processes on loopback. Each is stopped by its own PID."""

from __future__ import annotations

import contextlib
import glob
import io
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from tests.support.processes import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
HUB = [sys.executable, "-m", "pvp_hub"]


def hub_main(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`pvp-hub ARGV` as its main() in this process, with its own stdin, stdout and
    stderr, answering as subprocess.run would: a process would pay Python's start-up and
    the hub's imports again (about 1.5 s each). The engines main() makes are disposed of
    before it returns: left open, their SQLite connections would lose their POSIX locks
    the moment this process closes any other descriptor on the database file (a
    read_bytes() in a test, say; SQLite documents the pitfall), and a later write on
    them could go where no other process reads."""
    from pvp_hub import database
    from pvp_hub.cli import main

    engines: list[Any] = []
    made = database.make_engine

    def make_engine(*args: Any, **kwargs: Any) -> Any:
        engine = made(*args, **kwargs)
        engines.append(engine)
        return engine

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.object(database, "make_engine", make_engine),
        mock.patch.object(sys, "stdin", io.StringIO(stdin or "")),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own exits
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            for engine in engines:
                engine.dispose()
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


class PostgresCluster:
    """A throw-away cluster: initdb and pg_ctl refuse root, so they run as the postgres
    user the package creates, in a temp dir that user owns (it cannot read /root)."""

    def __init__(self, settings: Path | None = None) -> None:
        """`settings`: a postgresql.conf file whose settings the cluster runs with (the
        benchmark's: deploy/postgresql/pvp-hub.conf, durable); by default a test's
        cluster, which need not survive a crash (fsync off)."""
        self.settings = settings
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="pvp-hub-pg-", dir="/tmp"))
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.port = free_port()

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            cwd=self.dir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale", "-N")  # fmt: skip
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        if self.settings is None:
            options += " -c fsync=off -c synchronous_commit=off -c max_connections=200"
        else:
            for line in self.settings.read_text().splitlines():
                name, _, value = line.split("#", 1)[0].partition("=")
                if name.strip():
                    options += f" -c {name.strip()}={value.strip()}"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"),
                  "-w", "start", "-o", options)  # fmt: skip

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str, scheme: str = "postgresql+psycopg") -> str:
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast",
                      "-w", "stop")  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


class HubProcess:
    """`pvp-hub serve` on a loopback port, with its log in a file."""

    def __init__(self, db_url: str, workdir: Path, port: int | None = None) -> None:
        self.db_url = db_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"hub-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str, env: dict[str, str] | None = None, wait: float = 30) -> None:
        """Start it and wait up to `wait` seconds for its health check."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    *HUB,
                    "serve",
                    *(["--db", self.db_url] if self.db_url else []),
                    "--port",
                    str(self.port),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        try:
            wait_for(self.healthy, wait, f"pvp-hub on port {self.port} ({self.log})", poll=0.1)
        except BaseException:
            self.stop()  # a hub too slow to start (a loaded machine) is not left running
            raise

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"pvp-hub exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
