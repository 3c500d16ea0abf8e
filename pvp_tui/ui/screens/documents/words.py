"""What the documents panel says: printer trouble and print jobs in plain words (bridge
errors: :func:`pvp_tui.core.kiosks.bridge_message`)."""

from __future__ import annotations

from kiosk_bridge.shapes import PrintJob

from ....core.i18n import N_, _

# Printer trouble: what happened, then what to do, per reason code.
PRINTER_ADVICE: dict[str, str] = {
    "paper_out": N_(
        "Printer: out of paper. Put paper back in tray 1; printing resumes by itself "
        "(F7 prints again if it was cancelled)."
    ),
    "paper_jam": N_(
        "Printer: paper jam. Open the printer, pull the stuck sheet out gently and close it."
    ),
    "toner_empty": N_("Printer: toner empty. Replace the cartridge, then F7 to print again."),
    "toner_low": N_("Printer: toner low. Printing goes on; have a cartridge ready."),
    "paper_low": N_("Printer: paper low. Add paper to tray 1 soon."),
    "door_open": N_("Printer: a cover is open. Close it; printing resumes by itself."),
    "paused": N_("Printer paused on the kiosk. Resume it (cupsenable), then F7 to print again."),
    "offline": N_(
        "Printer offline. Check it is switched on and plugged in; the job leaves when it answers."
    ),
    "rejecting": N_("The printer refuses jobs. Re-enable it (cupsaccept), then F7 to print again."),
}
JOB_STATES = {
    "pending": N_("waiting for the printer"),
    "held": N_("held"),
    "processing": N_("printing"),
    "stopped": N_("stopped"),
    "completed": N_("printed"),
    "canceled": N_("cancelled"),
    "aborted": N_("failed"),
}


def printer_advice(reasons: list[str]) -> str:
    """The most urgent printer problem's advice, or ''."""
    for code in PRINTER_ADVICE:
        if code in reasons and code not in ("toner_low", "paper_low"):
            return _(PRINTER_ADVICE[code])
    for code in ("toner_low", "paper_low"):
        if code in reasons:
            return _(PRINTER_ADVICE[code])
    return ""


def job_line(job: PrintJob) -> tuple[str, str]:
    """(text, level) for a print.job event: progress, trouble and what to do, or the end."""
    state = str(job.get("state", "pending"))
    label = _(JOB_STATES.get(state, state))
    number = job.get("job")
    advice = printer_advice(list(job.get("printer_reasons") or []))
    if state == "completed":
        return _("Print job {job}: printed.").format(job=number), "ok"
    if state in ("aborted", "canceled"):
        reason = job.get("reason") or state
        text = _("Print job {job} {state} ({reason}). F7 to print again.").format(
            job=number, state=label, reason=reason
        )
        return (f"{text} {advice}".strip(), "error")
    if advice:
        return _("Print job {job}: {state}. {advice}").format(
            job=number, state=label, advice=advice
        ), "warn"
    return _("Print job {job}: {state}…").format(job=number, state=label), "info"
