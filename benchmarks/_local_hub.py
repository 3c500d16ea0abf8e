"""A real `pvp-hub serve` for the sync benchmarks: SQLite in the work folder, or a
PostgreSQL cluster started here; one region, one site (`slug`) and its token file."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_hub import directory  # noqa: E402
from pvp_hub.database import make_engine  # noqa: E402
from pvp_tui.core.config import Hub  # noqa: E402
from tests.support.hub_daemons import HubProcess, PostgresCluster  # noqa: E402


@dataclass
class LocalHub:
    process: HubProcess
    db_url: str
    hub: Hub  # the site's [hub]: url and token file

    def events(self) -> int:
        """How many events the hub holds (every site)."""
        from sqlalchemy import func, select

        from pvp_hub.schema import events

        engine = make_engine(self.db_url, pool_size=1)
        try:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0)
        finally:
            engine.dispose()


@contextlib.contextmanager
def local_hub(work: Path, engine: str, slug: str, *, nice: int = 0) -> Iterator[LocalHub]:
    """`nice`: the hub's processes' niceness (a hub far away does not share the site's
    CPU; on one small machine, a high niceness lets the site's process go first)."""
    cluster = None
    if engine == "postgresql":
        cluster = PostgresCluster()
        cluster.start()
        db_url = cluster.create_database("bench_sync")
    else:
        db_url = f"sqlite:///{work / 'hub.db'}"
    process = HubProcess(db_url, work)
    try:
        process.start()
        if nice and process.proc is not None:
            os.setpriority(os.PRIO_PROCESS, process.proc.pid, nice)
        db = make_engine(db_url, pool_size=2)
        directory.create_region(db, "bench", "Bench")
        directory.save_partners(
            db,
            "bench",
            directory.check_partners(
                [
                    {"id": "caf", "name": "CAF", "prefix": "C"},
                    {"id": "cpam", "name": "CPAM", "prefix": "A"},
                ]
            ),
        )
        directory.create_site(db, "bench", slug, "Bench site")
        _token_id, token = directory.issue_token(db, "bench", slug)
        db.dispose()
        (work / "hub.token").write_text(token)
        yield LocalHub(process, db_url, Hub(url=process.url, token_file=work / "hub.token"))
    finally:
        process.stop()
        if cluster is not None:
            cluster.stop()
