"""UI language. Catalogs are gettext .po files shipped in pvp_tui/locale.

Messages are written in English in the code (the msgids); French is the default language
of the app and comes from locale/fr/LC_MESSAGES/pvp.po, read with Babel at start, so the
repository holds no compiled .mo file.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

from .config import LANGUAGES

__all__ = ["LANGUAGES", "N_", "_", "get_language", "gettext", "resolve_language", "set_language"]

DEFAULT_LANGUAGE = "fr"
_current = DEFAULT_LANGUAGE


@cache
def _catalog(language: str) -> dict[str, str]:
    if language == "en":
        return {}
    path = resources.files("pvp_tui").joinpath("locale", language, "LC_MESSAGES", "pvp.po")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy and isinstance(message.id, str)
    }


def set_language(language: str) -> None:
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (expected one of {LANGUAGES})")
    _current = language


def get_language() -> str:
    return _current


def resolve_language(explicit: str | None, configured: str | None) -> str:
    """--lang, then PVP_LANG, then the site config, then French."""
    return explicit or os.environ.get("PVP_LANG") or configured or DEFAULT_LANGUAGE


def gettext(message: str) -> str:
    return _catalog(_current).get(message, message)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for the catalog where it is defined; translate it where it is shown."""
    return message
