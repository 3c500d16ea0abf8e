"""The hub's settings: a TOML file, then PVP_HUB_* environment variables, then options.

Like the site's config, every mistake is one line naming the key (or the variable), and
the hub stops before touching the database.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from pvp_common.checks import Checker, read_toml
from pvp_tui.core.config import APP_NAME

DEFAULT_PORT = 8470
ENV_PREFIX = "PVP_HUB_"


@dataclass(frozen=True)
class SyncLimits:
    max_body_bytes: int = 1_048_576  # a batch of 500 events is about 200 KiB
    max_events_per_push: int = 500
    pull_page_size: int = 500
    clock_skew_seconds: int = 300  # an event dated further ahead of the hub is refused
    max_event_age_days: int = 30  # a site offline longer resends nothing older
    last_seen_seconds: int = 10  # how often sites' last-seen times are written
    # RDV Service Public's inbox: after a delivery wakes the applier, how long it waits
    # for more to apply them in one batch (one transaction, one change-log lock).
    rdv_sp_gather_ms: int = 5


@dataclass(frozen=True)
class DocumentSettings:
    """Papers between a site and its agents (pvp_hub.documents)."""

    # 32 random bytes, base64: the AES-256-GCM key of every document at rest. None: the
    # hub takes no document (its document routes answer 503 and say what to set).
    key_file: Path | None = None
    max_bytes: int = 30 * 1024 * 1024
    max_pages: int = 200
    # Kept this long after the last receipt; None: until the end of the site's day.
    keep_after_receipt_minutes: int | None = None


@dataclass(frozen=True)
class HubConfig:
    database_url: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    # Requests at work at once per process (the thread pool's size, so also the database
    # connections in use): more only adds contention on a few cores (see docs/hub.md).
    threads: int = 4
    # PostgreSQL connections of the site routes' pool on the event loop (asyncpg): a
    # request holds one across its round trips while it awaits, so it takes more than
    # threads to keep the cores busy (4 held the hub at 284 requests/s, 16 at 550).
    connections: int = 16
    # Child processes making the region's reports (0: in the serving process).
    report_processes: int = 2
    # The reverse proxies whose X-Forwarded-* headers are believed (none by default).
    forwarded_allow_ips: tuple[str, ...] = ()
    # One log line per request (uvicorn's access log). Off by default: the reverse proxy
    # in front logs every request already, and at a region's rate (hundreds of syncs a
    # second) the lines would cost the hub a twentieth of its CPU and fill the journal.
    access_log: bool = False
    limits: SyncLimits = field(default_factory=SyncLimits)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    source: str = "<defaults>"
    # True when nothing was configured: the embedded demo region is created if empty.
    is_default: bool = False


def default_database_url() -> str:
    return f"sqlite:///{platformdirs.user_data_path(APP_NAME) / 'hub.db'}"


def config_path(explicit: str | None) -> Path | None:
    """--config, then PVP_HUB_CONFIG, then /etc/pvp-relais/hub.toml if it exists."""
    chosen = explicit or os.environ.get(ENV_PREFIX + "CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    system = Path("/etc/pvp-relais/hub.toml")
    return system if system.is_file() else None


def load_hub_config(
    path: Path | None, env: dict[str, str] | None = None, **options: Any
) -> HubConfig:
    """The settings from the file (if any), the environment, then non-None options."""
    env = dict(os.environ) if env is None else env
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        raw = read_toml(path)
    v = _Checker()
    v.unknown_keys("", raw, {"server", "database", "sync", "documents"})
    server = v.section(
        raw,
        "server",
        {
            "host",
            "port",
            "workers",
            "threads",
            "connections",
            "report_processes",
            "forwarded_allow_ips",
            "access_log",
        },
    )
    database = v.section(raw, "database", {"url"})
    sync = v.section(raw, "sync", set(SyncLimits.__dataclass_fields__))
    papers = v.section(raw, "documents", set(DocumentSettings.__dataclass_fields__))

    # The environment overrides the file, and is checked under its own name.
    for key, var in (
        ("host", "HOST"),
        ("port", "PORT"),
        ("workers", "WORKERS"),
        ("threads", "THREADS"),
        ("connections", "CONNECTIONS"),
        ("report_processes", "REPORT_PROCESSES"),
    ):
        if ENV_PREFIX + var in env:
            text = env[ENV_PREFIX + var]
            server[key] = int(text) if key != "host" and text.strip().isdigit() else text
            v.renamed[f"server.{key}"] = ENV_PREFIX + var
    if ENV_PREFIX + "FORWARDED_ALLOW_IPS" in env:
        text = env[ENV_PREFIX + "FORWARDED_ALLOW_IPS"]
        server["forwarded_allow_ips"] = [p.strip() for p in text.split(",") if p.strip()]
        v.renamed["server.forwarded_allow_ips"] = ENV_PREFIX + "FORWARDED_ALLOW_IPS"
    if ENV_PREFIX + "ACCESS_LOG" in env:
        text = env[ENV_PREFIX + "ACCESS_LOG"].strip().lower()
        server["access_log"] = {"true": True, "1": True, "false": False, "0": False}.get(text, text)
        v.renamed["server.access_log"] = ENV_PREFIX + "ACCESS_LOG"
    for key in ("key_file", "max_bytes", "max_pages", "keep_after_receipt_minutes"):
        var = ENV_PREFIX + "DOCUMENTS_" + key.upper()
        if var in env:
            text = env[var]
            papers[key] = int(text) if key != "key_file" and text.strip().isdigit() else text
            v.renamed[f"documents.{key}"] = var
    if ENV_PREFIX + "DB" in env:
        database["url"] = env[ENV_PREFIX + "DB"]
        v.renamed["database.url"] = ENV_PREFIX + "DB"
    for key, value in options.items():
        if value is None:
            continue
        section = database if key == "url" else server
        section[key] = value
        v.renamed[("database." if key == "url" else "server.") + key] = "--" + key.replace("_", "-")

    is_default = path is None and "url" not in database
    url = v.text(database, "database.", "url", default_database_url())
    if url and not url.startswith(("sqlite:///", "postgresql+psycopg://", "postgresql://")):
        v.add(
            "database.url",
            "must start with sqlite:/// (a file) or postgresql+psycopg:// (got "
            + repr(url.split("://", 1)[0] + "://...")
            + ")",
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    host = v.text(server, "server.", "host", "127.0.0.1")
    port = v.number(server, "server.", "port", DEFAULT_PORT, 1, 65535)
    workers = v.number(server, "server.", "workers", 1, 1, 64)
    threads = v.number(server, "server.", "threads", 4, 1, 256)
    connections = v.number(server, "server.", "connections", 16, 1, 256)
    report_processes = v.number(server, "server.", "report_processes", 2, 0, 16)
    access_log = server.get("access_log", False)
    if not isinstance(access_log, bool):
        v.add("server.access_log", f"must be true or false (got {access_log!r})")
        access_log = False
    allowed = server.get("forwarded_allow_ips", [])
    proxies: list[str] = []
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        v.add("server.forwarded_allow_ips", 'must be a list of addresses, e.g. ["10.0.0.2"]')
    else:
        for item in allowed:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                if not item.startswith("unix:"):
                    v.add("server.forwarded_allow_ips", f"{item!r} is not an IP address")
                    continue
            proxies.append(item)
    # (key, lowest, highest) for each limit; the defaults are SyncLimits' own
    bounds = {
        "max_body_bytes": (1024, 64 << 20),
        "max_events_per_push": (1, 10_000),
        "pull_page_size": (1, 10_000),
        "clock_skew_seconds": (1, 86_400),
        "max_event_age_days": (1, 3650),
        "last_seen_seconds": (1, 3600),
        "rdv_sp_gather_ms": (0, 600_000),
    }
    defaults = SyncLimits()
    limits = SyncLimits(
        **{
            key: v.number(sync, "sync.", key, getattr(defaults, key), low, high)
            for key, (low, high) in bounds.items()
        }
    )
    documents = _documents(v, papers)
    v.raise_problems(source)
    return HubConfig(
        database_url=url,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        connections=connections,
        report_processes=report_processes,
        forwarded_allow_ips=tuple(proxies),
        access_log=access_log,
        limits=limits,
        documents=documents,
        source=source,
        is_default=is_default,
    )


def _documents(v: _Checker, table: dict[str, Any]) -> DocumentSettings:
    defaults = DocumentSettings()
    key_file: Path | None = None
    if "key_file" in table:
        key_file = Path(v.text(table, "documents.", "key_file", "")).expanduser()
    keep = table.get("keep_after_receipt_minutes")
    return DocumentSettings(
        key_file=key_file,
        max_bytes=v.number(table, "documents.", "max_bytes", defaults.max_bytes, 1024, 1 << 30),
        max_pages=v.number(table, "documents.", "max_pages", defaults.max_pages, 1, 10_000),
        keep_after_receipt_minutes=None
        if keep is None
        # never beyond 7 days (documents.KEEP_AT_MOST)
        else v.number(table, "documents.", "keep_after_receipt_minutes", 0, 0, 7 * 24 * 60),
    )


class _Checker(Checker):
    """The config Checker, naming a key set from the environment or an option as such
    (PVP_HUB_PORT, --port), so the user fixes the right place."""

    def __init__(self) -> None:
        super().__init__()
        self.renamed: dict[str, str] = {}

    def add(self, key: str, message: str) -> None:
        super().add(self.renamed.get(key, key), message)

    def section(self, raw: dict[str, Any], name: str, known: set[str]) -> dict[str, Any]:
        value = self.table(raw.get(name, {}), name)
        if value is None:
            return {}
        self.unknown_keys(name + ".", value, known)
        return dict(value)

    def text(self, table: dict[str, Any], prefix: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.add(prefix + key, f"must be a non-empty text in quotes (got {value!r})")
            return default
        return value

    def number(
        self, table: dict[str, Any], prefix: str, key: str, default: int, low: int, high: int
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(prefix + key, f"must be a whole number (got {value!r})")
            return default
        if not low <= value <= high:
            self.add(prefix + key, f"must be between {low} and {high} (got {value})")
            return default
        return value
