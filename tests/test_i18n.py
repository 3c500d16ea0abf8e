"""The UI speaks French by default: every message in the code has a French translation."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "pvp_tui" / "locale" / "fr" / "LC_MESSAGES" / "pvp.po"


def test_every_message_has_a_french_translation(tmp_path: Path) -> None:
    pot = tmp_path / "pvp.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--no-location",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_",
            "-k",
            "N_",
            "-o",
            str(pot),
            str(ROOT),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    with CATALOG.open("rb") as handle:
        # a fuzzy entry is not used at run time: the screen would show English
        french = {m.id: m.string for m in read_po(handle, locale="fr") if m.id and not m.fuzzy}
    # a counted message needs every plural form of French (its catalog header says how many)
    missing = sorted(
        str(m)
        for m in wanted
        if not french.get(m) or (isinstance(french[m], tuple | list) and not all(french[m]))
    )
    assert not missing, "untranslated (run scripts/update-catalog.sh, fill pvp.po):\n" + "\n".join(
        missing
    )


def test_no_literal_message_hides_inside_an_f_string() -> None:
    """Babel's extractor does not look inside f-strings: a message written there is never
    in the catalog, and the screen shows it in English."""
    import re

    hidden = re.compile(r"""\{_\(\s*["']""")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "pvp_tui").rglob("*.py")
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if hidden.search(line)
    ]
    assert not found, "move these _() calls out of their f-strings:\n" + "\n".join(found)


def test_french_is_the_default_and_english_on_request() -> None:
    from pvp_tui.core import i18n
    from pvp_tui.core.models import Status

    i18n.set_language("fr")
    assert Status.WAITING.label == "en attente"
    i18n.set_language("en")
    try:
        assert Status.WAITING.label == "waiting"
    finally:
        i18n.set_language("fr")


def test_a_request_speaks_its_own_language_whatever_the_process_speaks() -> None:
    import asyncio
    import contextvars
    import threading

    from pvp_tui.core import i18n
    from pvp_tui.core.models import Status

    seen: dict[str, str] = {}

    def label(name: str) -> None:
        seen[name] = Status.WAITING.label

    async def two_requests() -> None:
        async def answer(language: str) -> None:
            with i18n.using_language(language):
                await asyncio.sleep(0.01)  # the other request runs meanwhile
                # handed to a worker thread with the request's context, as servers do
                await asyncio.to_thread(label, language)

        await asyncio.gather(answer("en"), answer("fr"))

    asyncio.run(two_requests())
    assert seen == {"en": "waiting", "fr": "en attente"}
    # A thread started without the context, and the process afterwards: its own language.
    thread = threading.Thread(target=label, args=("plain",))
    with i18n.using_language("en"):
        contextvars.copy_context().run(label, "copied")
        thread.start()
        thread.join()
    assert seen["copied"] == "waiting" and seen["plain"] == "en attente"
    assert i18n.get_language() == "fr"


def test_placeholders_survive_translation() -> None:
    import re

    with CATALOG.open("rb") as handle:
        for message in read_po(handle, locale="fr"):
            if not (message.id and message.string):
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            fields = set(re.findall(r"\{(\w+)\}", ids[-1]))
            for form in forms:
                assert fields == set(re.findall(r"\{(\w+)\}", form)), message.id


def test_counted_messages_take_the_languages_plural_forms() -> None:
    from pvp_tui.core import i18n

    said = "{n} page scanned.", "{n} pages scanned."
    i18n.set_language("fr")
    try:  # French: 0 and 1 are singular
        assert [i18n.ngettext(*said, n).format(n=n) for n in (0, 1, 2)] == [
            "0 page numérisée.",
            "1 page numérisée.",
            "2 pages numérisées.",
        ]
        i18n.set_language("en")  # English: only 1 is
        assert [i18n.ngettext(*said, n).format(n=n) for n in (0, 1, 2)] == [
            "0 pages scanned.",
            "1 page scanned.",
            "2 pages scanned.",
        ]
    finally:
        i18n.set_language("fr")
