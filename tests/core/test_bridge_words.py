"""What staff read for a bridge error comes from one function, core.kiosks.bridge_message,
whichever error class raised it (the bridge's catalog, the client's own)."""

from __future__ import annotations

from kiosk_bridge.client import BridgeError
from kiosk_bridge.errors import CATALOG
from pvp_tui.core import i18n
from pvp_tui.core.kiosks import bridge_message, unreachable


def test_a_bridge_error_reads_in_the_apps_language() -> None:
    jam = BridgeError.from_reply(BridgeError("scanner_jammed").to_dict())
    try:
        i18n.set_language("fr")
        assert bridge_message(jam) == CATALOG["scanner_jammed"].fr
        assert bridge_message(unreachable()).startswith("La borne ne répond pas")
        i18n.set_language("en")
        assert bridge_message(jam) == CATALOG["scanner_jammed"].en
    finally:
        i18n.set_language("fr")


def test_an_error_without_words_is_its_code() -> None:
    assert bridge_message(BridgeError.local("odd", {})) == "odd"
    assert bridge_message(BridgeError.local("odd", {"en": "Odd."})) == "Odd."


def test_the_ui_has_no_other_bridge_words() -> None:
    from pvp_tui.ui.screens.documents import words
    from pvp_tui.ui.services import sessions

    assert not hasattr(words, "bridge_message")
    assert not hasattr(sessions, "_bridge_words")
    assert sessions.bridge_message is bridge_message
