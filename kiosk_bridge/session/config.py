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

import ipaddress
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ada_url

from kiosk_bridge.session.quality import Thresholds

TICKET_RE = re.compile(r"^([A-Z]{1,3})-(\d{3,4})$")
_PARTNER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_DOMAIN_RE = re.compile(r"^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$")
_DNS_NAME_RE = re.compile(
    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_NAME_MODE_RE = re.compile(r"^(none|query:[A-Za-z0-9_.\-]+|fragment:[A-Za-z0-9_.\-]+)$")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_LENGTH = 2048


class SessionConfigError(ValueError):
    """Mistakes in `[session]`: one line per mistake, naming the key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class RoomRefused(Exception):
    """A session request breaks a rule; `code` is a stable error code, `params` fill its text."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code}: {params}")


@dataclass(frozen=True)
class Timeouts:
    launch: float = 20.0
    page: float = 30.0
    agent: float = 900.0
    reconnect: float = 20.0
    media: float = 5.0
    unresponsive: float = 15.0


@dataclass(frozen=True)
class PartnerRooms:
    id: str
    prefix: str
    domains: tuple[str, ...]
    display_name: str = "none"

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for domain in self.domains:
            if domain.startswith("*."):
                if host.endswith(domain[1:]) and len(host) > len(domain) - 1:
                    return True
            elif host == domain:
                return True
        return False


@dataclass(frozen=True)
class RoomRequest:
    """A checked request: the URL the browser opens, and what may be shown about it."""

    url: str
    host: str
    partner: str
    display_name: str


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

    def check_request(
        self, room_url: str, display_name: str, partner: str | None = None
    ) -> RoomRequest:
        """Apply the rules: ticket-number display name, https room on an allowed domain."""
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
        url, host = room_address(room_url)
        if not rooms.allows(host):
            raise RoomRefused("room_not_allowed", host=host, partner=rooms.id)
        return RoomRequest(
            url=_with_display_name(url, rooms.display_name, display_name),
            host=host,
            partner=rooms.id,
            display_name=display_name,
        )


