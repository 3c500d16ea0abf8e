"""UI language. Catalogs are gettext .po files shipped in pvp_tui/locale.

Messages are written in English in the code (the msgids); French is the default language
of the app and comes from locale/fr/LC_MESSAGES/pvp.po. The repository holds no compiled
.mo file: the .po is read with Babel once, compiled into the user's cache directory under
a name keyed by the .po's content hash, and later starts load that .mo with the stdlib's
gettext (Babel is not even imported then: a faster start). A changed .po gets a new key.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
import hashlib
import io
import os
import struct
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from .config import LANGUAGES

__all__ = [
    "LANGUAGES",
    "N_",
    "_",
    "get_language",
    "gettext",
    "in_language",
    "ngettext",
    "resolve_language",
    "set_language",
    "using_language",
]

DEFAULT_LANGUAGE = "fr"
_current = DEFAULT_LANGUAGE
# A server answering each request in its reader's language (the hub's pages) sets it per
# request with using_language(); the staff app's threads keep the process-wide one.
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("language", default=None)


def _read_po(data: bytes, language: str) -> tuple[dict[str, str], str]:
    """The catalog's messages as .mo entries (a plural's forms joined by NUL, keyed by
    its singular and plural joined by NUL), and its Plural-Forms header."""
    from babel.messages.pofile import read_po  # only when the cache has no compiled .mo

    catalog = read_po(io.BytesIO(data), locale=language)
    messages: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids, forms = message.id, message.string
        if isinstance(ids, str) and isinstance(forms, str) and forms:
            messages[ids] = forms
        elif isinstance(ids, tuple | list) and isinstance(forms, tuple | list) and all(forms):
            messages["\0".join(ids)] = "\0".join(forms)
    return messages, str(catalog.plural_forms)


def _compile_mo(messages: dict[str, str], plural_forms: str = "") -> bytes:
    """A GNU .mo file (little-endian, no hash table) holding `messages` and a UTF-8 header."""
    header_text = "Content-Type: text/plain; charset=UTF-8\n"
    if plural_forms:
        header_text += f"Plural-Forms: {plural_forms}\n"
    entries = sorted([("", header_text), *messages.items()])
    ids = [key.encode() for key, _value in entries]
    strs = [value.encode() for _key, value in entries]
    count = len(entries)
    ids_table, strs_table = 28, 28 + 8 * count
    offset = 28 + 16 * count
    id_offsets, blob = [], b""
    for data in ids:
        id_offsets += [len(data), offset + len(blob)]
        blob += data + b"\0"
    str_offsets = []
    for data in strs:
        str_offsets += [len(data), offset + len(blob)]
        blob += data + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, ids_table, strs_table, 0, 0)
    return header + struct.pack(f"<{4 * count}I", *id_offsets, *str_offsets) + blob


def _cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("pvp", appauthor=False))


@cache
def _translations(language: str) -> _gettext.NullTranslations:
    if language == "en":
        return _gettext.NullTranslations()
    # A plain path, not importlib.resources (~10 ms of start-up): the wheel installs files.
    path = Path(__file__).parent.parent / "locale" / language / "LC_MESSAGES" / "pvp.po"
    data = path.read_bytes()
    key = hashlib.sha256(data).hexdigest()[:16]
    compiled = _cache_dir() / f"pvp-{language}-{key}.mo"
    try:
        return _gettext.GNUTranslations(io.BytesIO(compiled.read_bytes()))
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        pass  # not compiled yet (or a damaged file): compile it again
    import tempfile  # only when compiling: most starts load the cached .mo

    mo = _compile_mo(*_read_po(data, language))
    try:  # best effort: a read-only cache only makes the next start slower
        compiled.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=compiled.parent, delete=False) as handle:
            handle.write(mo)
        os.replace(handle.name, compiled)
    except OSError:
        pass
    return _gettext.GNUTranslations(io.BytesIO(mo))


def set_language(language: str) -> None:
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (expected one of {LANGUAGES})")
    _current = language


def get_language() -> str:
    return _override.get() or _current


@contextlib.contextmanager
def using_language(language: str) -> Iterator[None]:
    """Speak `language` in this context only (this request, this task and the threads it
    hands work to with its context), whatever the process's language."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (expected one of {LANGUAGES})")
    token = _override.set(language)
    try:
        yield
    finally:
        _override.reset(token)


def in_language(message: Mapping[str, str] | None) -> str:
    """A message given in several languages ({"fr", "en"}, as the bridge sends them) in
    the app's language, else English ('' when there is none)."""
    if not message:
        return ""
    return str(message.get(get_language()) or message.get("en") or "")


def resolve_language(explicit: str | None, configured: str | None) -> str:
    """--lang, then PVP_LANG, then the site config, then French."""
    return explicit or os.environ.get("PVP_LANG") or configured or DEFAULT_LANGUAGE


def load_catalog() -> None:
    """Load the current language's catalog now (it is cached): not later, under a lock."""
    _translations(get_language())


def gettext(message: str) -> str:
    if not message:  # the .mo's header entry has the empty msgid
        return message
    return _translations(get_language()).gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for `n` in the current language (French says
    '0 document', '1 document', '2 documents'; English '1 document', '0 documents')."""
    return _translations(get_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for the catalog where it is defined; translate it where it is shown."""
    return message
