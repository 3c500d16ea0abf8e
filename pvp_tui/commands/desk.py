"""The front desk from the command line: the same FrontDesk actions as the queue screen.

    pvp checkin --partner caf --name "Marie D." [--appointment 10:30] [--priority]
                [--need sight ...] [--phone P] [--note TEXT] [--json]
    pvp queue [--json]            pvp call [TICKET] (no ticket: call next)
    pvp start TICKET              pvp finish TICKET --outcome resolved
    pvp noshow TICKET             pvp cancel TICKET
    pvp transfer TICKET --partner ID
    pvp back TICKET               pvp note TICKET TEXT
    pvp appointments [--arrived ID]   (today's appointments from the hub; check one in)
    pvp purge

A refused action prints one line on stderr and exits 1 (the CLI's error handling lives in
pvp_tui/cli.py); it changed nothing, since every action is one transaction.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.clock import elapsed_minutes
from ..core.errors import PvpError
from ..core.frontdesk import (
    CheckIn,
    FrontDesk,
    KioskBusy,
    done_words,
    erasure_pending_message,
)
from ..core.i18n import _, ngettext
from ..core.models import Need, Outcome, Visit
from ..core.queue_rules import QueueEntry

if TYPE_CHECKING:
    from .context import Context


def register(subparsers: Any) -> None:
    json_option = argparse.ArgumentParser(add_help=False)
    json_option.add_argument(
        "--json", action="store_true", help=_("print JSON for scripts instead of text")
    )

    def add(name: str, run: Callable[[Context, argparse.Namespace], int], help_text: str) -> Any:
        parser = subparsers.add_parser(
            name, help=help_text, description=help_text, parents=[json_option]
        )
        parser.set_defaults(run=run)
        return parser

    def ticket(parser: Any) -> None:
        parser.add_argument("ticket", metavar="TICKET", help=_("ticket, for example C-007"))

    p = add("checkin", run_checkin, _("check a visitor in and give them a ticket"))
    p.add_argument(
        "--partner",
        required=True,
        metavar="ID",
        help=_("partner id or ticket letter, in any case: caf, CAF, C"),
    )
    p.add_argument("--name", required=True, help=_("name to call the visitor by"))
    p.add_argument(
        "--appointment", metavar="HH:MM", help=_("appointment time today: 10:30, 9h30, 9h")
    )
    p.add_argument("--priority", action="store_true", help=_("priority visitor"))
    p.add_argument(
        "--need",
        action="append",
        default=[],
        choices=[need.value for need in Need],
        metavar="NEED",
        help=_("accessibility need (repeatable): {needs}").format(
            needs=", ".join(need.value for need in Need)
        ),
    )
    p.add_argument("--phone", metavar="PHONE", help=_("phone number (optional)"))
    p.add_argument("--note", default="", help=_("free note"))

    add("queue", run_queue, _("list the waiting visitors in call order"))

    p = add(
        "appointments",
        run_appointments,
        _("list today's appointments from the hub, or check one in"),
    )
    p.add_argument(
        "--arrived",
        metavar="ID",
        help=_("check in the visitor of this appointment (its id, or the id's first characters)"),
    )

    p = add("call", run_call, _("call the next visitor, or the one with this ticket"))
    p.add_argument("ticket", nargs="?", metavar="TICKET", help=_("ticket (default: call next)"))

    p = add("start", run_start, _("start the interview of a called visitor"))
    ticket(p)

    p = add("finish", run_finish, _("finish an interview with its outcome"))
    ticket(p)
    p.add_argument(
        "--outcome",
        required=True,
        choices=[outcome.value for outcome in Outcome],
        metavar="OUTCOME",
        help=", ".join(outcome.value for outcome in Outcome),
    )

    p = add("noshow", run_no_show, _("mark a visitor who did not come as no-show"))
    ticket(p)
    p = add("cancel", run_cancel, _("cancel a visit"))
    ticket(p)
    p = add("transfer", run_transfer, _("send a visitor to another partner's queue"))
    ticket(p)
    p.add_argument(
        "--partner",
        required=True,
        metavar="ID",
        help=_("the other partner's id or ticket letter"),
    )
    p = add("back", run_back, _("put a visitor back to waiting"))
    ticket(p)
    p = add("note", run_note, _("replace a visit's note"))
    ticket(p)
    p.add_argument("text", metavar="TEXT", help=_("the note (empty to clear it)"))

    add(
        "purge",
        run_purge,
        _("erase personal data past retention and close visits left open on a previous day"),
    )


# --------------------------------------------------------------------------- commands
def run_checkin(context: Context, args: argparse.Namespace) -> int:
    desk = context.desk
    visit = desk.check_in(
        CheckIn(
            partner_id=args.partner,
            name=args.name,
            appointment=args.appointment,
            priority=args.priority,
            needs=tuple(Need(n) for n in dict.fromkeys(args.need)),
            phone=args.phone,
            note=args.note,
        )
    )
    entry = next((e for e in desk.queue() if e.visit.id == visit.id), None)
    if args.json:
        _print_json(
            _visit_json(
                entry.to_json(desk.config.site.timezone)
                if entry
                else visit.to_json(desk.config.site.timezone),
                args,
            )
        )
        return 0
    print(done_words(desk.config, "check_in", visit) + _who(visit, args))
    if entry is not None:
        print(_place(desk, entry))
    return 0


def run_appointments(context: Context, args: argparse.Namespace) -> int:
    """Today's appointments (the list the queue screen shows), or `--arrived ID`: the
    same check-in as Enter on the screen's line."""
    from ..core.appointments import dump, state_words

    desk = context.desk
    tz = desk.config.site.timezone
    lines = desk.appointments_of_day()
    if args.arrived:
        wanted = args.arrived.strip().lower()
        matches = [a for a in lines if a.id.startswith(wanted)] if wanted else []
        if len(matches) != 1:
            raise PvpError(
                "unknown_appointment",
                _(
                    "No single appointment today has an id starting with {id}: see pvp "
                    "appointments."
                ).format(id=args.arrived),
            )
        visit = desk.check_in_appointment(matches[0].id)
        return _report(
            desk, visit, args, done_words(desk.config, "check_in", visit) + _who(visit, args)
        )
    if args.json:
        rows = [dump(a, tz) for a in lines]
        _print_json([{**r, "name": None} if args.privacy else r for r in rows])
        return 0
    if not lines:
        print(_("No appointment today."))
    now = desk.now()
    for a in lines:
        partner = desk.config.partner(a.partner_id)
        name = "" if args.privacy else (a.name or _("(name erased)"))
        print(
            f"{a.starts_at.astimezone(tz):%H:%M}  {partner.name if partner else a.partner_id}"
            f"  {name}  {state_words(a, now)}  {a.id[:8]}"
        )
    return 0


