"""The `[session]` section of the bridge config, and the rules a session request must meet.

Example (every key optional; a partner needs `prefix` and `domains` to be usable)::

    [session]
    chromium = "chromium"           # binary (or full path)
    extra_flags = []                # added to the command line, e.g. ["--lang=fr"]
    headless = false                # true only for tests and benchmarks
    kiosk = true                    # full screen, no browser UI (ignored when headless)
    fake_media = false              # Chromium's fake camera and microphone (tests only)
    profile_dir = ""                # where throwaway profiles go (default: system temp)
    stats_interval = 2.0            # seconds between two getStats() polls

    [session.timeouts]              # seconds
    launch = 20                     # browser up and answering DevTools
    page = 30                       # room page loaded (unreachable pages are retried)
    agent = 900                     # page loaded -> agent's media arriving
    reconnect = 20                  # connection lost -> give up
    media = 5                       # camera/microphone error -> give up unless one works
    unresponsive = 15               # the page answers no stats poll -> give up
    lobby = 20                      # page loaded -> a lobby's name field there (visio-guest)

    [session.quality]               # a sample is degraded/poor when any value crosses
    rtt_warn_ms = 300               # its threshold (see docs/session.md)
    rtt_poor_ms = 500
    loss_warn_pct = 2.0
    loss_poor_pct = 5.0
    jitter_warn_ms = 30
    jitter_poor_ms = 50
    fps_warn = 15                   # received video frame rate below this
    fps_poor = 10
    bitrate_warn_kbps = 150         # kiosk's available outgoing bitrate below this
    bitrate_poor_kbps = 50
    raise_after = 3                 # bad samples in a row before the quality drops
    clear_after = 5                 # good samples in a row before it recovers

    [session.partners.caf]
    prefix = "C"                    # ticket prefix: C-007 belongs to this partner
    domains = ["webconf.numerique.gouv.fr", "*.visio.caf.fr"]
    display_name = "fragment:userInfo.displayName"   # how the ticket reaches the room
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk_bridge.session.quality import Thresholds
from pvp_common import checks
from pvp_common.checks import Checker, ConfigError
from pvp_common.rooms import RoomRefused, clean_domains, host_allowed, judge_room_url

TICKET_RE = re.compile(r"^([A-Z]{1,3})-(\d{3,4})$")
_PARTNER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_NAME_MODE_RE = re.compile(r"^(none|query:[A-Za-z0-9_.\-]+|fragment:[A-Za-z0-9_.\-]+)$")


class SessionConfigError(ConfigError, ValueError):
    """Mistakes in `[session]`: one line per mistake, naming the key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("", problems)


@dataclass(frozen=True)
class Timeouts:
    launch: float = 20.0
    page: float = 30.0
    agent: float = 900.0
    reconnect: float = 20.0
    media: float = 5.0
    unresponsive: float = 15.0
    lobby: float = 20.0


# How the kiosk joins the room: "link" (the URL says it all: Jitsi's fragment, a query
# parameter) or "visio-guest" (the state's Visio: the kiosk is a guest whose name no URL
# parameter sets; the bridge types the ticket in the lobby's name field and presses join).
ROOM_KINDS = ("link", "visio-guest")


@dataclass(frozen=True)
class PartnerRooms:
    id: str
    prefix: str
    domains: tuple[str, ...]
    display_name: str = "none"

    def allows(self, host: str) -> bool:
        return host_allowed(self.domains, host)


@dataclass(frozen=True)
class RoomRequest:
    """A checked request: the URL the browser opens, and what may be shown about it."""

    url: str
    host: str
    partner: str
    display_name: str
    room_kind: str = "link"


@dataclass(frozen=True)
class SessionConfig:
    chromium: str = "chromium"
    extra_flags: tuple[str, ...] = ()
    headless: bool = False
    kiosk: bool = True
    fake_media: bool = False
    profile_dir: Path | None = None
    stats_interval: float = 2.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    quality: Thresholds = field(default_factory=Thresholds)
    partners: tuple[PartnerRooms, ...] = ()

    def partner_for(self, display_name: str, partner: str | None = None) -> PartnerRooms:
        """The partner a ticket-number display name belongs to (RoomRefused otherwise):
        the rule shared by the call and the kiosk's preparing page."""
        match = TICKET_RE.fullmatch(display_name) if isinstance(display_name, str) else None
        if match is None:
            raise RoomRefused("invalid_display_name")
        prefix = match.group(1)
        if partner is not None:
            rooms = next((p for p in self.partners if p.id == partner), None)
            if rooms is None:
                raise RoomRefused("unknown_partner", partner=partner)
            if rooms.prefix != prefix:
                raise RoomRefused("ticket_partner_mismatch", ticket=display_name, partner=partner)
        else:
            rooms = next((p for p in self.partners if p.prefix == prefix), None)
            if rooms is None:
                raise RoomRefused("unknown_partner", partner=f"{prefix}-…")
        return rooms

    def check_request(
        self,
        room_url: str,
        display_name: str,
        partner: str | None = None,
        room_kind: str | None = None,
    ) -> RoomRequest:
        """Apply the rules: ticket-number display name, https room on an allowed domain."""
        kind = room_kind or "link"
        if kind not in ROOM_KINDS:
            raise RoomRefused("invalid_room_kind", kind=kind)
        rooms = self.partner_for(display_name, partner)
        url, host = judge_room_url(room_url)
        if not rooms.allows(host):
            raise RoomRefused("room_not_allowed", host=host, partner=rooms.id)
        if kind == "visio-guest":  # the name goes in the lobby's form, not the URL
            return RoomRequest(url, host, rooms.id, display_name, kind)
        return RoomRequest(
            url=_with_display_name(url, rooms.display_name, display_name),
            host=host,
            partner=rooms.id,
            display_name=display_name,
        )


