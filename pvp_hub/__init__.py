"""pvp-hub: the regional service that sites sync with and partners' agents use.

Layers: `config` (TOML + env), `schema` and `database` (SQLAlchemy Core on SQLite or
PostgreSQL, Alembic migrations), `directory` (who is who), `sync` (push and pull, the hot
path), `api` (FastAPI under /api/v1), `cli` (`pvp-hub serve`, `pvp-hub admin ...`).
"""