def run_queue(context: Context, args: argparse.Namespace) -> int:
    desk = context.desk
    entries = desk.queue()
    if not entries and (words := desk.other_site_words()):
        print(f"pvp: {words}", file=sys.stderr)
    if args.json:
        _print_json(
            [_visit_json(entry.to_json(desk.config.site.timezone), args) for entry in entries]
        )
        return 0
    active = desk.active()
    if not entries:
        print(_("Nobody is waiting."))
    else:
        print(
            ngettext("{count} waiting:", "{count} waiting:", len(entries)).format(
                count=len(entries)
            )
        )
        now = desk.now()
        for entry in entries:
            visit = entry.visit
            waited = elapsed_minutes(visit.arrived_at, now)
            line = (
                "{pos:>3}. {ticket:<7} {partner:<20} {name:<20} {arrived} {waited:>8}  {estimate}"
            )
            print(
                line.format(
                    pos=entry.position,
                    ticket=visit.ticket,
                    partner=_clip(_partner(desk, visit), 20),
                    name=_clip(_name(visit, args), 20),
                    arrived=_hhmm(desk, visit.arrived_at),
                    waited=_("{n} min").format(n=waited),
                    estimate=_estimate(desk, entry),
                ).rstrip()
                + _flags(desk, visit)
            )
    if active:
        print(_("Called or at the kiosk:"))
        for visit in active:
            partner = _clip(_partner(desk, visit), 20)
            name = _clip(_name(visit, args), 20)
            print(f"     {visit.ticket:<7} {partner:<20} {name:<20} {visit.status.label}")
    return 0


def run_call(context: Context, args: argparse.Namespace) -> int:
    desk = context.desk
    try:  # the kiosks are checked in the call's own transaction: two desks cannot both miss it
        visit = (
            desk.call(args.ticket, unless_busy=True)
            if args.ticket
            else desk.call_next(unless_busy=True)
        )
    except KioskBusy as busy:  # a script may mean it (the next visitor gets ready): say it
        print(f"pvp: {busy.message}", file=sys.stderr)
        visit = desk.call(args.ticket) if args.ticket else desk.call_next()
    return _report(
        desk,
        visit,
        args,
        done_words(desk.config, "call", visit) + _who(visit, args),
    )


