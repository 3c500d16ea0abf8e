"""`pvp purge` says whether erased data is gone from every file of the store; when
another process kept an old read open, the next start finishes the erasure. Real `pvp`
processes, a real second process keeping the store open, the files searched byte for
byte (tests/e2e/test_erasure.py: with the real app in tmux)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from pvp_tui.core.store import ERASE_WAIT_SECONDS
from tests.support.personal_data import (
    KEPT,
    check_in_today,
    erased_values,
    leftovers,
    write_old_visits,
)

from .conftest import ROOT, Pvp


@contextmanager
def _worker(pvp: Pvp, name: str, ready: str) -> Iterator[subprocess.Popen[str]]:
    """A process of tests/support/workers.py on the store, until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", name, str(pvp.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=pvp.env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == ready
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_an_old_read_delays_the_erasure_and_the_next_start_finishes_it(pvp: Pvp) -> None:
    write_old_visits(pvp.db)
    check_in_today(pvp.db)
    with _worker(pvp, "watch", "watching"):  # the front desk's app, open all day
        with _worker(pvp, "read", "reading"):  # e.g. a long report, still reading
            result = pvp("purge", "--json")
            assert result.code == 1
            assert result.out.strip() == '{"erased": 4, "closed_overnight": 0, "complete": false}'
            assert "Le prochain démarrage de pvp" in result.err and "Quillard" not in result.err
            assert pvp.rows("SELECT name FROM visitor_details") == [(KEPT,)]
            # Honest: the tables are erased, but a copy is still in the files.
            assert leftovers(pvp.db, erased_values())
            assert len(pvp.rows("SELECT id FROM pending_erasure")) == 1
            # Another start meanwhile says so too, without waiting the purge's 5 s again.
            start = time.monotonic()
            result = pvp("queue")
            assert time.monotonic() - start < ERASE_WAIT_SECONDS - 1
            assert result.code == 0 and "Le prochain démarrage de pvp" in result.err
            assert leftovers(pvp.db, erased_values())
        # The read is over; the app still has the store open. The next start finishes.
        result = pvp("queue")
        assert (result.code, result.err) == (0, "")
        assert leftovers(pvp.db, erased_values()) == {}
        assert pvp.rows("SELECT id FROM pending_erasure") == []
        assert KEPT in str(leftovers(pvp.db, [KEPT]))


def test_a_store_written_without_secure_delete_is_cleaned_at_the_first_start(
    pvp: Pvp,
) -> None:
    # A store of a site whose pvp ran on upstream SQLite (secure_delete off) before this
    # version: an old purge left the names in the database file's free space.
    write_old_visits(pvp.db, secure_delete=False)
    with closing(sqlite3.connect(pvp.db, isolation_level=None)) as old:
        old.execute("PRAGMA secure_delete = 0")
        old.execute("DELETE FROM visitor_details")  # the old purge
        old.execute("DROP TABLE IF EXISTS pending_erasure")  # and the schema before this version
        old.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_pending_erasure'")
        old.execute("PRAGMA user_version = 0")  # that version recorded no schema version
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert "pvp.db" in leftovers(pvp.db, erased_values())
    check_in_today(pvp.db)

    with _worker(pvp, "watch", "watching"):  # the upgraded app, open
        result = pvp("queue")
        assert (result.code, result.err) == (0, "")
        assert leftovers(pvp.db, erased_values()) == {}
        assert pvp.rows("SELECT id FROM pending_erasure") == []
        assert KEPT in str(leftovers(pvp.db, [KEPT]))
