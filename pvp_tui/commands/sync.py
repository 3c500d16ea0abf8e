"""`pvp sync`: the site's sync with its hub, for support over SSH.

    pvp sync                 run the sync worker in the foreground (until Ctrl+C)
    pvp sync --once          send what waits now, say what was sent, then stop
    pvp sync --status        what waits, since when, the last success and the last error
    pvp sync --retry-held    send again the batches the hub refused (under a new key)

Exit codes: 0 done (or nothing to do), 1 something still waits or failed (the words say
why), 2 no hub configured (a usage mistake, like any config problem).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.i18n import _, ngettext

if TYPE_CHECKING:
    from ..core.sync import SyncStatus
    from .context import Context


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help=_("send the site's events to the region's hub"),
        description=_(
            "Send the events waiting in the outbox to the region's hub ([hub] in the "
            "config). Without an option: run the sync worker until Ctrl+C."
        ),
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help=_("send what waits now, then stop"))
    mode.add_argument(
        "--status", action="store_true", help=_("what waits, since when, and the last error")
    )
    mode.add_argument(
        "--retry-held",
        action="store_true",
        help=_("send again the batches the hub refused (after fixing the cause)"),
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help=_("with --once: how long to keep trying a batch (default: 60)"),
    )
    parser.set_defaults(run=run)


def run(context: Context, args: argparse.Namespace) -> int:
    from ..core.sync import Outbox

    hub = context.config.hub
    outbox = Outbox(context.desk.store)
    if args.status:
        print(status_text(outbox.status(configured=hub is not None), context))
        return 0
    if hub is None:
        print(
            "pvp: "
            + _("No hub is configured: add a [hub] table (url, token_file) to {config}.").format(
                config=context.config.source
            ),
            file=sys.stderr,
        )
        return 2
    if args.retry_held:
        count = outbox.retry_held()
        print(
            ngettext(
                "{n} refused event put back in line; pvp sync --once sends it.",
                "{n} refused events put back in line; pvp sync --once sends them.",
                count,
            ).format(n=count)
        )
        return 0
    from ..core import hub_uploads
    from ..core.pull import Puller, pull
    from ..core.site_status import StatusSender
    from ..core.sync import SyncWorker, TokenRefused

    # The foreground worker also sends the site's status (no kiosk: only the app knows
    # them), and the documents queued for the agent.
    worker = SyncWorker(
        context.desk.store,
        hub,
        tasks=[] if args.once else [StatusSender(context.config), hub_uploads.Uploader()],
    )
    worker.puller = Puller(worker, context.config)
    if args.once:
        # Another process's lease: wait for it to end (a holder that died lets it expire).
        deadline = time.monotonic() + max(args.wait, 0.0)
        while not worker.acquire():
            if time.monotonic() >= deadline:
                print(
                    "pvp: "
                    + _(
                        "Another pvp is sending (the sync worker runs there); see pvp sync "
                        "--status."
                    ),
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
        try:
            result = worker.drain(timeout=args.wait)
            try:
                uploaded = hub_uploads.send_all(worker) if not result.error else None
            except TokenRefused as exc:  # as for events: the same words, exit 1
                worker.outbox.failed(exc.words)
                print("pvp: " + exc.words, file=sys.stderr)
                return 1
            pulled = pull(worker, context.config)
        finally:
            worker._release()
        print(pulled_words(pulled))
        if uploaded is not None and uploaded.sent:
            print(
                ngettext(
                    "{n} document sent to the agent.",
                    "{n} documents sent to the agent.",
                    uploaded.sent,
                ).format(n=uploaded.sent)
            )
        print(
            ngettext(
                "Sent {events} event in {batches} batch(es): {applied} new to the hub, "
                "{duplicates} it already had.",
                "Sent {events} events in {batches} batch(es): {applied} new to the hub, "
                "{duplicates} it already had.",
                result.events,
            ).format(
                events=result.events,
                batches=result.batches,
                applied=result.applied,
                duplicates=result.duplicates,
            )
        )
        if result.held:
            print(
                ngettext(
                    "{n} event refused by the hub and kept aside (pvp sync --status).",
                    "{n} events refused by the hub and kept aside (pvp sync --status).",
                    result.held,
                ).format(n=result.held)
            )
        upload_error = uploaded.error if uploaded is not None else None
        if result.error or pulled.error or upload_error:
            print("pvp: " + (result.error or pulled.error or upload_error or ""), file=sys.stderr)
            return 1
        return 0
    # The foreground worker: SIGTERM ends it as Ctrl+C does (the lease is released). It
    # logs to pvp's log file as the app's worker does (uploads resumed, batches held...).
    from ..core.logs import configure_logging

    files = context.desk.config.log
    configure_logging(max_bytes=files.max_mb * 1_000_000, keep=files.keep)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: done.set())
    worker.start()
    print(_("Sync worker running (Ctrl+C to stop)."), flush=True)
    try:
        while not done.wait(0.5):
            if worker._thread is not None and not worker._thread.is_alive():
                break
    except KeyboardInterrupt:
        pass
    worker.stop(wait=5)
    if worker.stopped_by_token:
        print("pvp: " + (outbox.status().last_error or ""), file=sys.stderr)
        return 1
    return 0


def _local(moment: datetime | None, context: Context) -> str:
    if moment is None:
        return _("never")
    local = moment.astimezone(context.config.site.timezone)
    if local.date() == context.desk.today():
        return local.strftime("%H:%M:%S")
    return local.strftime("%d/%m/%Y %H:%M")


def status_text(status: SyncStatus, context: Context) -> str:
    """What `pvp sync --status` prints: plain words, in the site's language."""
    lines = []
    if not status.configured:
        lines.append(_("No hub is configured ([hub] in the config): nothing is sent."))
    elif status.failing_since is not None:
        lines.append(_("Offline since {when}.").format(when=_local(status.failing_since, context)))
    elif status.last_success_at is None:
        lines.append(_("Not in touch with the hub yet."))
    else:
        lines.append(_("Online."))
    if status.waiting:
        lines.append(
            ngettext(
                "{n} event waiting to be sent, the oldest since {when}.",
                "{n} events waiting to be sent, the oldest since {when}.",
                status.waiting,
            ).format(n=status.waiting, when=_local(status.oldest_queued_at, context))
        )
    else:
        lines.append(_("Nothing waiting to be sent."))
    if status.held_batches:
        lines.append(
            ngettext(
                "{n} event refused by the hub, kept aside (pvp sync --retry-held sends it "
                "again once the cause is fixed):",
                "{n} events refused by the hub, kept aside (pvp sync --retry-held sends them "
                "again once the cause is fixed):",
                status.held_events,
            ).format(n=status.held_events)
        )
        lines.extend(f"  - {error}" for error in status.held_errors)
    lines.append(_("Last success: {when}.").format(when=_local(status.last_success_at, context)))
    if status.last_error:
        lines.append(
            _("Last error ({when}): {error}").format(
                when=_local(status.last_error_at, context), error=status.last_error
            )
        )
    lines.append(
        ngettext("{n} event sent in all.", "{n} events sent in all.", status.sent).format(
            n=status.sent
        )
    )
    lines.append(
        _("A sync worker is running.") if status.worker_active else _("No sync worker is running.")
    )
    return "\n".join(lines)


def pulled_words(pulled: Any) -> str:
    """What a pull brought (`pvp sync --once`): counts only."""
    words = _(
        "Pulled from the hub: {partners} partner change(s), {appointments} appointment change(s)."
    ).format(partners=pulled.partners, appointments=pulled.appointments)
    if pulled.downloaded:
        words += " " + ngettext(
            "{n} document to print received.", "{n} documents to print received.", pulled.downloaded
        ).format(n=pulled.downloaded)
    return words