def room_address(room_url: Any) -> tuple[str, str]:
    """(the URL the browser will load, its host) of a room URL, or RoomRefused.

    Read with ada (the WHATWG URL parser of Node.js), which is how the kiosk's browser reads
    it; then the host must be written plainly as the browser loads it: a lower-case DNS name
    or an IP literal, with no escapes, credentials, backslashes or control characters.
    """
    if not isinstance(room_url, str) or not room_url or len(room_url) > MAX_URL_LENGTH:
        raise RoomRefused("invalid_room_url", detail="empty or longer than 2048 characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in room_url):
        raise RoomRefused("invalid_room_url", detail="spaces, control characters or backslashes")
    scheme, sep, rest = room_url.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise RoomRefused("invalid_room_url", detail="it must start with https://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        raise RoomRefused("invalid_room_url", detail="user names in addresses are refused")
    try:
        parsed = ada_url.URL(room_url)
    except ValueError:
        raise RoomRefused("invalid_room_url", detail="not a valid address") from None
    if parsed.protocol != f"{scheme}:" or parsed.username or parsed.password:
        raise RoomRefused("invalid_room_url", detail="not a valid address")
    hostname = parsed.hostname
    default_port = {"https": "443", "http": "80"}[scheme]
    # The host as written must be the host the browser loads: no escapes, no IDN, no case.
    if authority not in (parsed.host, f"{hostname}:{default_port}"):
        raise RoomRefused(
            "invalid_room_url", detail="write the host name plainly, in lower case ASCII"
        )
    host = hostname.removeprefix("[").removesuffix("]")
    if not (_DNS_NAME_RE.fullmatch(host) or _is_ip(host)) or len(host) > 253:
        raise RoomRefused("invalid_room_url", detail="the host is not a plain host name")
    if scheme == "http" and not _is_local(host):
        raise RoomRefused("invalid_room_url", detail="https is required (http only for localhost)")
    return parsed.href, host


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    problems: list[str] = []
    if raw is None:
        return SessionConfig()
    if not isinstance(raw, dict):
        raise SessionConfigError([f"{where} must be a [section]"])
    values: dict[str, Any] = {}
    top = {
        "chromium": _str,
        "extra_flags": _str_list,
        "headless": _bool,
        "kiosk": _bool,
        "fake_media": _bool,
        "profile_dir": _path,
        "stats_interval": _positive,
    }
    for key, value in raw.items():
        if key in top:
            try:
                values[key] = top[key](value)
            except ValueError as exc:
                problems.append(f"{where}.{key} must be {exc}")
        elif key == "timeouts":
            values["timeouts"] = _numbers(Timeouts, value, f"{where}.timeouts", problems)
        elif key == "quality":
            values["quality"] = _numbers(Thresholds, value, f"{where}.quality", problems)
        elif key == "partners":
            values["partners"] = _partners(value, f"{where}.partners", problems)
        else:
            problems.append(f"{where}.{key} is not a known setting")
    if problems:
        raise SessionConfigError(problems)
    config = SessionConfig(**values)
    q = config.quality
    for name, warn, poor, higher_is_worse in (
        ("rtt", q.rtt_warn_ms, q.rtt_poor_ms, True),
        ("loss", q.loss_warn_pct, q.loss_poor_pct, True),
        ("jitter", q.jitter_warn_ms, q.jitter_poor_ms, True),
        ("fps", q.fps_warn, q.fps_poor, False),
        ("bitrate", q.bitrate_warn_kbps, q.bitrate_poor_kbps, False),
    ):
        if (warn > poor) if higher_is_worse else (warn < poor):
            problems.append(f"{where}.quality: {name} warn and poor thresholds are swapped")
    prefixes = [p.prefix for p in config.partners]
    for prefix in sorted({p for p in prefixes if prefixes.count(p) > 1}):
        problems.append(f"{where}.partners: prefix {prefix!r} is used by two partners")
    if problems:
        raise SessionConfigError(problems)
    return config


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings")
    return tuple(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _path(value: Any) -> Path | None:
    if not isinstance(value, str):
        raise ValueError("a path string")
    return Path(value).expanduser() if value else None


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("a positive number")
    return float(value)


def _numbers(cls: Any, raw: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a [section]")
        return cls()
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = known.get(key)
        if spec is None:
            problems.append(f"{where}.{key} is not a known setting")
            continue
        integer = spec.type in ("int", int)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or (integer and (not isinstance(value, int) or value < 1))
        ):
            kind = "a whole number >= 1" if integer else "a number >= 0"
            problems.append(f"{where}.{key} must be {kind}")
            continue
        values[key] = int(value) if integer else float(value)
    return cls(**values)


def _partners(raw: Any, where: str, problems: list[str]) -> tuple[PartnerRooms, ...]:
    if not isinstance(raw, dict):
        problems.append(f"{where} must hold one [{where}.ID] table per partner")
        return ()
    partners = []
    for pid, table in raw.items():
        here = f"{where}.{pid}"
        if not _PARTNER_ID_RE.match(pid):
            problems.append(f"{here}: partner ids are lower-case letters, digits and dashes")
            continue
        if not isinstance(table, dict):
            problems.append(f"{here} must be a table")
            continue
        unknown = sorted(set(table) - {"prefix", "domains", "display_name"})
        problems += [f"{here}.{key} is not a known setting" for key in unknown]
        prefix = table.get("prefix")
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z]{1,3}", prefix):
            problems.append(f"{here}.prefix must be the ticket prefix, 1 to 3 capital letters")
            continue
        domains = table.get("domains", [])
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            problems.append(f"{here}.domains must be a list of host names")
            continue
        clean = tuple(d.lower().rstrip(".") for d in domains)
        bad = [d for d in clean if not _DOMAIN_RE.match(d) and not _is_ip(d)]
        if bad:
            problems.append(
                f"{here}.domains: {', '.join(bad)} is not a host name (use '*.example.org' "
                "for its subdomains)"
            )
            continue
        mode = table.get("display_name", "none")
        if not isinstance(mode, str) or not _NAME_MODE_RE.match(mode):
            problems.append(f"{here}.display_name must be 'none', 'query:NAME' or 'fragment:KEY'")
            continue
        partners.append(PartnerRooms(pid, prefix, clean, mode))
    return tuple(partners)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
