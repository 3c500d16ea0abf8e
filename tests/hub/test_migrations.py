"""The migrations build exactly the schema the code declares, on both engines; times
keep their zone on SQLite too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, insert, inspect, select

from pvp_hub.database import MIGRATIONS, at_head, make_engine, migrate, script_heads
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


def test_a_database_at_the_head_is_left_alone_and_one_behind_is_brought_up(
    tmp_path: Path,
) -> None:
    """migrate() skips Alembic when `alembic_version` already names the folder's head,
    read from the migration files without Alembic: the same head as Alembic's own."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    assert script_heads() == heads
    (head,) = heads
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert not at_head(engine)  # no alembic_version yet
        migrate(engine)
        assert at_head(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "-1")  # one migration behind
            conn.commit()
            tables = set(inspect(conn).get_table_names())
        assert not at_head(engine)
        migrate(engine)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == (head,)
            assert set(inspect(conn).get_table_names()) > tables  # the last one's, back
        assert at_head(engine)
    finally:
        engine.dispose()


def test_the_heads_are_read_from_the_files_or_not_at_all(tmp_path: Path) -> None:
    def version(name: str, body: str) -> None:
        (tmp_path / name).write_text(f'"""A migration."""\n{body}\nbranch_labels = None\n')

    version("a.py", 'revision = "a"\ndown_revision = None')
    version("b.py", 'revision = "b"\ndown_revision = "a"')
    version("c.py", "revision = 'c'\ndown_revision = 'a'")
    assert script_heads(tmp_path) == {"b", "c"}  # two branches
    version("d.py", 'revision = "d"\ndown_revision = ("b", "c")')
    assert script_heads(tmp_path) == {"d"}  # merged
    version("e.py", 'revision = make_one()\ndown_revision = "d"')
    assert script_heads(tmp_path) is None  # not a literal: Alembic decides
