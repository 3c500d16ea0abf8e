"""The one rule for the store's document spools (bytes an agent sent, scans to send):
bytes belong to an open visit; those of a closed visit, or of a visit this store does
not have (the site makes its visits before the hub hears of them), go, and none are
stored for such a visit (`visit_open`)."""

from __future__ import annotations

from .store import Reader


def closed_sql(content: str, key: str, owner: str, open_statuses: tuple[str, ...]) -> str:
    """The `content` rows (their `key`) whose `owner` row's visit is closed or unknown."""
    marks = ", ".join("?" * len(open_statuses))
    return f"""SELECT c.{key} FROM {content} c
        JOIN {owner} o ON o.id = c.{key}
        LEFT JOIN visits v ON v.id = o.visit_id
        WHERE v.id IS NULL OR v.status NOT IN ({marks})"""


def has_closed(db: Reader, sql: str, open_statuses: tuple[str, ...]) -> bool:
    return db.execute(sql + " LIMIT 1", list(open_statuses)).fetchone() is not None


def visit_open(db: Reader, owner: str, owner_id: str, open_statuses: tuple[str, ...]) -> bool:
    """Whether the `owner` row `owner_id` belongs to a visit of this store that is open:
    only then may its bytes be stored."""
    marks = ", ".join("?" * len(open_statuses))
    sql = f"""SELECT 1 FROM {owner} o JOIN visits v ON v.id = o.visit_id
        WHERE o.id = ? AND v.status IN ({marks})"""
    return db.execute(sql, [owner_id, *open_statuses]).fetchone() is not None
