from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.sites import OPEN_SITE

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Pvp:
    """Runs the real `pvp` command line in a subprocess, on a test database and config."""

    db: Path
    config: Path
    env: dict[str, str]

    def __call__(self, *args: str, lang: str | None = None) -> Result:
        command = [sys.executable, "-m", "pvp_tui.cli", "--config", str(self.config)]
        command += ["--db", str(self.db), "--create-db"]
        if lang:
            command += ["--lang", lang]
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=60,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "pvp_tui.cli", "--config", str(self.config)]
        return subprocess.Popen(
            [*command, "--db", str(self.db), "--create-db", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=ROOT,
        )

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def counts(self) -> tuple[int, int, int]:
        visits, details, events = (
            int(str(self.rows(f"SELECT count(*) FROM {t}")[0][0]))
            for t in ("visits", "visitor_details", "events")
        )
        return visits, details, events


@pytest.fixture
def pvp(tmp_path: Path) -> Pvp:
    config = tmp_path / "site.toml"
    config.write_text(OPEN_SITE, "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
    env["PYTHONPATH"] = str(ROOT)
    return Pvp(db=tmp_path / "pvp.db", config=config, env=env)
