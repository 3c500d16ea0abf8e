"""`pvp doctor`: find the usual installation mistakes and say how to fix each one.

Four checks: the site config, the shared database and its permissions for the staff
group, each kiosk's bridge (reachable, token, TLS, scanner, printer) and the terminal.
Each check returns findings; every finding that is not OK says what to do. Nothing here
changes anything: the database is opened read-only, the bridge is only asked for health.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import shutil
import sqlite3
import ssl
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, Kiosk, load_config, site_config_path
from .frontdesk import other_site_words
from .i18n import _, ngettext
from .store import SCHEMA_VERSION, schema_version

STAFF_GROUP = "pvp-staff"  # the group docs/install-staff-pc.md creates
# Below this, warn: a day of visits takes little, but exports, backups and logs share the disk.
MIN_FREE_BYTES = 100_000_000
MIN_COLUMNS = 80
MIN_LINES = 24


@dataclass(frozen=True)
class Finding:
    check: str  # "config", "database", "kiosk <id>", "terminal"
    ok: bool
    message: str  # what was found (or what is wrong)
    fix: str = ""  # what to do about it (empty when ok)


def worst_exit_code(findings: Iterable[Finding]) -> int:
    return 0 if all(f.ok for f in findings) else 1


# --------------------------------------------------------------------------- config
def check_config(path: Path | None) -> tuple[Config | None, list[Finding]]:
    """Load the config the way `pvp` does; every mistake is a finding naming its key."""
    check = _("config")
    if path is None:
        return load_config(None), [
            Finding(
                check,
                False,
                _("no config file: pvp runs the demo site (nine national partners)."),
                _("write the site's config in {path} (see docs/install-staff-pc.md).").format(
                    path=site_config_path()
                ),
            )
        ]
    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, [
            Finding(
                check,
                False,
                f"{exc.source}: {problem}",
                _("edit {path} and fix this key, then run pvp doctor again.").format(
                    path=exc.source
                ),
            )
            for problem in exc.problems
        ]
    count = len(config.partners)
    summary = ngettext(
        "{path}: site “{site}”, {count} partner.", "{path}: site “{site}”, {count} partners.", count
    ).format(path=path, site=config.site.name, count=count)
    return config, [Finding(check, True, summary)]


# --------------------------------------------------------------------------- database
def check_database(db: Path, group: str | None = None) -> list[Finding]:
    """The database file, its -wal/-shm and its directory must let every member of the
    staff group write: files group-writable, all in the group, the directory setgid so
    that files created later (the -wal and -shm) get that group too."""
    check = _("database")
    findings: list[Finding] = []
    directory = db.parent
    if not db.exists():
        if not directory.is_dir():
            return [
                Finding(
                    check,
                    False,
                    _("{dir} does not exist.").format(dir=directory),
                    _("create it for the staff group: {command}").format(
                        command=_setup_commands(directory, group or STAFF_GROUP)
                    ),
                )
            ]
        return [
            Finding(
                check,
                False,
                _("{db} does not exist yet.").format(db=db),
                _(
                    "if this is the right path, create it as a member of the staff group: "
                    "pvp --db {db} --create-db (it is made group-writable)."
                ).format(db=db),
            )
        ]
    info = db.stat()
    try:
        gid = grp.getgrnam(group).gr_gid if group else info.st_gid
    except KeyError:
        return [
            Finding(
                check,
                False,
                _("the group {group} does not exist.").format(group=group),
                _("create it and add the staff: groupadd {group}; usermod -aG {group} USER").format(
                    group=group
                ),
            )
        ]
    group_name = _group_name(gid)
    if group is None and gid == 0:
        # No staff group was ever given: every fix below would hand out the root group.
        findings.append(
            Finding(
                check,
                False,
                _("{db} belongs to the group root: no staff group shares it.").format(db=db),
                _(
                    "give the store a shared staff group (members: every account that runs "
                    "pvp), then run pvp doctor --group {group}: {command}"
                ).format(group=STAFF_GROUP, command=_share_commands(db, STAFF_GROUP)),
            )
        )
        findings.extend(_integrity(db))
        return findings

    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if not path.exists():
            continue
        st = path.stat()
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o060 != 0o060:
            findings.append(
                Finding(
                    check,
                    False,
                    _("{path} is not group-writable (mode {mode:o}).").format(path=path, mode=mode),
                    f"chmod g+rw {path}",
                )
            )
        if st.st_gid != gid:
            findings.append(
                Finding(
                    check,
                    False,
                    _("{path} belongs to the group {actual}, not {group}.").format(
                        path=path, actual=_group_name(st.st_gid), group=group_name
                    ),
                    f"chgrp {group_name} {path}",
                )
            )

    st = directory.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_gid != gid or mode & 0o070 != 0o070:
        findings.append(
            Finding(
                check,
                False,
                _(
                    "{dir} must be writable by the group {group} "
                    "(SQLite creates the -wal and -shm files there)."
                ).format(dir=directory, group=group_name),
                f"chgrp {group_name} {directory} && chmod g+rwx {directory}",
            )
        )
    if not mode & stat.S_ISGID:
        findings.append(
            Finding(
                check,
                False,
                _(
                    "{dir} is not setgid: files another staff account creates there "
                    "would get that account's own group."
                ).format(dir=directory),
                f"chmod g+s {directory}",
            )
        )
    if not os.access(db, os.R_OK | os.W_OK):
        findings.append(
            Finding(
                check,
                False,
                _("this account cannot write {db}.").format(db=db),
                _(
                    "add the account to the group {group} (usermod -aG {group} USER), "
                    "then log in again."
                ).format(group=group_name),
            )
        )
    # Opened last: SQLite running as root hands -wal/-shm back to the db file's owner.
    findings.extend(_integrity(db))
    if not any(not f.ok for f in findings):
        findings.append(
            Finding(
                check,
                True,
                _("{db}: intact, shared by the group {group}.").format(db=db, group=group_name),
            )
        )
    return findings


def check_disk(db: Path) -> list[Finding]:
    """Free space on the disk holding the database (a full disk refuses every write)."""
    check = _("disk")
    directory = next((p for p in (db.parent, *db.parent.parents) if p.is_dir()), Path("/"))
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return [
            Finding(
                check,
                False,
                _("cannot read the free space of {dir} ({error}).").format(
                    dir=directory, error=exc
                ),
                _("check that this account may read {dir}.").format(dir=directory),
            )
        ]
    amount = (
        _("{n} GB").format(n=f"{free / 1e9:.1f}")
        if free >= 1e9
        else _("{n} MB").format(n=f"{free / 1e6:.0f}")
    )
    if free < MIN_FREE_BYTES:
        return [
            Finding(
                check,
                False,
                _("only {amount} free on the disk holding {dir}.").format(
                    amount=amount, dir=directory
                ),
                _(
                    "free space on that disk (old exports, backups, logs): when it is full, "
                    "pvp refuses every change."
                ),
            )
        ]
    return [
        Finding(
            check,
            True,
            _("{amount} free on the disk holding {dir}.").format(amount=amount, dir=directory),
        )
    ]


def check_site(db: Path, config: Config) -> list[Finding]:
    """Visits of another site and none of this one: `[site] id` was changed (the queue
    looks empty although nothing was lost)."""
    if not db.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            words = other_site_words(conn, config.site.id)
    except sqlite3.Error:
        return []  # the database checks above say what is wrong with the file
    if words is None:
        return []
    return [Finding(_("site"), False, words, _("check [site] id in the config file."))]


def _integrity(db: Path) -> list[Finding]:
    check = _("database")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            version = schema_version(conn)
            pending = _pending_erasures(conn)
    except sqlite3.Error as exc:
        return [
            Finding(
                check,
                False,
                _("cannot read {db}: {error}.").format(db=db, error=exc),
                _("check that it is a pvp database and that this account may read it."),
            )
        ]
    findings = []
    if result != "ok":
        findings.append(
            Finding(
                check,
                False,
                _("{db} is damaged: {error}.").format(db=db, error=result),
                _("stop every pvp, copy the file aside, then restore the last backup."),
            )
        )
    if version > SCHEMA_VERSION:
        findings.append(
            Finding(
                check,
                False,
                _(
                    "{db} was written by a newer PVP Relais "
                    "(schema {found}; this pvp knows {known})."
                ).format(db=db, found=version, known=SCHEMA_VERSION),
                _("update PVP Relais on this PC: until then pvp refuses to start on this file."),
            )
        )
    if pending:
        findings.append(
            Finding(
                check,
                False,
                _(
                    "names erased from {db} still have copies in its files: another pvp "
                    "kept an old read open during the last purge."
                ).format(db=db),
                _(
                    "run pvp purge; if it says so again, close the pvp sessions left open "
                    "(over SSH too) and run it once more."
                ),
            )
        )
    if str(journal).lower() != "wal":
        findings.append(
            Finding(
                check,
                False,
                _("{db} is not in WAL mode (journal: {mode}).").format(db=db, mode=journal),
                _("start pvp once: it switches the database to WAL."),
            )
        )
    return findings


def _pending_erasures(conn: sqlite3.Connection) -> int:
    """Purges whose erased text may still lie in the files (0 before the table exists)."""
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_erasure'"
    ).fetchone():
        return 0
    return int(conn.execute("SELECT count(*) FROM pending_erasure").fetchone()[0])


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _share_commands(db: Path, group: str) -> str:
    directory = db.parent
    return (
        f"groupadd {group}; usermod -aG {group} USER; "
        f"chgrp {group} {directory} {db}*; chmod 2770 {directory}; chmod g+rw {db}*"
    )


def _setup_commands(directory: Path, group: str) -> str:
    return f"install -d -m 2770 -g {group} {directory}"


# --------------------------------------------------------------------------- kiosks
def check_kiosks(
    kiosks: Iterable[Kiosk], probe: Callable[[Kiosk], Finding | list[Finding]] | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    for kiosk in kiosks:
        result = (probe or probe_kiosk)(kiosk)
        findings.extend(result if isinstance(result, list) else [result])
    return findings


def probe_kiosk(kiosk: Kiosk, timeout: float = 5.0) -> list[Finding]:
    """Ask one kiosk's bridge for its health: reachable, token accepted, TLS, scanner and
    printer present and ready."""
    check = _("kiosk {id}").format(id=kiosk.id)
    findings: list[Finding] = []
    token_path = Path(kiosk.token_file)
    try:
        token = token_path.read_text("utf-8").strip()
    except OSError as exc:
        return [
            Finding(
                check,
                False,
                _("cannot read the token file {path} ({error}).").format(
                    path=token_path, error=exc.strerror or exc
                ),
                _(
                    "copy the kiosk's token (/etc/pvp-bridge/token) to {path}, "
                    "owned by root and the staff group, mode 640."
                ).format(path=token_path),
            )
        ]
    if not token:
        return [
            Finding(
                check,
                False,
                _("the token file {path} is empty.").format(path=token_path),
                _("copy the kiosk's token (/etc/pvp-bridge/token) into it."),
            )
        ]
    if stat.S_IMODE(token_path.stat().st_mode) & 0o007:
        findings.append(
            Finding(
                check,
                False,
                _("the token file {path} is readable by every account.").format(path=token_path),
                f"chmod o-rwx {token_path}",
            )
        )
    if kiosk.url.startswith("ws://"):
        findings.append(
            Finding(
                check,
                False,
                _(
                    "{url} is not encrypted: the token and the scans cross the network in clear."
                ).format(url=kiosk.url),
                _(
                    "give the bridge a certificate (tls_cert/tls_key), use a wss:// address "
                    "and set ca_file (docs/install-kiosk.md)."
                ),
            )
        )
    try:
        health = asyncio.run(_health(kiosk, token, timeout))
    except Exception as exc:
        findings.append(_bridge_failure(check, kiosk, exc))
        return findings
    findings.extend(_judge_health(check, health))
    if not any(not f.ok for f in findings):
        findings.append(
            Finding(
                check,
                True,
                _("{name}: bridge reached, token accepted, scanner and printer ready.").format(
                    name=kiosk.name
                ),
            )
        )
    return findings


async def _health(kiosk: Kiosk, token: str, timeout: float) -> dict[str, Any]:
    from kiosk_bridge.client import BridgeClient  # only the client: no hardware import

    client = BridgeClient(
        kiosk.url,
        token,
        cafile=kiosk.ca_file or None,
        name="pvp doctor",
        reconnect=False,
        open_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        await asyncio.wait_for(client.connect(), timeout * 2)
        return dict(await client.request("health.get"))
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def _bridge_failure(check: str, kiosk: Kiosk, exc: BaseException) -> Finding:
    code = getattr(exc, "code", None)
    if code in ("unauthorized", "forbidden"):
        return Finding(
            check,
            False,
            _("the bridge at {url} refused the token.").format(url=kiosk.url),
            _(
                "copy /etc/pvp-bridge/token from the kiosk into {path} again "
                "(the token changes when the bridge's is regenerated)."
            ).format(path=kiosk.token_file),
        )
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return Finding(
            check,
            False,
            _("the certificate of {url} is not trusted ({error}).").format(
                url=kiosk.url, error=getattr(exc, "verify_message", None) or exc
            ),
            _(
                "copy the kiosk's certificate (/etc/pvp-bridge/tls/cert.pem) to the staff PC "
                "and set ca_file to it; the address must match the certificate's name."
            ),
        )
    if isinstance(exc, ssl.SSLError):
        return Finding(
            check,
            False,
            _("TLS failed with {url} ({error}).").format(url=kiosk.url, error=exc),
            _("check that the address uses wss:// only when the bridge has a certificate."),
        )
    return Finding(
        check,
        False,
        _("the bridge at {url} does not answer ({error}).").format(
            url=kiosk.url, error=_describe(exc)
        ),
        _(
            "is the kiosk on? On the kiosk: systemctl status pvp-bridge; "
            "check the address, the port and the firewall."
        ),
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return _("no answer")
    if isinstance(exc, ConnectionRefusedError):
        return _("connection refused")
    text = str(exc) or type(exc).__name__
    return text


def _judge_health(check: str, health: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    scanners = health.get("scanners") or []
    if not scanners:
        findings.append(
            Finding(
                check,
                False,
                _("the bridge sees no scanner."),
                _(
                    "plug the scanner in and switch it on; on the kiosk, "
                    "`sudo -u pvp-bridge scanimage -L` must list it (group scanner)."
                ),
            )
        )
    if health.get("cups") != "ok":
        findings.append(
            Finding(
                check,
                False,
                _("the bridge cannot reach CUPS."),
                _("on the kiosk: systemctl status cups (then systemctl restart pvp-bridge)."),
            )
        )
    else:
        printers = health.get("printers") or []
        if not printers:
            findings.append(
                Finding(
                    check,
                    False,
                    _("the bridge sees no printer."),
                    _("add the printer in CUPS on the kiosk (lpadmin or http://localhost:631)."),
                )
            )
        for printer in printers:
            reasons = [r for r in printer.get("reasons", []) if r not in ("none", "")]
            if printer.get("state") in ("stopped", 5) or reasons:
                findings.append(
                    Finding(
                        check,
                        False,
                        _("printer {name} is not ready ({reasons}).").format(
                            name=printer.get("name", "?"),
                            reasons=", ".join(reasons) or str(printer.get("state")),
                        ),
                        _("see to the printer (paper, toner, jam), then: cupsenable {name}").format(
                            name=printer.get("name", "?")
                        ),
                    )
                )
    return findings


# --------------------------------------------------------------------------- terminal
def check_terminal(
    env: Mapping[str, str], size: tuple[int, int] | None, is_terminal: bool
) -> list[Finding]:
    """TERM known and with colours, window at least 80x24."""
    check = _("terminal")
    if not is_terminal:
        return [
            Finding(
                check,
                True,
                _("not run in a terminal: the terminal check was skipped."),
            )
        ]
    findings: list[Finding] = []
    term = env.get("TERM", "")
    colours = terminal_colours(env)
    if not term or term in ("dumb", "unknown"):
        findings.append(
            Finding(
                check,
                False,
                _("TERM is “{term}”: pvp cannot draw its screens.").format(term=term),
                _("use a real terminal; over SSH: ssh -t, and export TERM=xterm-256color."),
            )
        )
    elif colours < 16:
        findings.append(
            Finding(
                check,
                False,
                _("TERM={term} has no colours.").format(term=term),
                _("set TERM=xterm-256color (or xterm) in the terminal's settings."),
            )
        )
    if size is not None and (size[0] < MIN_COLUMNS or size[1] < MIN_LINES):
        findings.append(
            Finding(
                check,
                False,
                _(
                    "the window is {cols}x{lines}; pvp needs at least {min_cols}x{min_lines}."
                ).format(cols=size[0], lines=size[1], min_cols=MIN_COLUMNS, min_lines=MIN_LINES),
                _("enlarge the window (or reduce the font size)."),
            )
        )
    if not findings:
        findings.append(
            Finding(
                check,
                True,
                _("TERM={term}, {colours} colours, {cols}x{lines}.").format(
                    term=term,
                    colours=colours,
                    cols=size[0] if size else "?",
                    lines=size[1] if size else "?",
                ),
            )
        )
    return findings


def terminal_colours(env: Mapping[str, str]) -> int:
    """How many colours pvp will use, decided as Rich/Textual do from the environment."""
    forced = env.get("TEXTUAL_COLOR_SYSTEM", "")
    if forced in ("standard", "256", "truecolor"):
        return {"standard": 16, "256": 256, "truecolor": 16_777_216}[forced]
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return 16_777_216
    term = env.get("TERM", "").lower()
    if term in ("", "dumb", "unknown"):
        return 0
    suffix = term.rpartition("-")[2]
    return {"256color": 256, "16color": 16, "kitty": 256, "direct": 16_777_216}.get(suffix, 16)
