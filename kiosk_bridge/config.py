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
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kiosk_bridge.session import config as session_config


class ConfigError(Exception):
    pass


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


_KEYS: dict[tuple[str, str], str] = {
    ("server", "host"): "host",
    ("server", "port"): "port",
    ("server", "token_file"): "token_file",
    ("server", "origins"): "origins",
    ("server", "tls_cert"): "tls_cert",
    ("server", "tls_key"): "tls_key",
    ("server", "max_message"): "max_message",
    ("server", "max_in_flight"): "max_in_flight",
    ("server", "max_clients"): "max_clients",
    ("server", "max_unread"): "max_unread",
    ("server", "health_interval"): "health_interval",
    ("spool", "dir"): "spool_dir",
    ("spool", "retention"): "retention",
    ("spool", "max_document_mb"): "max_document_mb",
    ("spool", "min_free_mb"): "min_free_mb",
    ("spool", "chunk_size"): "chunk_size",
    ("scanner", "max_pages"): "max_pages",
    ("scanner", "scan_timeout"): "scan_timeout",
    ("printer", "allowed"): "printers_allowed",
    ("printer", "offline_after"): "offline_after",
}
_PATHS = {"token_file", "tls_cert", "tls_key", "spool_dir"}
_TUPLES = {"origins", "printers_allowed"}
_INTS = {"port", "max_message", "max_in_flight", "max_document_mb", "min_free_mb"}
_INTS |= {"max_pages", "chunk_size", "max_clients", "max_unread"}
_FLOATS = {"health_interval", "scan_timeout", "offline_after"}


def load(path: Path | None) -> Config:
    """Read ``path`` (TOML) into a Config; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested [ or {
        raise ConfigError(
            f"cannot read config file {path}: arrays or tables nested too deeply"
        ) from None
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    base = Path(path).resolve().parent
    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: '{section}' must be a [section]")
        for key, value in table.items():
            name = _KEYS.get((section, key))
            if name is None:
                extra.setdefault(section, {})[key] = value
                continue
            values[name] = _coerce(path, f"{section}.{key}", name, value, base)
    config = Config(**values, extra=extra)
    try:
        parse_retention(config.retention)  # fail early on a bad value
    except ConfigError as exc:
        raise ConfigError(f"{path}: spool.{exc}") from None
    try:
        session_config.parse(extra.get("session"))  # [session] lives with the session code
    except session_config.SessionConfigError as exc:
        raise ConfigError("\n".join(f"{path}: {p}" for p in exc.problems)) from None
    return config


def _coerce(path: Path, where: str, name: str, value: Any, base: Path) -> Any:
    try:
        if name in _PATHS:
            if not isinstance(value, str):
                raise TypeError("a path string")
            if not value:
                return None
            p = Path(value).expanduser()
            return p if p.is_absolute() else base / p
        if name in _TUPLES:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError("a list of strings")
            return tuple(value)
        if name in _INTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TypeError("a positive integer")
            return value
        if name in _FLOATS:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise TypeError("a positive number")
            return float(value)
        if not isinstance(value, str):
            raise TypeError("a string")
        return value
    except TypeError as exc:
        raise ConfigError(f"{path}: {where} must be {exc}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_retention(value: str | int | float) -> float | None:
    """``"end_of_day"`` -> None; ``"90m"``, ``"4h"``, ``"2d"``, ``"30s"``, 60 -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigError("retention must be positive")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError("retention must be 'end_of_day' or a duration such as '4h'")
    if value.strip() == "end_of_day":
        return None
    m = _DURATION.match(value)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"retention {value!r}: use 'end_of_day' or a duration such as '4h'")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * unit
