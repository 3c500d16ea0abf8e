"""A database path that names no file is refused (a typo must not start a new, empty
queue); only --create-db, or the first start at the default location, creates one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, Pvp, Result


def _run(pvp: Pvp, *args: str, **env: str) -> Result:
    done = subprocess.run(
        [sys.executable, "-m", "pvp_tui.cli", "--config", str(pvp.config), *args],
        capture_output=True,
        text=True,
        env={**pvp.env, **env},
        cwd=ROOT,
        timeout=60,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_a_typo_in_the_directory_creates_nothing_and_says_so(pvp: Pvp, tmp_path: Path) -> None:
    typo = tmp_path / "sahred" / "pvp.db"
    result = _run(
        pvp, "--db", str(typo), "--lang", "en", "checkin", "--partner", "caf", "--name", "M"
    )
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert str(typo) in result.err and "--create-db" in result.err
    assert "does not exist" in result.err
    assert not typo.parent.exists()


def test_a_missing_file_in_an_existing_directory_is_refused_too(pvp: Pvp) -> None:
    result = _run(pvp, "--db", str(pvp.db), "queue")  # in French by default
    assert result.code == 2
    assert str(pvp.db) in result.err and "--create-db" in result.err
    assert not pvp.db.exists()
    from_env = _run(pvp, "queue", PVP_DB=str(pvp.db))
    assert from_env.code == 2 and not pvp.db.exists()


def test_create_db_creates_it_then_is_harmless(pvp: Pvp, tmp_path: Path) -> None:
    new = tmp_path / "site" / "pvp.db"
    created = _run(
        pvp, "--db", str(new), "--create-db", "checkin", "--partner", "caf", "--name", "M"
    )
    assert created.code == 0, created.err
    again = _run(pvp, "queue", "--json", "--db", str(new), "--create-db")
    assert again.code == 0 and '"ticket": "C-001"' in again.out
    assert _run(pvp, "queue", "--db", str(new)).code == 0  # it exists now: no option needed


def test_the_first_start_at_the_default_location_creates_it(pvp: Pvp, tmp_path: Path) -> None:
    data = tmp_path / "xdg-data"
    result = _run(pvp, "queue", "--json", XDG_DATA_HOME=str(data), HOME=str(tmp_path))
    assert result.code == 0, result.err
    assert (data / "pvp-relais" / "pvp.db").is_file()


def test_a_database_of_a_newer_pvp_is_refused_at_start(pvp: Pvp) -> None:
    assert pvp("checkin", "--partner", "caf", "--name", "M").code == 0
    conn = sqlite3.connect(pvp.db)
    conn.execute("PRAGMA user_version = 99")  # as a newer PVP Relais leaves it
    conn.commit()
    conn.close()
    before = pvp.counts()
    result = pvp("--lang", "en", "checkin", "--partner", "caf", "--name", "P")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "newer PVP Relais" in result.err and str(pvp.db) in result.err
    assert pvp.counts() == before
