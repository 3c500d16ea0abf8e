"""The documents panel's list of the visit's documents, and the selected one's type and
consent."""

from __future__ import annotations

from datetime import UTC, tzinfo

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Checkbox, OptionList, Select
from textual.widgets.option_list import Option

from ....core.clock import from_iso
from ....core.documents import DocTrace, type_label
from ....core.hub_documents import HubDocument
from ....core.hub_uploads import GAVE_UP, Upload
from ....core.i18n import N_, _
from ... import format
from ...widgets.tick import Tick

STATE_WORDS = {
    "captured": N_("scanned"),
    "sent": N_("sent"),
    "printed": N_("printed"),
    "purged": N_("deleted"),
}


HUB_PREFIX = "hub:"  # a line's id for a document an agent sent (not yet on the kiosk)
HUB_STATE_WORDS = {
    "pending": N_("downloading"),
    "received": N_("to print"),
    "printed": N_("printed"),
    "print_failed": N_("not printed"),
    "gone": N_("deleted"),
    "erased": N_("deleted"),
}


def hub_line(doc: HubDocument) -> str:
    """'⇩ From the agent · Other · 1 p. · to print' (the printer's code when it failed)."""
    pages = _("{n} p.").format(n=doc.pages) if doc.pages else "?"
    state = _(HUB_STATE_WORDS.get(doc.state, doc.state))
    if doc.state == "print_failed" and doc.print_error:
        state += f" ({doc.print_error})"
    origin = _("From the agent")
    return f"⇩ {origin} · {type_label(doc.doc_type)} · {pages} · {state}"


def upload_words(upload: Upload, tz: tzinfo | None) -> str:
    """Where the document sent to the agent stands, with the time of its last step:
    'waiting to send (10:02)', '40 % sent (10:02)', 'sent at 10:03', 'opened by the agent
    at 10:05', 'refused by the hub (code)', 'not sent: given up after repeated failures
    (HTTP 500)', 'not sent (consent withdrawn or visit over)'."""

    def at(text: str | None) -> str:
        try:  # a stored value that is not a time never breaks the list
            return format.clock_time(from_iso(text), tz or UTC) if text else ""
        except (ValueError, TypeError):
            return "?"

    match upload.state:
        case "waiting" if upload.sent_bytes:
            return _("{percent} % sent ({time})").format(
                percent=int(upload.fraction * 100), time=at(upload.queued_at)
            )
        case "waiting":
            return _("waiting to send ({time})").format(time=at(upload.queued_at))
        case "sent":
            return _("sent at {time}").format(time=at(upload.sent_at))
        case "opened":
            return _("opened by the agent at {time}").format(time=at(upload.opened_at))
        case "refused" if (upload.error or "").startswith(f"{GAVE_UP}: "):
            # Given up after failing again and again (hub_uploads.TRIES_MAX): the last error.
            return _("not sent: given up after repeated failures ({error})").format(
                error=(upload.error or "").removeprefix(f"{GAVE_UP}: ")
            )
        case "refused" if upload.error == "not_a_valid_pdf":
            return _("refused by the hub: not a valid PDF (scan it again)")
        case "refused":
            return _("refused by the hub ({code})").format(code=upload.error or "?")
    return _("not sent (consent withdrawn or visit over)")


def doc_line(
    doc: DocTrace, missing: bool, upload: Upload | None = None, tz: tzinfo | None = None
) -> str:
    """'▣ Payslip · 2 p. · scanned · consent': `missing`, the kiosk no longer has it;
    once sent to the agent, the upload's step instead of 'sent' (`upload_words`), or,
    when the pages changed since, that the agent's copy was withdrawn."""
    pages = _("{n} p.").format(n=doc.pages)
    state = _(STATE_WORDS[doc.state])
    if upload is not None and upload.sha256 != doc.sha256:
        state = "⇧ " + _("earlier version withdrawn (F9 sends this one)")
    elif upload is not None and doc.state in ("sent", "printed"):
        state = "⇧ " + upload_words(upload, tz)
    consent = " · " + _("consent") if doc.consent else ""
    gone = " · " + _("not on the kiosk") if missing else ""
    return f"▣ {type_label(doc.type)} · {pages} · {state}{consent}{gone}"


class DocumentList(OptionList):
    """One line per document of the visit; the highlighted one is the selected one."""

    def __init__(self) -> None:
        super().__init__(id="doc-list")

    def on_mount(self) -> None:
        self.border_title = _("Documents")

    def on_resize(self) -> None:
        # The border's corners and the room Textual keeps around a subtitle.
        self.border_subtitle = format.hints(_("+ add pages · ^t delete"), self.size.width - 6)

    def show(
        self,
        docs: list[DocTrace],
        missing: set[str],
        selected: str | None,
        hub: tuple[HubDocument, ...] = (),
        uploads: dict[str, Upload] | None = None,
        tz: tzinfo | None = None,
    ) -> str | None:
        """List the agent's documents (`hub`, first) and `docs`, highlight `selected` (else
        the first one to print, else the last one): returns the highlighted line's id
        (None when there is none)."""
        self.clear_options()
        self.add_options([Option(hub_line(h), id=HUB_PREFIX + h.id) for h in hub])
        sent = uploads or {}
        self.add_options(
            [Option(doc_line(d, d.id in missing, sent.get(d.id), tz), id=d.id) for d in docs]
        )
        self.border_title = _("Documents ({n})").format(n=len(docs) + len(hub))
        ids = [HUB_PREFIX + h.id for h in hub] + [d.id for d in docs]
        if not ids:
            return None
        to_print = [HUB_PREFIX + h.id for h in hub if h.state == "received"]
        fallback = to_print[0] if to_print else ids[-1]
        target = selected if selected in ids else fallback
        self.highlighted = ids.index(target)
        return target

    def update_line(
        self, doc: DocTrace, missing: bool, upload: Upload | None = None, tz: tzinfo | None = None
    ) -> None:
        self.replace_option_prompt(doc.id, doc_line(doc, missing, upload, tz))


class DocumentOptions(Horizontal):
    """The selected document's type, and whether the visitor agrees to send it."""

    class TypeChosen(Message):
        def __init__(self, doc_type: str) -> None:
            super().__init__()
            self.doc_type = doc_type

    class ConsentChosen(Message):
        def __init__(self, consent: bool) -> None:
            super().__init__()
            self.consent = consent

    def __init__(self, types: tuple[str, ...]) -> None:
        super().__init__(id="doc-options", classes="doc-row")
        self._types = types

    def compose(self) -> ComposeResult:
        types = self._types
        yield Select(
            [(type_label(t), t) for t in types],
            value=types[-1] if "other" not in types else "other",
            allow_blank=False,
            compact=True,
            id="doc-type",
        )
        yield Tick(_("Visitor agrees to send it"), False, compact=True, id="consent")

    def show(self, doc: DocTrace) -> None:
        """Show a document's type and consent (no change is reported for it)."""
        with self.prevent(Select.Changed, Checkbox.Changed):
            self.query_one("#doc-type", Select).value = doc.type
            self.query_one("#consent", Checkbox).value = doc.consent

    def doc_type(self) -> str:
        """The type a new scan's document gets."""
        return str(self.query_one("#doc-type", Select).value)

    @on(Select.Changed, "#doc-type")
    def _type_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.post_message(self.TypeChosen(str(event.value)))

    @on(Checkbox.Changed, "#consent")
    def _consent_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.post_message(self.ConsentChosen(bool(event.value)))
