"""The migrations build exactly the schema the code declares, on both engines; times
keep their zone on SQLite too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, Table, insert, select

from pvp_hub.database import make_engine, migrate
from pvp_hub.schema import UTCDateTime, metadata
from tests.hub.regions import ENGINES, database_url


@pytest.mark.parametrize("kind", ENGINES)
def test_migrations_match_the_declared_schema(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(database_url(kind, tmp_path, request, f"migrations_{kind}"))
    try:
        migrate(engine)
        migrate(engine)  # a second start finds nothing to do
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_utc_datetime_keeps_the_zone_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    table = Table("t", MetaData(), Column("at", UTCDateTime))
    table.create(engine)
    paris = timezone(timedelta(hours=1))
    with engine.begin() as conn:
        conn.execute(insert(table).values(at=datetime(2026, 12, 5, 10, 30, tzinfo=paris)))
        back = conn.execute(select(table.c.at)).scalar_one()
    assert back == datetime(2026, 12, 5, 9, 30, tzinfo=UTC) and back.tzinfo is UTC
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table).values(at=datetime(2026, 12, 5, 10, 30)))
    engine.dispose()
