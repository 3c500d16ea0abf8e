"""`pvp-hub`: run the hub (`serve`, `migrate`) and set up a region (`admin ...`).

Every command resolves its settings the same way: --config / PVP_HUB_CONFIG, then
PVP_HUB_* variables, then options. Exit codes: 0 done, 1 refused, 2 usage or config.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pvp_common.checks import ConfigError

from .config import ENV_PREFIX, HubConfig, config_path, load_hub_config

EXIT_REFUSED = 1
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        config = load_hub_config(
            config_path(args.config),
            url=args.db,
            **{k: getattr(args, k, None) for k in ("host", "port", "workers")},
            forwarded_allow_ips=_split(getattr(args, "forwarded_allow_ips", None)),
        )
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    from .errors import HubError

    try:
        result: int = args.run(config, args)
        return result
    except HubError as exc:
        print(f"pvp-hub: {exc.message}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--config", help="the hub's TOML file (else PVP_HUB_CONFIG)")
    common.add_argument(
        "--db", help="database URL: sqlite:///PATH or postgresql+psycopg://... (else PVP_HUB_DB)"
    )
    parser = Parser(prog="pvp-hub", description="The regional hub of PVP Relais.")
    commands = parser.add_subparsers(title="commands", parser_class=Parser)

    serve = commands.add_parser("serve", parents=[common], help="run the hub (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8470)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated addresses of the reverse proxies whose X-Forwarded-* headers "
        "are believed (default: none)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="create the demo region if the database has none"
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", parents=[common], help="update the schema")
    migrate.set_defaults(run=_migrate)

    purge = commands.add_parser(
        "purge", parents=[common], help="erase visitors' names past their day, expired sessions"
    )
    purge.set_defaults(run=_purge)

    openapi = commands.add_parser(
        "openapi", help="print the API's OpenAPI document (docs/hub-openapi.json)"
    )
    openapi.set_defaults(run=_openapi, config=None, db=None)

    admin = commands.add_parser("admin", help="regions, sites, partners, agents, tokens")
    areas = admin.add_subparsers(title="what", parser_class=Parser, required=True)

    def leaf(
        area: argparse._SubParsersAction[Parser], name: str, helptext: str, run: Callable[..., int]
    ) -> Parser:
        sub = area.add_parser(name, parents=[common], help=helptext)
        sub.set_defaults(run=run)
        return sub

    def with_region(sub: Parser) -> Parser:
        sub.add_argument("--region", help="the region's id (needed when there are several)")
        return sub

    region = areas.add_parser("region", help="regions").add_subparsers(
        parser_class=Parser, required=True
    )
    add = leaf(region, "add", "create a region", _region_add)
    add.add_argument("id")
    add.add_argument("name")
    listing = leaf(region, "list", "list regions", _region_list)
    listing.add_argument("--json", action="store_true")

    site = areas.add_parser("site", help="sites").add_subparsers(parser_class=Parser, required=True)
    add = with_region(leaf(site, "add", "create a site", _site_add))
    add.add_argument("id", help="the site's id, as in its config's [site] id")
    add.add_argument("name")
    add.add_argument("--timezone", default="Europe/Paris")
    listing = with_region(leaf(site, "list", "list the region's sites", _site_list))
    listing.add_argument("--json", action="store_true")

    partner = areas.add_parser("partner", help="partners").add_subparsers(
        parser_class=Parser, required=True
    )
    add = with_region(leaf(partner, "add", "create or replace a partner", _partner_add))
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--prefix", required=True, help="ticket prefix, 1 to 3 capital letters")
    add.add_argument("--interview-minutes", type=int, default=20)
    add.add_argument(
        "--hours",
        action="append",
        default=[],
        metavar="DAY=RANGES",
        help="a permanence day, e.g. mon=09:00-12:00,13:30-17:00 (repeat for each day)",
    )
    add.add_argument("--document-type", action="append", dest="document_types")
    add.add_argument("--room-url", help="the room URL pattern, with {ticket} and {site}")
    add.add_argument("--room-api", help="the room API's https URL (the state's Visio)")
    add.add_argument(
        "--room-domain", action="append", dest="room_domains", help="an allowed visio host"
    )
    imported = with_region(
        leaf(
            partner,
            "import",
            "create or replace partners from [[partners]] tables",
            _partner_import,
        )
    )
    imported.add_argument("file", type=Path, help="a TOML file (a site config's shape)")
    removed = with_region(
        leaf(partner, "remove", "take a partner out of the sites' directory", _partner_remove)
    )
    removed.add_argument("id")
    client = with_region(
        leaf(
            partner,
            "room-client",
            "set a partner's room API client (Visio's client credentials; secret on stdin)",
            _partner_room_client,
        )
    )
    client.add_argument("id", help="the partner (added with --room-api)")
    client.add_argument("--client-id", required=True)
    client.add_argument(
        "--scope", required=True, help="the e-mail of the Visio user who will own the rooms"
    )
    listing = with_region(leaf(partner, "list", "list the region's partners", _partner_list))
    listing.add_argument("--json", action="store_true")

    agent = areas.add_parser("agent", help="partners' agents").add_subparsers(
        parser_class=Parser, required=True
    )
    add = with_region(leaf(agent, "add", "create an agent", _agent_add))
    add.add_argument("login", help="the agent's e-mail address")
    add.add_argument("--name", required=True)
    add.add_argument("--partner", required=True)
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--site", action="append", dest="sites", help="a site (repeat)")
    scope.add_argument("--all-sites", action="store_true")
    listing = with_region(leaf(agent, "list", "list the region's agents", _agent_list))
    listing.add_argument("--json", action="store_true")
    for name, helptext, disable in (
        ("disable", "cut an agent off (sessions ended, no sign-in)", True),
        ("enable", "let a disabled agent sign in again", False),
    ):
        switch = with_region(leaf(agent, name, helptext, _agent_switch))
        switch.add_argument("login")
        switch.set_defaults(disable=disable)

    admin_area = areas.add_parser("admin", help="admin accounts").add_subparsers(
        parser_class=Parser, required=True
    )
    add = leaf(admin_area, "add", "create an admin account", _admin_add)
    add.add_argument("login")
    add.add_argument("--name", required=True)
    add.add_argument("--region", help="the region it administers (default: every region)")
    listing = leaf(admin_area, "list", "list admin accounts", _admin_list)
    listing.add_argument("--json", action="store_true")

    password = leaf(areas, "password", "set an agent's or an admin's password", _password)
    password.add_argument("login")
    password.add_argument(
        "--password-stdin", action="store_true", help="read it from standard input"
    )

    token = areas.add_parser("token", help="site tokens").add_subparsers(
        parser_class=Parser, required=True
    )
    issue = with_region(leaf(token, "issue", "issue a token for a site (shown once)", _token_issue))
    issue.add_argument("site")
    issue.add_argument("--label", default="", help="where it is used, e.g. the staff PC")
    issue.add_argument("--out", type=Path, help="write it to this file (mode 0600) instead")
    listing = with_region(
        leaf(token, "list", "list tokens (never the tokens themselves)", _token_list)
    )
    listing.add_argument("--site")
    listing.add_argument("--json", action="store_true")
    revoke = leaf(token, "revoke", "revoke a token by its id", _token_revoke)
    revoke.add_argument("token_id")

    appointment = areas.add_parser(
        "appointment", help="visitors' appointments at the sites"
    ).add_subparsers(parser_class=Parser, required=True)
    add = with_region(
        leaf(appointment, "add", "add an appointment (or change one with --id)", _appointment_add)
    )
    add.add_argument("--site", required=True, help="the site's id")
    add.add_argument("--partner", required=True, help="the partner's id")
    add.add_argument(
        "--at",
        required=True,
        metavar="WHEN",
        help="its start, e.g. 2026-12-07T10:30 (the site's local time unless an offset is given)",
    )
    add.add_argument("--minutes", type=int, help="its length in minutes (optional)")
    add.add_argument("--name", required=True, help="the name to call the visitor by")
    add.add_argument("--phone", help="a phone to warn the visitor (optional)")
    add.add_argument("--room-url", help="the visio room given with the booking (optional)")
    add.add_argument("--id", dest="appointment_id", help="an appointment's id: change it")
    cancel = with_region(
        leaf(appointment, "cancel", "cancel an appointment by its id", _appointment_cancel)
    )
    cancel.add_argument("appointment_id")
    listing = with_region(
        leaf(appointment, "list", "list appointments, soonest first", _appointment_list)
    )
    listing.add_argument("--site")
    listing.add_argument("--day", help="one local day, e.g. 2026-12-07")
    listing.add_argument("--json", action="store_true")

    rdv = areas.add_parser(
        "rdv-sp", help="organisations of RDV Service Public whose appointments reach the sites"
    ).add_subparsers(parser_class=Parser, required=True)
    connect = with_region(
        leaf(rdv, "add", "connect an organisation (prints its webhook's URL)", _rdv_sp_add)
    )
    connect.add_argument("organisation", type=int, help="its id in RDV Service Public")
    connect.add_argument("--label", required=True, help="its name, e.g. CAF du Lot")
    connect.add_argument("--map", required=True, type=Path, help="its mapping (TOML)")
    connect.add_argument(
        "--secret-file", type=Path, help="the webhook's secret (else one is made and shown once)"
    )
    remap = with_region(leaf(rdv, "map", "change an organisation's mapping", _rdv_sp_map))
    remap.add_argument("organisation", type=int)
    remap.add_argument("--map", required=True, type=Path)
    account = with_region(
        leaf(rdv, "set-account", "the API account used to catch up", _rdv_sp_account)
    )
    account.add_argument("organisation", type=int)
    account.add_argument("--url", required=True, help="e.g. https://www.rdv-solidarites.fr")
    account.add_argument("--email", required=True, help="the service account's e-mail")
    source = account.add_mutually_exclusive_group(required=True)
    source.add_argument("--password-file", type=Path)
    source.add_argument("--password-stdin", action="store_true")
    listing = with_region(leaf(rdv, "list", "connected organisations (no secret)", _rdv_sp_list))
    listing.add_argument("--json", action="store_true")
    gone = with_region(leaf(rdv, "remove", "disconnect an organisation", _rdv_sp_remove))
    gone.add_argument("organisation", type=int)

    rdv_sync = commands.add_parser("rdv-sp", help="RDV Service Public").add_subparsers(
        parser_class=Parser, required=True
    )
    catch_up = rdv_sync.add_parser(
        "sync", parents=[common], help="catch up on appointments through the API, now"
    )
    catch_up.set_defaults(run=_rdv_sp_sync)
    catch_up.add_argument("--from", dest="first", help="first day (default: yesterday)")
    catch_up.add_argument("--to", dest="last", help="last day (default: in 14 days)")
    catch_up.add_argument("--organisation", type=int, help="only this one")
    return parser


# ------------------------------------------------------------------------ the service
def _engine(config: HubConfig) -> Any:
    from .database import make_engine, migrate

    engine = make_engine(config.database_url, pool_size=2)
    migrate(engine)
    return engine


def _serve(config: HubConfig, args: argparse.Namespace) -> int:
    import uvicorn

    from .demo import ensure_demo_region
    from .documents import DocumentKeyError, load_key

    if config.documents.key_file is not None:
        try:
            load_key(config.documents.key_file)  # a bad key stops the hub before it serves
        except DocumentKeyError as exc:
            print(f"pvp-hub: {exc}", file=sys.stderr)
            return EXIT_USAGE
    engine = _engine(config)
    if (config.is_default or args.demo) and ensure_demo_region(engine):
        print("pvp-hub: created the demo region (pvp-hub admin token issue demo: a site token)")
    engine.dispose()
    # The app is built in each worker from the environment: pass the resolved settings on.
    os.environ[ENV_PREFIX + "DB"] = config.database_url
    if args.config:
        os.environ[ENV_PREFIX + "CONFIG"] = args.config
    print(f"pvp-hub: serving http://{config.host}:{config.port}/api/v1 ({_where(config)})")
    uvicorn.run(
        "pvp_hub.api:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        proxy_headers=bool(config.forwarded_allow_ips),
        forwarded_allow_ips=list(config.forwarded_allow_ips) or None,
        # Sites sync every few seconds: keep their connection open between syncs.
        timeout_keep_alive=75,
        server_header=False,
        log_level="info",
        access_log=config.access_log,
    )
    return 0


def _where(config: HubConfig) -> str:
    url = config.database_url
    if url.startswith("sqlite:///"):
        return "SQLite " + url.removeprefix("sqlite:///")
    return "PostgreSQL " + url.split("@")[-1]  # never print a password


def openapi_document() -> str:
    """The API's OpenAPI document, as committed in docs/hub-openapi.json."""
    from sqlalchemy import create_engine

    from .api import create_app

    # An in-memory engine that nothing here connects: the document needs no database.
    app = create_app(HubConfig(database_url="sqlite://"), create_engine("sqlite://"))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _openapi(_config: HubConfig, _args: argparse.Namespace) -> int:
    sys.stdout.write(openapi_document())
    return 0


