"""pvp-bridge configuration: a TOML file, overridden by command-line flags.

Example (every key optional)::

    [server]
    host = "127.0.0.1"          # 0.0.0.0 to serve the LAN (then use TLS)
    port = 8765
    token_file = "/etc/pvp-bridge/token"
    origins = []                # allowed Origin headers; clients sending none always pass
    tls_cert = ""               # PEM certificate chain; TLS is on when cert and key are set
    tls_key = ""
    max_message = 1048576       # bytes; a bigger frame closes the connection with 1009
    max_in_flight = 64          # requests in flight per connection
    max_clients = 32            # connections at once; beyond, the handshake gets 503
    max_unread = 4194304        # bytes a client may leave unread; beyond, closed with 1008
    health_interval = 30        # seconds between two `health` events

    [spool]
    dir = "/var/spool/pvp-bridge"
    retention = "end_of_day"    # or a duration: "90m", "4h", "2d", or seconds
    max_document_mb = 64
    min_free_mb = 200           # refuse scans/uploads below this much free disk

    [scanner]
    max_pages = 100             # upper bound of one feeder run
    scan_timeout = 300          # seconds without a page before a scan is cancelled

    [printer]
    allowed = []                # queue names offered to clients; empty = all
    offline_after = 10          # seconds a job may sit unprocessed before "offline"

    [session]                   # the kiosk's video call: see kiosk_bridge/session/config.py
    [screen]                    # the kiosk's own pages: see kiosk_bridge/screen/config.py
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kiosk_bridge.screen import config as screen_config
from kiosk_bridge.session import config as session_config
from pvp_common import checks
from pvp_common.checks import Check, Checker, ConfigError


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    token_file: Path | None = None
    origins: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message: int = 1024 * 1024
    max_in_flight: int = 64
    max_clients: int = 32
    max_unread: int = 4 * 1024 * 1024
    health_interval: float = 30.0
    spool_dir: Path = Path("/var/spool/pvp-bridge")
    retention: str = "end_of_day"
    max_document_mb: int = 64
    min_free_mb: int = 200
    max_pages: int = 100
    scan_timeout: float = 300.0
    printers_allowed: tuple[str, ...] = ()
    offline_after: float = 10.0
    chunk_size: int = 256 * 1024
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_document_bytes(self) -> int:
        return self.max_document_mb * 1024 * 1024

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def retention_seconds(self) -> float | None:
        """None means "until the end of the local day"."""
        return parse_retention(self.retention)

    def with_overrides(self, **overrides: Any) -> Config:
        known = {f.name for f in fields(self)}
        clean = {k: v for k, v in overrides.items() if v is not None and k in known}
        return replace(self, **clean)


def _sections(base: Path) -> dict[str, dict[str, tuple[str, Check]]]:
    """Each section's keys: the Config field each one sets, and its check (relative paths
    are read from `base`, the config file's folder)."""

    def path(value: Any) -> Path | None:
        if not isinstance(value, str):
            raise ValueError("must be a path string")
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    return {
        "server": {
            "host": ("host", _string),
            "port": ("port", _count),
            "token_file": ("token_file", path),
            "origins": ("origins", checks.texts),
            "tls_cert": ("tls_cert", path),
            "tls_key": ("tls_key", path),
            "max_message": ("max_message", _count),
            "max_in_flight": ("max_in_flight", _count),
            "max_clients": ("max_clients", _count),
            "max_unread": ("max_unread", _count),
            "health_interval": ("health_interval", checks.positive_number),
        },
        "spool": {
            "dir": ("spool_dir", path),
            "retention": ("retention", _retention),
            "max_document_mb": ("max_document_mb", _count),
            "min_free_mb": ("min_free_mb", _count),
            "chunk_size": ("chunk_size", _count),
        },
        "scanner": {
            "max_pages": ("max_pages", _count),
            "scan_timeout": ("scan_timeout", checks.positive_number),
        },
        "printer": {
            "allowed": ("printers_allowed", checks.texts),
            "offline_after": ("offline_after", checks.positive_number),
        },
    }


def load(path: Path | None) -> Config:
    """Read ``path`` (TOML) into a Config; ``None`` gives the defaults. ConfigError lists
    every mistake of the file, one line each naming its key."""
    if path is None:
        return Config()
    raw = checks.read_toml(Path(path))
    check = Checker()
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    sections = _sections(Path(path).resolve().parent)
    for name, value in raw.items():
        table = check.table(value, name)
        if table is None:
            continue
        keys = sections.get(name, {})
        known = {key: reader for key, (_, reader) in keys.items()}
        read = check.fields(table, f"{name}.", known, report_unknown=False)
        values.update({keys[k][0]: v for k, v in read.items()})
        # Keys of no section here are the extensions' ([session]) or left for later.
        for key, item in table.items():
            if key not in keys:
                extra.setdefault(name, {})[key] = item
    session_config.read(check, extra.get("session"))  # [session] lives with the session code
    screen_config.read(check, extra.get("screen"))  # [screen] with the kiosk screen's
    check.raise_problems(str(path))
    return Config(**values, extra=extra)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a positive integer")
    return value


def _retention(value: Any) -> str:
    _string(value)
    _retention_seconds(value)
    return str(value)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_retention(value: str | int | float) -> float | None:
    """``"end_of_day"`` -> None; ``"90m"``, ``"4h"``, ``"2d"``, ``"30s"``, 60 -> seconds."""
    try:
        return _retention_seconds(value)
    except ValueError as exc:
        raise ConfigError("", [f"retention: {exc}"]) from None


def _retention_seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("must be positive")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("must be 'end_of_day' or a duration such as '4h'")
    if value.strip() == "end_of_day":
        return None
    m = _DURATION.match(value)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"use 'end_of_day' or a duration such as '4h' (got {value!r})")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * unit
