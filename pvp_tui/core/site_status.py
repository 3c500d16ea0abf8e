"""The site's status for its hub (`PUT /api/v1/site/status`, docs/hub.md "Status"): today's
queue counts, each kiosk's health as machine codes, the app's version. No name, no free
text: nothing a person typed can travel this way.

The sync worker runs a `StatusSender` between two drains (pvp_tui.core.sync, `tasks`):
every STATUS_SECONDS, and at once when the status changed (a visitor checked in, a kiosk
went down), checked every POLL_SECONDS with one indexed count. Only the latest status
matters: a failed one is not retried, the next replaces it. A status the hub answers
marks the link online (the badge's "en ligne" on an idle site); one it does not answer
marks it offline, as a failed push does. The kiosks' health comes from the app, which
alone holds the bridge links: the app writes it to a `KioskBoard` from its loop, the
worker reads it from its thread. `pvp sync` alone sends no kiosk (it does not know them).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .clock import to_iso
from .config import Config

if TYPE_CHECKING:
    from .kiosks import KioskState
    from .store import Store
    from .sync import SyncWorker

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/site/status"
STATUS_SECONDS = 30.0  # a status at least this often (the region page: online within 60 s)
STATUS_TIMEOUT = 10.0  # seconds for the whole exchange; the events wait meanwhile
LIVE = ("waiting", "called", "in_session")


# ------------------------------------------------------------------------ the kiosks


def kiosk_health(state: KioskState) -> tuple[str, list[str]]:
    """(state, problem codes) of one kiosk from its bridge link, as the hub takes them:
    ok; degraded when a device has a problem the staff's badge shows (printing down, no
    scanner, the default printer out of paper, jammed, open, paused, offline...); down
    when the bridge does not answer (or refuses the token); unknown before its first
    answer. The default printer's reason codes all go up (`paper_low` leaves it ok);
    those that do not say paper or toner get `printer_` before them (`printer_offline`)."""
    from .kiosks import CONNECTING, ONLINE, PRINTER_TROUBLE_SHORT, REFUSED

    if state.link == CONNECTING:
        return "unknown", []
    if state.link == REFUSED:
        return "down", ["bridge_token_refused"]
    if state.link != ONLINE:
        return "down", ["bridge_unreachable"]
    problems: list[str] = []
    trouble = False
    if state.cups_down:
        problems.append("printing_down")
        trouble = True
    if not state.health.get("scanners", state.scanners):
        problems.append("scanner_missing")
        trouble = True
    default = {p["name"] for p in state.printers if p.get("default")}
    for name, reasons in state.printer_reasons().items():
        if default and name not in default:
            continue  # a spare queue: staff print on the default one
        for code in reasons:
            plain = code.startswith("printer") or "paper" in code or "toner" in code
            word = code if plain else f"printer_{code}"
            trouble = trouble or code in PRINTER_TROUBLE_SHORT
            if _is_code(word) and word not in problems:
                problems.append(word)
    return ("degraded" if trouble else "ok"), problems[:20]


def _is_code(word: str) -> bool:
    return (
        0 < len(word) <= 40
        and word[0].isascii()
        and word[0].islower()
        and all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in word)
    )


@dataclass(frozen=True)
class KioskSeen:
    state: str
    problems: tuple[str, ...]
    checked_at: datetime  # when the bridge last answered (or when first checked)


class KioskBoard:
    """Each kiosk's health, written by the app (its loop), read by the sync worker (its
    thread). Kiosks in the config's order."""

    def __init__(self, kiosk_ids: Iterable[str]) -> None:
        self._lock = threading.Lock()
        now = datetime.now(UTC)
        self._seen = {kid: KioskSeen("unknown", (), now) for kid in kiosk_ids}

    def set(self, kiosk_id: str, state: str, problems: Iterable[str]) -> None:
        with self._lock:
            before = self._seen.get(kiosk_id)
            now = datetime.now(UTC)
            # "down": keep when the bridge last answered; otherwise it answered now.
            checked = before.checked_at if (state == "down" and before is not None) else now
            self._seen[kiosk_id] = KioskSeen(state, tuple(problems), checked)

    def snapshot(self) -> list[tuple[str, KioskSeen]]:
        with self._lock:
            return list(self._seen.items())


