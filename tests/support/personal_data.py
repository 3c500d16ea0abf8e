"""Visitors whose personal data must be erased, and a search of the store's files for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.sites import OPEN_SITE

PARIS = ZoneInfo("Europe/Paris")
SUFFIXES = ("", "-wal", "-shm", "-journal")  # every file SQLite may keep beside the db


@dataclass(frozen=True)
class Visitor:
    name: str
    phone: str
    notes: tuple[str, ...]  # the note as written at check-in, then each overwrite

    def values(self) -> list[str]:
        return [self.name, self.name.split()[-1], self.phone, *self.notes]


# Notes overwritten by a longer text, then a shorter one; one visit transferred (its
# details copied to a second visit).
OLD_VISITORS = (
    Visitor(
        "Zéphirine Quillard",
        "06 48 27 19 53",
        (
            "logement Quillard",
            "rappeler Quillard pour le RSA avant le 12, pièces manquantes",
            "Quillard ok",
        ),
    ),
    Visitor("Anatole Brisebois", "07 81 66 30 02", ("pension de réversion Brisebois", "BRZ")),
    Visitor("Gwendal Kerhervé", "02 98 44 17 65", ("Kerhervé carte vitale",)),
)
KEPT = "Aujourdhui Présente"  # today's visitor: kept, and proof that the search finds text


def erased_values() -> list[str]:
    return [value for visitor in OLD_VISITORS for value in visitor.values()]


def write_old_visits(db: Path, days_ago: int = 3, *, secure_delete: bool = True) -> None:
    """OLD_VISITORS' visits, finished `days_ago` days ago, written by the core (as pvp
    did before it set secure_delete on an upstream SQLite build, if not `secure_delete`)."""
    then = datetime.now(PARIS).replace(hour=10, minute=0) - timedelta(days=days_ago)
    desk = FrontDesk(Store(db, create=True), parse_config(OPEN_SITE, "t"), clock=lambda: then)
    if not secure_delete:
        desk.store.conn.execute("PRAGMA secure_delete = 0")
    try:
        for n, visitor in enumerate(OLD_VISITORS):
            first, *later = visitor.notes
            visit = desk.check_in(CheckIn("caf", visitor.name, phone=visitor.phone, note=first))
            for note in later:
                desk.set_note(visit.ticket, note)
            if n == 2:
                visit = desk.transfer(visit.ticket, "cpam")
            desk.call(visit.ticket)
            desk.start(visit.ticket)
            desk.finish(visit.ticket, "resolved")
    finally:
        desk.store.close()


def check_in_today(db: Path, name: str = KEPT) -> None:
    desk = FrontDesk(Store(db, create=True), parse_config(OPEN_SITE, "t"))
    try:
        desk.check_in(CheckIn("caf", name, phone="06 00 00 00 01"))
    finally:
        desk.store.close()


def leftovers(db: Path, values: list[str]) -> dict[str, list[str]]:
    """Which of `values` each file of the store holds, byte for byte (UTF-8, as stored)."""
    found: dict[str, list[str]] = {}
    for suffix in SUFFIXES:
        path = Path(f"{db}{suffix}")
        data = path.read_bytes() if path.exists() else b""
        hits = [value for value in values if value.encode() in data]
        if hits:
            found[path.name] = hits
    return found
