"""Site configuration: TOML in the platformdirs config location, validated at start.

Every mistake becomes one line naming the key, so a site's admin can fix the file
without reading code. With no config file the embedded demo site is used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from pvp_common.checks import Checker, ConfigError, parse_toml, read_toml

APP_NAME = "pvp-relais"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("fr", "en")

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PREFIX_RE = re.compile(r"^[A-Z]{1,3}$")
_DOC_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KIOSK_URL_RE = re.compile(r"^wss?://[^/\s]+/v1$")
_HUB_URL_RE = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$")
# The document types staff can give a scanned paper when a partner has no list of its own.
DEFAULT_DOCUMENT_TYPES = (
    "identity_card",
    "tax_notice",
    "payslip",
    "proof_of_address",
    "certificate",
    "other",
)
SHORT_NAME_MAX = 10  # a partner's short name fits the narrow waiting list's partner column
_ACRONYM_RE = re.compile(r"\(([^()]{1,12})\)\s*$")
_RANGE_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    prefix: str
    interview_minutes: int
    hours: dict[str, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    document_types: tuple[str, ...] = DEFAULT_DOCUMENT_TYPES
    # The partner's video room (pvp_tui.core.sessions): a URL or a template with {ticket}
    # and {site}, and the hosts its visio may use (same rule as the bridge's domains).
    room_url: str | None = None
    room_domains: tuple[str, ...] = ()
    short_name: str = ""  # what a narrow list shows when the name does not fit

    @property
    def short(self) -> str:
        """The partner's short name: `short_name`, else the acronym in the name's
        parentheses ('France Titres (ANTS)' -> 'ANTS'), else the name itself."""
        if self.short_name:
            return self.short_name
        match = _ACRONYM_RE.search(self.name)
        return match.group(1) if match else self.name

    def is_open(self, local: datetime) -> bool:
        """True when a permanence of this partner is open at this local time."""
        ranges = self.hours.get(WEEKDAYS[local.weekday()], ())
        now = local.time()
        return any(start <= now < end for start, end in ranges)

    def next_opening(self, local: datetime) -> datetime | None:
        """The next local datetime a permanence opens (within a week), or None."""
        for offset in range(8):
            day = local.date().toordinal() + offset
            date = type(local.date()).fromordinal(day)
            for start, _end in self.hours.get(WEEKDAYS[date.weekday()], ()):
                candidate = datetime.combine(date, start, tzinfo=local.tzinfo)
                if candidate > local:
                    return candidate
        return None


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: ZoneInfo
    kiosk_count: int = 1
    language: str = "fr"
    privacy_mode: bool = False
    retention_days: int = 1
    min_history: int = 5
    history_days: int = 90
    appointment_grace_minutes: int = 10
    appointment_late_minutes: int = 15


@dataclass(frozen=True)
class Kiosk:
    """A kiosk's pvp-bridge: where it listens and how the app proves who it is."""

    id: str
    name: str
    url: str  # ws:// or wss://, path /v1
    token_file: Path
    ca_file: Path | None = None
    # Extra SANE options passed with every scan (device-specific, e.g. deskew).
    scan_options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def read_token(self) -> str:
        """The bridge token (first line of token_file); OSError when it cannot be read."""
        return self.token_file.read_text("utf-8").strip()


@dataclass(frozen=True)
class LogFiles:
    """`[log]`: pvp's log file turns over at `max_mb`; `keep` older files are kept."""

    max_mb: int = 1
    keep: int = 3


@dataclass(frozen=True)
class Hub:
    """The region's hub this site syncs with (`[hub]`): where, and how it proves who it is.
    With no `[hub]`, nothing is sent and no outbox is kept (pvp_tui.core.outbox)."""

    url: str  # http(s)://HOST[:PORT], the hub's root (the API is under /api/v1)
    token_file: Path
    ca_file: Path | None = None
    retry_max_seconds: float = 30.0  # the longest wait between two tries of a batch
    pull_seconds: float = 10.0  # how often the sync worker pulls the hub's changes

    def read_token(self) -> str:
        """The site token (first line of token_file); OSError when it cannot be read."""
        return self.token_file.read_text("utf-8").strip()