def _migrate(config: HubConfig, _args: argparse.Namespace) -> int:
    _engine(config).dispose()
    print(f"pvp-hub: schema up to date ({_where(config)})")
    return 0


def _purge(config: HubConfig, _args: argparse.Namespace) -> int:
    from . import people, sync

    engine = _engine(config)
    counts = sync.purge(engine) | people.purge(engine)
    print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    return 0


# ------------------------------------------------------------------------------ admin
def _show(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> int:
    if as_json:
        print(json.dumps(rows, default=str, indent=2, ensure_ascii=False))
        return 0
    table = [columns] + [["" if r[c] is None else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _region_add(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    directory.create_region(_engine(config), args.id, args.name)
    print(f"region {args.id} created")
    return 0


def _region_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    return _show(directory.list_regions(_engine(config)), ["slug", "name", "created_at"], args.json)


def _site_add(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    directory.create_site(_engine(config), args.region, args.id, args.name, args.timezone)
    print(f"site {args.id} created; give it a token: pvp-hub admin token issue {args.id}")
    return 0


def _site_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    rows = directory.list_sites(_engine(config), args.region)
    return _show(rows, ["slug", "name", "timezone"], args.json)


def _partner_add(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory
    from .errors import HubError

    hours: dict[str, list[str]] = {}
    for item in args.hours:
        day, _, ranges = item.partition("=")
        if not ranges:
            raise HubError(
                400, "bad_hours", f"--hours {item!r}: write DAY=RANGES, e.g. mon=09:00-12:00"
            )
        hours[day.strip()] = [r.strip() for r in ranges.split(",") if r.strip()]
    table: dict[str, Any] = {
        "id": args.id,
        "name": args.name,
        "prefix": args.prefix,
        "interview_minutes": args.interview_minutes,
        "hours": hours,
    }
    if args.document_types:
        table["document_types"] = args.document_types
    if args.room_url:
        table["room_url"] = args.room_url
    if args.room_domains and not args.room_api:
        table["room_domains"] = args.room_domains
    if args.room_api and args.room_url:
        raise HubError(400, "room_rule", "give --room-url or --room-api, not both")
    room_api = None
    if args.room_api:
        room_api = directory.check_room_api(args.room_api, args.room_domains or [])
    partners = directory.check_partners([table])
    for line in directory.save_partners(_engine(config), args.region, partners, room_api):
        print(line)
    return 0


def _partner_import(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory
    from .errors import HubError

    try:
        data = tomllib.loads(args.file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HubError(400, "bad_file", f"{args.file}: {exc}") from None
    partners = directory.check_partners(data.get("partners"))
    for line in directory.save_partners(_engine(config), args.region, partners):
        print(line)
    return 0


def _partner_remove(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    print(directory.remove_partner(_engine(config), args.region, args.id))
    return 0


def _partner_room_client(config: HubConfig, args: argparse.Namespace) -> int:
    from . import rooms
    from .errors import HubError

    secret = sys.stdin.readline().strip()
    if not secret or "@" not in args.scope:
        raise HubError(
            400,
            "room_client",
            "give the client secret on standard input and an e-mail as --scope",
        )
    engine = _engine(config)
    if not rooms.set_api_client(engine, args.region, args.id, (args.client_id, secret, args.scope)):
        raise HubError(404, "unknown_partner", f"no partner {args.id} in this region")
    print(f"room API client set for {args.id}")
    return 0


def _partner_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    rows = directory.list_partners(_engine(config), args.region)
    for row in rows:
        row["room"] = (row["room"] or {}).get("kind", "")
    return _show(rows, ["slug", "name", "prefix", "interview_minutes", "room"], args.json)


def _agent_add(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    sites = None if args.all_sites else args.sites
    directory.create_agent(_engine(config), args.region, args.login, args.name, args.partner, sites)
    print(f"agent {args.login} created; set a password: pvp-hub admin password {args.login}")
    return 0


def _agent_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    rows = directory.list_agents(_engine(config), args.region)
    for row in rows:
        row["sites"] = "all" if row.pop("all_sites") else str(row["site_count"])
    return _show(rows, ["login", "name", "partner", "sites", "has_password", "disabled"], args.json)


def _agent_switch(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    off = args.disable
    changed = directory.set_agent_disabled(_engine(config), args.region, args.login, off)
    done = (
        "disabled: signed out everywhere, can no longer sign in"
        if off
        else "enabled: can sign in again"
    )
    same = "was already disabled" if off else "was not disabled"
    print(f"agent {args.login} {done if changed else same}")
    return 0


def _admin_add(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    directory.create_admin(_engine(config), args.region, args.login, args.name)
    print(f"admin {args.login} created; set a password: pvp-hub admin password {args.login}")
    return 0


def _admin_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    rows = directory.list_admins(_engine(config))
    return _show(rows, ["login", "name", "region", "has_password"], args.json)


def _password(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory
    from .errors import HubError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise HubError(400, "mismatch", "the two passwords differ")
    kind = directory.set_password(_engine(config), args.login, password)
    print(f"password set for the {kind} {args.login}")
    return 0


def _token_issue(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    token_id, token = directory.issue_token(_engine(config), args.region, args.site, args.label)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        print(f"token {token_id} for {args.site} written to {args.out}")
    else:
        print(f"token {token_id} for {args.site} (shown once; the hub keeps only its hash):")
        print(token)
    return 0


def _token_list(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    rows = directory.list_tokens(_engine(config), args.region, args.site)
    return _show(rows, ["id", "site", "label", "created_at", "revoked_at"], args.json)


def _token_revoke(config: HubConfig, args: argparse.Namespace) -> int:
    from . import directory

    directory.revoke_token(_engine(config), args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def _appointment_add(config: HubConfig, args: argparse.Namespace) -> int:
    import uuid
    from datetime import datetime, timedelta

    from . import appointments
    from .errors import HubError

    try:
        starts_at = datetime.fromisoformat(args.at)
    except ValueError:
        raise HubError(
            400, "bad_time", f"--at {args.at!r}: write a date and time, e.g. 2026-12-07T10:30"
        ) from None
    if args.minutes is not None and not 1 <= args.minutes <= 480:
        raise HubError(400, "bad_minutes", "--minutes: from 1 to 480")
    wanted = None
    if args.appointment_id:
        try:
            wanted = uuid.UUID(args.appointment_id)
        except ValueError:
            raise HubError(
                404, "unknown_appointment", f"no appointment {args.appointment_id!r}"
            ) from None
    item = appointments.AppointmentInput(
        site=args.site,
        partner=args.partner,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=args.minutes) if args.minutes else None,
        name=args.name,
        phone=args.phone,
        room_url=args.room_url,
    )
    appointment_id, what = appointments.upsert(_engine(config), args.region, item, wanted)
    print(f"appointment {appointment_id} {what}")
    return 0


def _appointment_cancel(config: HubConfig, args: argparse.Namespace) -> int:
    from . import appointments

    print(appointments.cancel(_engine(config), args.region, args.appointment_id))
    return 0


def _appointment_list(config: HubConfig, args: argparse.Namespace) -> int:
    from datetime import date

    from . import appointments
    from .errors import HubError

    day = None
    if args.day:
        try:
            day = date.fromisoformat(args.day)
        except ValueError:
            raise HubError(400, "bad_day", f"--day {args.day!r}: write it as 2026-12-07") from None
    rows = appointments.list_appointments(_engine(config), args.region, args.site, day)
    columns = ["id", "site", "partner", "starts_at", "name", "status", "source"]
    return _show(rows, columns, args.json)


# ------------------------------------------------------------------- RDV Service Public
def _read_secret_file(path: Path, what: str) -> str:
    from .errors import HubError

    try:
        return path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise HubError(400, "unreadable_file", f"{what}: cannot read {path} ({exc})") from None


def _rdv_sp_add(config: HubConfig, args: argparse.Namespace) -> int:
    from .rdv_sp import admin

    secret = _read_secret_file(args.secret_file, "--secret-file") if args.secret_file else None
    text = _read_secret_file(args.map, "--map")
    endpoint_id, made = admin.add(
        _engine(config), args.region, args.organisation, args.label, text, str(args.map), secret
    )
    print(f"organisation {args.organisation} connected")
    print(f"webhook URL: https://HUB{admin.webhook_path(endpoint_id)}")
    print("  (HUB: the hub's public address; subscribe it to `rdv` in RDV Service Public)")
    if made:
        print(f"secret (shown once; enter it in RDV Service Public): {made}")
    return 0


def _rdv_sp_map(config: HubConfig, args: argparse.Namespace) -> int:
    from .rdv_sp import admin

    text = _read_secret_file(args.map, "--map")
    admin.set_mapping(_engine(config), args.region, args.organisation, text, str(args.map))
    print(f"organisation {args.organisation}: mapping changed (applied at the next catch-up)")
    return 0


def _rdv_sp_account(config: HubConfig, args: argparse.Namespace) -> int:
    from .rdv_sp import admin

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = _read_secret_file(args.password_file, "--password-file")
    admin.set_account(
        _engine(config), args.region, args.organisation, args.url, args.email, password
    )
    print(f"organisation {args.organisation}: API account set")
    return 0


def _rdv_sp_list(config: HubConfig, args: argparse.Namespace) -> int:
    from .rdv_sp import admin

    rows = admin.listing(_engine(config), args.region)
    columns = ["organisation", "label", "webhook", "account", "last_delivery", "aside"]
    columns += ["not_applied", "not_applied_error"]
    return _show(rows, columns, args.json)


def _rdv_sp_remove(config: HubConfig, args: argparse.Namespace) -> int:
    from .rdv_sp import admin

    admin.remove(_engine(config), args.region, args.organisation)
    print(f"organisation {args.organisation} disconnected")
    return 0


def _rdv_sp_sync(config: HubConfig, args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from .errors import HubError
    from .rdv_sp import intake

    def day(text: str | None, default: date, option: str) -> date:
        if text is None:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise HubError(400, "bad_day", f"{option} {text!r}: write it as 2026-12-07") from None

    today = date.today()
    first = day(args.first, today - timedelta(days=1), "--from")
    last = day(args.last, today + timedelta(days=intake.DAYS_AHEAD), "--to")
    if last < first or (last - first).days > 366:
        raise HubError(400, "bad_range", "--from must come before --to, within a year")
    engine = _engine(config)
    found = intake.endpoints(engine, args.organisation)
    if not found:
        raise HubError(
            404, "unknown_organisation", "no organisation of RDV Service Public connected"
        )
    failed = 0
    for endpoint in found:
        result = intake.catch_up(engine, endpoint, first, last)
        print(result.words())
        failed += result.error is not None
    return 1 if failed else 0
