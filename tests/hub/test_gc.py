"""The hub's garbage collector, tuned once its app is built: the objects made at start
frozen out of every collection, the young generation collected less often (its tail
latency under load came from the default collector's pauses: docs/hub.md)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from pvp_hub import api
from pvp_hub.config import HubConfig
from pvp_hub.database import make_engine, migrate


def test_the_hub_freezes_what_it_built_and_collects_the_young_less_often(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate(engine)
    before = gc.get_threshold()
    gc.unfreeze()
    try:
        app = api.create_app(HubConfig(database_url=url), engine)
        assert gc.get_freeze_count() == 0  # nothing yet: tuned when the app starts serving

        async def serving() -> tuple[int, int]:
            async with app.router.lifespan_context(app):  # what uvicorn runs at start
                return gc.get_threshold()[0], gc.get_freeze_count()

        young, frozen = asyncio.run(serving())
        assert young == api.GC_YOUNG_THRESHOLD
        assert frozen > 10_000  # the frameworks' objects, frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
