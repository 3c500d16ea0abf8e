"""Erased means gone from every file of the store, while other `pvp` keep it open: the
real app runs in tmux on the database (its change feed polling, its queue reads) when
`pvp purge`, or a second app's start, erases; then the db, -wal and -shm files are
searched byte for byte for every erased value. Also on an SQLite whose compile-time
default is `secure_delete = 0` (tests/support/upstream_sqlite.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import upstream_sqlite
from tests.support.personal_data import (
    KEPT,
    check_in_today,
    erased_values,
    leftovers,
    write_old_visits,
)
from tests.support.terminals import PVP, Tmux, in_terminal, tmux

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
BUILDS = ["debian", "upstream"]  # SQLite's compile-time secure_delete: 1, 0


def _pvp(build: str) -> list[str]:
    return [PVP] if build == "debian" else [sys.executable, "-m", "tests.support.upstream_sqlite"]


def _env(site: Site) -> dict[str, str]:
    return {**site.env(), "PYTHONPATH": str(ROOT)}


def _queue_shows(name: str) -> Callable[[str], bool]:
    return lambda screen: name in screen and "En attente (1)" in screen


def _started(term: Tmux, app: str, db: Path) -> None:
    """The app is up and its own start purge is done (it reads after it: a check-in made
    afterwards by another process shows only then), so it erases nothing written later."""
    term.wait_for(app, "En attente (0)", what="the app's empty queue")
    check_in_today(db)
    term.wait_for(app, _queue_shows(KEPT), what="the app showing today's check-in")


@pytest.mark.parametrize("build", BUILDS)
def test_pvp_purge_erases_from_every_file_while_the_app_has_it_open(
    site: Site, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if build == "upstream":
        monkeypatch.setattr(sqlite3, "connect", upstream_sqlite.connect)
    with tmux() as term:
        app = term.new_session(in_terminal(_pvp(build)), _env(site))
        _started(term, app, site.db)
        write_old_visits(site.db)  # written while the app runs, as during a day
        assert leftovers(site.db, erased_values())  # they are there to be erased

        done = subprocess.run(
            [*_pvp(build), "purge"],
            capture_output=True,
            text=True,
            env={**_env(site), "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, "")
        assert "4 visites" in done.stdout  # the transferred visitor had two visits

        assert leftovers(site.db, erased_values()) == {}
        assert Path(f"{site.db}-shm").exists()  # the app still has the store open
        assert KEPT in str(leftovers(site.db, [KEPT]))  # the search does find text
        term.wait_for(app, _queue_shows(KEPT), what="the app, still running")


@pytest.mark.parametrize("build", BUILDS)
def test_an_app_starting_erases_from_every_file_while_another_has_it_open(
    site: Site, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if build == "upstream":
        monkeypatch.setattr(sqlite3, "connect", upstream_sqlite.connect)
    with tmux() as term:
        desk = term.new_session(in_terminal(_pvp(build)), _env(site))
        _started(term, desk, site.db)
        write_old_visits(site.db)
        assert leftovers(site.db, erased_values())

        # A colleague's app starts: its start erases what is past retention.
        second = term.new_window(in_terminal(_pvp(build)), _env(site))
        term.wait_for(second, _queue_shows(KEPT), what="the second app")
        term.wait_for(
            desk,
            lambda _screen: not leftovers(site.db, erased_values()),
            what="no erased value left in the files",
        )
        assert Path(f"{site.db}-shm").exists()
        assert KEPT in str(leftovers(site.db, [KEPT]))