@dataclass(frozen=True)
class Config:
    site: Site
    partners: tuple[Partner, ...]
    source: str
    database: Path | None = None
    kiosks: tuple[Kiosk, ...] = ()
    log: LogFiles = LogFiles()
    hub: Hub | None = None
    # Partners no longer offered (removed from the hub's directory, or the config's own
    # once the hub's replaced them): never chosen at check-in, but past visits keep their
    # names on screen and in reports (pvp_tui.core.partners.effective_config).
    retired_partners: tuple[Partner, ...] = ()
    partners_from: str = "config"  # "hub" once the hub's directory replaced the list

    def partner(self, partner_id: str) -> Partner | None:
        """The partner of this id: an offered one, else a retired one (for names)."""
        found = next((p for p in self.partners if p.id == partner_id), None)
        if found is None:
            found = next((p for p in self.retired_partners if p.id == partner_id), None)
        return found

    def kiosk(self, kiosk_id: str) -> Kiosk | None:
        return next((k for k in self.kiosks if k.id == kiosk_id), None)

    def document_types(self, partner_id: str) -> tuple[str, ...]:
        partner = self.partner(partner_id)
        return partner.document_types if partner else DEFAULT_DOCUMENT_TYPES


def kiosks_from_config(config: Config) -> tuple[Kiosk, ...]:
    """The site's kiosks (``pvp doctor`` and the app's kiosk links read them here)."""
    return config.kiosks


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def site_config_path() -> Path:
    return platformdirs.site_config_path(APP_NAME) / "config.toml"


def default_db_path() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "pvp.db"