def _with_display_name(url: str, mode: str, name: str) -> str:
    """Pass the ticket to the room the way its platform reads it (query or fragment)."""
    if mode == "none":
        return url
    kind, _, key = mode.partition(":")
    base, hash_, fragment = url.partition("#")
    if kind == "query":
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}{quote(key)}={quote(name)}{hash_}{fragment}"
    # Jitsi Meet reads JSON values from the fragment: #userInfo.displayName="C-007"
    value = quote(f'"{name}"')
    fragment = f"{fragment}&{key}={value}" if fragment else f"{key}={value}"
    return f"{base}#{fragment}"


# -- parsing -------------------------------------------------------------------------


def parse(raw: Any, where: str = "session") -> SessionConfig:
    """Build a SessionConfig from the `[session]` TOML table; SessionConfigError lists every
    mistake."""
    check = Checker()
    config = read(check, raw, where)
    if check.problems:
        raise SessionConfigError(check.problems)
    return config


def read(check: Checker, raw: Any, where: str = "session") -> SessionConfig:
    """The `[session]` table read through `check` (the bridge config's, which then reports
    its mistakes with the rest of the file's); a wrong value leaves its default."""
    table = check.table(raw, where)
    if table is None:
        return SessionConfig()
    before = len(check.problems)
    values = check.fields(
        table,
        f"{where}.",
        {
            "chromium": checks.text,
            "extra_flags": checks.texts,
            "headless": checks.flag,
            "kiosk": checks.flag,
            "fake_media": checks.flag,
            "profile_dir": _path,
            "stats_interval": checks.positive_number,
            "timeouts": lambda value: _numbers(check, Timeouts, value, f"{where}.timeouts"),
            "quality": lambda value: _numbers(check, Thresholds, value, f"{where}.quality"),
            "partners": lambda value: _partners(check, value, f"{where}.partners"),
        },
    )
    config = SessionConfig(**values)
    if len(check.problems) > before:
        return config  # the checks across keys need every key read well
    q = config.quality
    for name, warn, poor, higher_is_worse in (
        ("rtt", q.rtt_warn_ms, q.rtt_poor_ms, True),
        ("loss", q.loss_warn_pct, q.loss_poor_pct, True),
        ("jitter", q.jitter_warn_ms, q.jitter_poor_ms, True),
        ("fps", q.fps_warn, q.fps_poor, False),
        ("bitrate", q.bitrate_warn_kbps, q.bitrate_poor_kbps, False),
    ):
        if (warn > poor) if higher_is_worse else (warn < poor):
            check.add(f"{where}.quality", f"{name} warn and poor thresholds are swapped")
    prefixes = [p.prefix for p in config.partners]
    for prefix in sorted({p for p in prefixes if prefixes.count(p) > 1}):
        check.add(f"{where}.partners", f"prefix {prefix!r} is used by two partners")
    return config


def _path(value: Any) -> Path | None:
    if not isinstance(value, str):
        raise ValueError("must be a path string")
    return Path(value).expanduser() if value else None


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number >= 0")
    return float(value)


def _numbers(check: Checker, cls: Any, raw: Any, where: str) -> Any:
    table = check.table(raw, where)
    if table is None:
        return cls()
    kinds = {f.name: _whole if f.type in ("int", int) else _number for f in fields(cls)}
    return cls(**check.fields(table, f"{where}.", kinds))


def _partners(check: Checker, raw: Any, where: str) -> tuple[PartnerRooms, ...]:
    if not isinstance(raw, dict):
        check.add(where, f"must hold one [{where}.ID] table per partner")
        return ()
    partners = []
    for pid, table in raw.items():
        here = f"{where}.{pid}"
        if not _PARTNER_ID_RE.match(pid):
            check.add(here, "partner ids are lower-case letters, digits and dashes")
            continue
        if not isinstance(table, dict):
            check.add(here, "must be a table")
            continue
        check.unknown_keys(f"{here}.", table, ("prefix", "domains", "display_name"))
        prefix = table.get("prefix")
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z]{1,3}", prefix):
            check.add(f"{here}.prefix", "must be the ticket prefix, 1 to 3 capital letters")
            continue
        domains = table.get("domains", [])
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            check.add(f"{here}.domains", "must be a list of host names")
            continue
        try:
            clean = clean_domains(domains)
        except ValueError as exc:
            check.add(f"{here}.domains", str(exc))
            continue
        mode = table.get("display_name", "none")
        if not isinstance(mode, str) or not _NAME_MODE_RE.match(mode):
            check.add(f"{here}.display_name", "must be 'none', 'query:NAME' or 'fragment:KEY'")
            continue
        partners.append(PartnerRooms(pid, prefix, clean, mode))
    return tuple(partners)