# ------------------------------------------------------------------------ the status


def queue_counts(store: Store, site_id: str, day: str) -> dict[str, int]:
    """Today's visits waiting, called and in session (the `visits_day` index)."""
    rows = store.query(
        "SELECT status, count(*) AS n FROM visits WHERE site_id = ? AND day = ? "
        "AND status IN ('waiting', 'called', 'in_session') GROUP BY status",
        [site_id, day],
    )
    counts = dict.fromkeys(LIVE, 0)
    for row in rows:
        counts[row["status"]] = int(row["n"])
    return counts


def build_status(
    store: Store, config: Config, board: KioskBoard | None, now: datetime, version: str
) -> dict[str, Any]:
    """The status as the hub's `SiteStatus` takes it (checked_at last: see `StatusSender`)."""
    day = now.astimezone(config.site.timezone).date().isoformat()
    kiosks = [
        {
            "id": kid,
            "state": seen.state,
            "problems": list(seen.problems),
            "checked_at": to_iso(seen.checked_at),
        }
        for kid, seen in (board.snapshot() if board is not None else [])
    ]
    return {
        "app_version": version,
        "queue": queue_counts(store, config.site.id, day),
        "kiosks": kiosks,
        "checked_at": to_iso(now),
    }


class StatusSender:
    """A sync worker's task: send the status when it changed or every `every` seconds."""

    def __init__(
        self,
        config: Config,
        board: KioskBoard | None = None,
        *,
        every: float = STATUS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from .. import __version__

        self.config = config
        self.board = board
        self.every = every
        self.clock = clock
        self.version = __version__
        self.last: str | None = None  # what was last stored by the hub (without its time)
        self.last_at = float("-inf")
        self.sent = 0  # statuses the hub answered (tests read it)

    def __call__(self, worker: SyncWorker) -> None:
        now = datetime.now(UTC)
        status = build_status(worker.store, self.config, self.board, now, self.version)
        # What counts as a change: not the times (a kiosk's moves on each of its answers).
        same = json.dumps(
            [
                status["app_version"],
                status["queue"],
                [
                    {k: v for k, v in kiosk.items() if k != "checked_at"}
                    for kiosk in status["kiosks"]
                ],
            ],
            sort_keys=True,
        )
        if same == self.last and self.clock() - self.last_at < self.every:
            return
        self.last_at = self.clock()  # a failure also waits `every` before the next try
        self.last = None
        words = self._put(worker, status)
        if words is None:
            self.last = same
            self.sent += 1
            _reachable(worker.store)
        else:
            worker.outbox.failed(words)
        worker._changed()

    def _put(self, worker: SyncWorker, status: dict[str, Any]) -> str | None:
        """None when the hub stored it (or kept a later one); else why not, in words."""
        import httpx

        from .i18n import _

        try:
            token = worker._token()
        except Exception as exc:
            return str(getattr(exc, "words", exc))
        try:
            response = worker.client.put(
                STATUS_PATH,
                json=status,
                headers={"Authorization": f"Bearer {token}"},
                timeout=STATUS_TIMEOUT,
            )
        except httpx.TimeoutException:
            return _("The hub did not answer within {seconds} s.").format(
                seconds=f"{STATUS_TIMEOUT:g}"
            )
        except httpx.TransportError as exc:
            return _("Cannot reach the hub {url} ({error}).").format(
                url=worker.hub.url, error=str(exc) or type(exc).__name__
            )
        if response.is_success:
            return None
        if response.status_code == 401:
            return _(
                "The hub refused the site's token (401): it is missing, unknown or "
                "revoked. Ask the region for a new token file ({path})."
            ).format(path=worker.hub.token_file)
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            return _("The hub had a problem (HTTP {status}).").format(status=response.status_code)
        # A status the hub refuses (a bug, or a clock far ahead): logged, not an outage.
        log.warning("site status refused: HTTP %s %s", response.status_code, response.text[:300])
        _reachable(worker.store)
        return None


def _reachable(store: Store) -> None:
    """The hub answered: the link is up (the badge's "en ligne · synchro HH:MM")."""
    with store.transaction() as db:
        db.execute(
            "UPDATE sync_state SET failing_since = NULL, last_success_at = ? WHERE id = 1",
            [to_iso(datetime.now(UTC))],
        )