def run_start(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.start(args.ticket)
    message = done_words(context.desk.config, "start", visit)
    return _report(context.desk, visit, args, message)


def run_finish(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.finish(args.ticket, args.outcome)
    message = done_words(context.desk.config, "finish", visit)
    return _report(context.desk, visit, args, message)


def run_no_show(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.no_show(args.ticket)
    message = done_words(context.desk.config, "no_show", visit)
    return _report(context.desk, visit, args, message)


def run_cancel(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.cancel(args.ticket)
    message = done_words(context.desk.config, "cancel", visit)
    return _report(context.desk, visit, args, message)


def run_transfer(context: Context, args: argparse.Namespace) -> int:
    desk = context.desk
    old = desk.find(args.ticket).ticket
    visit = desk.transfer(args.ticket, args.partner)
    message = done_words(desk.config, "transfer", visit, old=old)
    return _report(desk, visit, args, message)


def run_back(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.back_to_waiting(args.ticket)
    message = done_words(context.desk.config, "back_to_waiting", visit)
    return _report(context.desk, visit, args, message)


def run_note(context: Context, args: argparse.Namespace) -> int:
    visit = context.desk.set_note(args.ticket, args.text)
    message = done_words(context.desk.config, "edit_note", visit)
    return _report(context.desk, visit, args, message)


def run_purge(context: Context, args: argparse.Namespace) -> int:
    done = context.desk.start_of_day()
    # Then the store's upkeep, all of it: an older file switched to incremental vacuum
    # (once), every free page handed back, the WAL cut when no reader holds it. Best
    # effort (a read-only or full disk): the erasure is done; an open app tries again.
    with contextlib.suppress(sqlite3.Error):
        context.desk.store.make_incremental()
    with contextlib.suppress(sqlite3.Error):
        context.desk.store.tidy(vacuum_pages=None)
    if args.json:
        _print_json(
            {
                "erased": done.erased,
                "closed_overnight": done.closed_overnight,
                "complete": done.erasure_complete,
            }
        )
    else:
        # Counts only: a purge report never names anybody.
        print(
            ngettext(
                "Personal data erased: {count} visit.",
                "Personal data erased: {count} visits.",
                done.erased,
            ).format(count=done.erased)
        )
        if done.closed_overnight:
            print(
                _("Visits left open on a previous day, now closed: {count}.").format(
                    count=done.closed_overnight
                )
            )
    if not done.erasure_complete:  # exit 1 with the reason: not every copy is gone yet
        raise PvpError("erasure_pending", erasure_pending_message())
    return 0


# ---------------------------------------------------------------------------- helpers
def _report(desk: FrontDesk, visit: Visit, args: argparse.Namespace, message: str) -> int:
    if args.json:
        _print_json(_visit_json(visit.to_json(desk.config.site.timezone), args))
    else:
        print(message)
    return 0


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _visit_json(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if args.privacy:
        data = {**data, "name": None, "phone": None, "note": None}
    return data


def _partner(desk: FrontDesk, visit: Visit) -> str:
    partner = desk.config.partner(visit.partner_id)
    return partner.name if partner else visit.partner_id


def _name(visit: Visit, args: argparse.Namespace) -> str:
    if args.privacy:
        return ""
    return visit.name if visit.name is not None else _("(name erased)")


def _who(visit: Visit, args: argparse.Namespace) -> str:
    name = _name(visit, args)
    return f" — {name}" if name else ""


def _place(desk: FrontDesk, entry: QueueEntry) -> str:
    wait = entry.wait_words(desk.now(), desk.config.site.timezone)
    if entry.eligible and wait is not None:
        return _("position {position}, {wait}").format(position=entry.position, wait=wait)
    if entry.opens_at is not None:
        when = entry.opens_at.strftime("%d/%m %H:%M")
        return _("position {position}, partner closed until {when}").format(
            position=entry.position, when=when
        )
    return _("position {position}, partner closed").format(position=entry.position)


def _estimate(desk: FrontDesk, entry: QueueEntry) -> str:
    wait = entry.wait_words(desk.now(), desk.config.site.timezone)
    if entry.eligible and wait is not None:
        return wait
    if entry.opens_at is not None:
        return _("closed until {when}").format(when=entry.opens_at.strftime("%d/%m %H:%M"))
    return _("partner closed")


def _flags(desk: FrontDesk, visit: Visit) -> str:
    flags = []
    if visit.appointment_at is not None:
        flags.append(_("appt. {time}").format(time=_hhmm(desk, visit.appointment_at)))
    if visit.priority:
        flags.append(_("priority visitor"))
    flags.extend(need.short for need in visit.needs)
    return ("  [" + ", ".join(flags) + "]") if flags else ""


def _hhmm(desk: FrontDesk, moment: datetime) -> str:
    return moment.astimezone(desk.config.site.timezone).strftime("%H:%M")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