def resolve_config_path(explicit: str | None) -> Path | None:
    """--config, then PVP_CONFIG, then the user's file, then the system-wide one."""
    chosen = explicit or os.environ.get("PVP_CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    for candidate in (default_config_path(), site_config_path()):
        if candidate.is_file():
            return candidate
    return None


def resolve_db_path(explicit: str | None, config: Config) -> Path:
    """--db, then PVP_DB, then [store] path in the config, then the user data dir."""
    chosen = explicit or os.environ.get("PVP_DB")
    if chosen:
        return Path(chosen).expanduser()
    if config.database is not None:
        return config.database
    return default_db_path()


def load_config(path: Path | None) -> Config:
    """Load and validate a site config, or the embedded demo site when path is None."""
    if path is None:
        text = Path(__file__).with_name("demo_site.toml").read_text("utf-8")
        return parse_config(text, source="<demo site>")
    return _read(read_toml(path), source=str(path), base_dir=path.parent)


def parse_config(text: str, source: str, base_dir: Path | None = None) -> Config:
    return _read(parse_toml(text, source), source, base_dir)


def _read(data: dict[str, Any], source: str, base_dir: Path | None) -> Config:
    v = Checker()
    v.unknown_keys("", data, {"site", "partners", "store", "kiosks", "log", "hub"})
    site = _parse_site(v, data.get("site"))
    partners = _parse_partners(v, data.get("partners"))
    database = _parse_store(v, data.get("store"), base_dir)
    kiosks = _parse_kiosks(v, data.get("kiosks"), base_dir)
    log = _parse_log(v, data.get("log"))
    hub = _parse_hub(v, data.get("hub"), base_dir)
    if v.problems or site is None:
        raise ConfigError(source, v.problems or ["[site] is missing"])
    return Config(
        site=site,
        partners=tuple(partners),
        source=source,
        database=database,
        kiosks=tuple(kiosks),
        log=log,
        hub=hub,
    )


_SITE_KEYS = {
    "id",
    "name",
    "timezone",
    "kiosk_count",
    "language",
    "privacy_mode",
    "retention_days",
    "min_history",
    "history_days",
    "appointment_grace_minutes",
    "appointment_late_minutes",
}


def _parse_site(v: Checker, raw: Any) -> Site | None:
    if raw is None:
        v.add("site", "the [site] table is missing")
        return None
    raw = v.table(raw, "site")
    if raw is None:
        return None
    p = "site."
    v.unknown_keys(p, raw, _SITE_KEYS)
    site_id = v.get(raw, p, "id", str, "", required=True)
    if site_id and not _ID_RE.match(site_id):
        v.add(p + "id", f"must be lowercase letters, digits and dashes (got {site_id!r})")
    name = v.get(raw, p, "name", str, "", required=True)
    tz_name = v.get(raw, p, "timezone", str, "Europe/Paris")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        v.add(p + "timezone", f"unknown time zone {tz_name!r} (for example 'Europe/Paris')")
        tz = ZoneInfo("Europe/Paris")
    language = v.get(raw, p, "language", str, "fr")
    if language not in LANGUAGES:
        v.add(p + "language", f"must be one of {', '.join(LANGUAGES)} (got {language!r})")
    ints = {}
    for key, default, low, high in (
        ("kiosk_count", 1, 1, 50),
        ("retention_days", 1, 0, 365),
        ("min_history", 5, 1, 1000),
        ("history_days", 90, 1, 3650),
        ("appointment_grace_minutes", 10, 0, 120),
        ("appointment_late_minutes", 15, 0, 120),
    ):
        value = v.get(raw, p, key, int, default)
        if not low <= value <= high:
            v.add(p + key, f"must be between {low} and {high} (got {value})")
            value = default
        ints[key] = value
    privacy = v.get(raw, p, "privacy_mode", bool, False)
    return Site(id=site_id, name=name, timezone=tz, language=language, privacy_mode=privacy, **ints)


_PARTNER_KEYS = {
    "id",
    "name",
    "short_name",
    "prefix",
    "interview_minutes",
    "hours",
    "document_types",
    "room_url",
    "room_domains",
}


def _unique_id(v: Checker, item: dict[str, Any], p: str, seen: set[str], what: str) -> str:
    """The table's required `id`: a slug, used once among its kind (partners, kiosks)."""
    item_id: str = v.get(item, p, "id", str, "", required=True)
    if item_id and not _ID_RE.match(item_id):
        v.add(p + "id", f"must be lowercase letters, digits and dashes (got {item_id!r})")
    if item_id and item_id in seen:
        v.add(p + "id", f"{item_id!r} is used by two {what}")
    seen.add(item_id)
    return item_id


def _parse_partners(v: Checker, raw: Any) -> list[Partner]:
    if raw is None:
        v.add("partners", "no partner is configured (add at least one [[partners]] table)")
        return []
    if not isinstance(raw, list) or not raw:
        v.add("partners", "must be a non-empty list of [[partners]] tables")
        return []
    partners: list[Partner] = []
    seen_ids: set[str] = set()
    seen_prefixes: set[str] = set()
    for index, item in enumerate(raw):
        p = f"partners[{index}]."
        if not isinstance(item, dict):
            v.add(f"partners[{index}]", "must be a table")
            continue
        v.unknown_keys(p, item, _PARTNER_KEYS)
        pid = _unique_id(v, item, p, seen_ids, "partners")
        name = v.get(item, p, "name", str, "", required=True)
        short_name = v.get(item, p, "short_name", str, "").strip()
        if len(short_name) > SHORT_NAME_MAX:
            v.add(
                p + "short_name",
                f"must be at most {SHORT_NAME_MAX} characters (got {short_name!r})",
            )
        prefix = v.get(item, p, "prefix", str, "", required=True)
        if prefix and not _PREFIX_RE.match(prefix):
            v.add(p + "prefix", f"must be 1 to 3 capital letters (got {prefix!r})")
        if prefix and prefix in seen_prefixes:
            v.add(p + "prefix", f"{prefix!r} is used by two partners (tickets would clash)")
        seen_prefixes.add(prefix)
        minutes = v.get(item, p, "interview_minutes", int, 20)
        if not 1 <= minutes <= 240:
            v.add(p + "interview_minutes", f"must be between 1 and 240 (got {minutes})")
        hours = _parse_hours(v, p + "hours", item.get("hours", {}))
        doc_types = _parse_document_types(v, p + "document_types", item.get("document_types"))
        room_url, room_domains = _parse_room(v, p, item, prefix)
        partners.append(
            Partner(
                pid, name, prefix, minutes, hours, doc_types, room_url, room_domains, short_name
            )
        )
    return partners


def parse_partner_tables(raw: Any, key: str = "partners") -> tuple[list[Partner], list[str]]:
    """Partners from [[partners]]-shaped tables, checked by the site config's own rules
    (the hub's directory uses it too); the problems as "key: message" lines."""
    v = Checker()
    partners = _parse_partners(v, raw)
    return partners, [key + p.removeprefix("partners") for p in v.problems]


ROOM_FIELDS = ("ticket", "site")  # what a room_url template may contain


def room_address(template: str, ticket: str, site: str) -> str:
    """A partner's room URL for one visit ({ticket} and {site} filled in, URL-quoted)."""
    from urllib.parse import quote

    return template.format(ticket=quote(ticket, safe=""), site=quote(site, safe=""))


def _parse_room(
    v: Checker, p: str, item: dict[str, Any], prefix: str
) -> tuple[str | None, tuple[str, ...]]:
    """room_url + room_domains, checked by the rules the kiosk bridge applies to a session
    request (pvp_common.rooms: https, http only for localhost, host in the domains)."""
    if "room_url" not in item and "room_domains" not in item:
        return None, ()
    # Imported only for a partner with a room: a site without rooms starts ~8 ms sooner.
    from pvp_common.rooms import RoomRefused, clean_domains, host_allowed, judge_room_url

    url = v.get(item, p, "room_url", str, "", required=True)
    raw_domains = v.get(item, p, "room_domains", list, [], required=True)
    if not url or not raw_domains:
        if "room_domains" in item and not raw_domains and isinstance(raw_domains, list):
            v.add(p + "room_domains", 'must list at least one host, e.g. ["visio.example.fr"]')
        return None, ()
    if not all(isinstance(d, str) for d in raw_domains):
        v.add(p + "room_domains", "must be a list of host names in quotes")
        return None, ()
    try:
        domains = clean_domains(raw_domains)
    except ValueError as exc:
        v.add(p + "room_domains", str(exc))
        return None, ()
    prefix = prefix if _PREFIX_RE.match(prefix or "") else "X"
    try:
        sample = room_address(url, f"{prefix}-001", "site")
    except (KeyError, IndexError, ValueError):
        v.add(
            p + "room_url",
            "only {ticket} and {site} may appear in braces (got " + repr(url) + ")",
        )
        return None, ()
    try:
        _, host = judge_room_url(sample)
    except RoomRefused as refused:
        v.add(p + "room_url", f"{refused.params.get('detail', refused.code)} (got {url!r})")
        return None, ()
    if not host_allowed(domains, host):
        v.add(p + "room_url", f"its host {host} is not in room_domains")
        return None, ()
    return url, domains


def _parse_hours(v: Checker, key: str, raw: Any) -> dict[str, tuple[tuple[time, time], ...]]:
    if not isinstance(raw, dict):
        v.add(key, 'must be a table of days, e.g. { mon = ["09:00-12:00"] }')
        return {}
    hours: dict[str, tuple[tuple[time, time], ...]] = {}
    for day, ranges in raw.items():
        if day not in WEEKDAYS:
            v.add(f"{key}.{day}", f"unknown day (expected one of: {', '.join(WEEKDAYS)})")
            continue
        if not isinstance(ranges, list):
            v.add(f"{key}.{day}", 'must be a list such as ["09:00-12:00", "13:30-17:00"]')
            continue
        parsed = []
        for text in ranges:
            span = parse_time_range(text) if isinstance(text, str) else None
            if span is None:
                v.add(f"{key}.{day}", f'{text!r} is not a time range like "09:00-12:00"')
                continue
            parsed.append(span)
        hours[day] = tuple(sorted(parsed))
    return hours


def parse_time_range(text: str) -> tuple[time, time] | None:
    match = _RANGE_RE.match(text.strip())
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start = time(h1, m1)
        # "24:00" closes a range at midnight (a permanence open all day: "00:00-24:00").
        end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
    except ValueError:
        return None
    return (start, end) if start < end else None


def _path_in(text: str, base_dir: Path | None) -> Path:
    """A path from the config: ~ expanded, relative to the config file's folder."""
    result = Path(text).expanduser()
    if not result.is_absolute() and base_dir is not None:
        result = base_dir / result
    return result


_HUB_KEYS = {"url", "token_file", "ca_file", "retry_max_seconds", "pull_seconds"}


def _parse_hub(v: Checker, raw: Any, base_dir: Path | None) -> Hub | None:
    raw = v.table(raw, "hub")
    if raw is None:
        return None
    p = "hub."
    v.unknown_keys(p, raw, _HUB_KEYS)
    url = v.get(raw, p, "url", str, "", required=True).strip()
    if url and not _HUB_URL_RE.match(url):
        v.add(p + "url", f"must look like https://HOST[:PORT][/PATH] (got {url!r})")
    token = v.get(raw, p, "token_file", str, "", required=True)
    ca = v.get(raw, p, "ca_file", str, "", required=True) if "ca_file" in raw else ""
    if ca and url.startswith("http://"):
        v.add(p + "ca_file", "is only used with an https:// url")
    wait = raw.get("retry_max_seconds", 30)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 1 <= wait <= 3600:
        v.add(p + "retry_max_seconds", f"must be a number of seconds from 1 to 3600 (got {wait!r})")
        wait = 30
    pull = raw.get("pull_seconds", 10)
    if isinstance(pull, bool) or not isinstance(pull, int | float) or not 1 <= pull <= 3600:
        v.add(p + "pull_seconds", f"must be a number of seconds from 1 to 3600 (got {pull!r})")
        pull = 10
    return Hub(
        url=url.rstrip("/"),
        token_file=_path_in(token, base_dir) if token else Path(),
        ca_file=_path_in(ca, base_dir) if ca else None,
        retry_max_seconds=float(wait),
        pull_seconds=float(pull),
    )


def _parse_store(v: Checker, raw: Any, base_dir: Path | None) -> Path | None:
    raw = v.table(raw, "store")
    if raw is None:
        return None
    v.unknown_keys("store.", raw, {"path"})
    path = v.get(raw, "store.", "path", str, "")
    if not path:
        return None
    result = Path(path).expanduser()
    if not result.is_absolute() and base_dir is not None:
        result = base_dir / result
    return result


def _parse_log(v: Checker, raw: Any) -> LogFiles:
    raw = v.table(raw, "log")
    if raw is None:
        return LogFiles()
    v.unknown_keys("log.", raw, {"max_mb", "keep"})
    values = {}
    for key, default, low, high in (("max_mb", 1, 1, 100), ("keep", 3, 1, 50)):
        value = v.get(raw, "log.", key, int, default)
        if not low <= value <= high:
            v.add(f"log.{key}", f"must be between {low} and {high} (got {value})")
            value = default
        values[key] = value
    return LogFiles(**values)


def _parse_document_types(v: Checker, key: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_DOCUMENT_TYPES
    if not isinstance(raw, list) or not raw:
        v.add(key, 'must be a non-empty list such as ["identity_card", "payslip", "other"]')
        return DEFAULT_DOCUMENT_TYPES
    types: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not _DOC_TYPE_RE.match(item):
            v.add(key, f"{item!r} is not a type name (lowercase letters, digits and _)")
        elif item in types:
            v.add(key, f"{item!r} is listed twice")
        else:
            types.append(item)
    return tuple(types) or DEFAULT_DOCUMENT_TYPES


_KIOSK_KEYS = {"id", "name", "url", "token_file", "ca_file", "scan_options"}


def _parse_kiosks(v: Checker, raw: Any, base_dir: Path | None) -> list[Kiosk]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        v.add("kiosks", "must be a list of [[kiosks]] tables")
        return []
    kiosks: list[Kiosk] = []
    seen: set[str] = set()

    def path_of(text: str) -> Path:
        result = Path(text).expanduser()
        if not result.is_absolute() and base_dir is not None:
            result = base_dir / result
        return result

    for index, item in enumerate(raw):
        p = f"kiosks[{index}]."
        if not isinstance(item, dict):
            v.add(f"kiosks[{index}]", "must be a table")
            continue
        v.unknown_keys(p, item, _KIOSK_KEYS)
        kid = _unique_id(v, item, p, seen, "kiosks")
        name = v.get(item, p, "name", str, "", required=True)
        url = v.get(item, p, "url", str, "", required=True)
        if url and not _KIOSK_URL_RE.match(url):
            v.add(
                p + "url", f"must look like ws://HOST:PORT/v1 or wss://HOST:PORT/v1 (got {url!r})"
            )
        token = v.get(item, p, "token_file", str, "", required=True)
        ca = v.get(item, p, "ca_file", str, "") if "ca_file" in item else ""
        if ca and url.startswith("ws://"):
            v.add(p + "ca_file", "is only used with a wss:// url")
        options = item.get("scan_options", {})
        if not isinstance(options, dict):
            v.add(p + "scan_options", "must be a table of SANE options, e.g. { swdeskew = true }")
            options = {}
        kiosks.append(
            Kiosk(
                id=kid,
                name=name or kid,
                url=url,
                token_file=path_of(token) if token else Path(),
                ca_file=path_of(ca) if ca else None,
                scan_options=dict(options),
            )
        )
    return kiosks
