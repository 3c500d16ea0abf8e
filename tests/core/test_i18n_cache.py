"""The French catalog: compiled once into the user cache, then read with stdlib gettext."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from pvp_tui.core import i18n


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setattr(i18n, "_cache_dir", lambda: folder)
    i18n._translations.cache_clear()
    yield folder
    i18n._translations.cache_clear()


def _po() -> bytes:
    return resources.files("pvp_tui").joinpath("locale/fr/LC_MESSAGES/pvp.po").read_bytes()


def test_compiled_catalog_says_what_the_po_says(cache: Path) -> None:
    expected, plural_forms = i18n._read_po(_po(), "fr")
    assert len(expected) > 100 and plural_forms.startswith("nplurals=3;")
    fr = i18n._translations("fr")
    singles = {msgid: text for msgid, text in expected.items() if "\0" not in msgid}
    assert {msgid: fr.gettext(msgid) for msgid in singles} == singles
    plurals = [(msgid.split("\0"), text.split("\0")) for msgid, text in expected.items()]
    plurals = [(ids, forms) for ids, forms in plurals if len(ids) == 2]
    assert plurals  # counted messages compile, with the catalog's Plural-Forms rule
    for (one, many), forms in plurals:
        assert [fr.ngettext(one, many, n) for n in (1, 2)] == [forms[0], forms[2]]
    assert i18n.gettext("") == ""  # the .mo header (empty msgid) stays hidden
    assert [p.name for p in cache.iterdir()] == [p.name for p in cache.glob("pvp-fr-*.mo")]


def test_second_start_reads_the_cache_without_babel(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    i18n._translations("fr")
    (compiled,) = cache.glob("pvp-fr-*.mo")
    i18n._translations.cache_clear()

    def no_babel(data: bytes, language: str) -> tuple[dict[str, str], str]:
        raise AssertionError("the .po was parsed again")

    monkeypatch.setattr(i18n, "_read_po", no_babel)
    assert i18n._translations("fr").gettext("Waiting ({n})") == "En attente ({n})"
    assert list(cache.glob("pvp-fr-*.mo")) == [compiled]


def test_damaged_or_unwritable_cache_still_translates(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    i18n._translations("fr")
    (compiled,) = cache.glob("pvp-fr-*.mo")
    compiled.write_bytes(b"garbage")
    i18n._translations.cache_clear()
    assert i18n._translations("fr").gettext("Waiting ({n})") == "En attente ({n})"
    assert compiled.read_bytes()[:4] == b"\xde\x12\x04\x95"  # compiled again

    i18n._translations.cache_clear()
    blocked = cache / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(i18n, "_cache_dir", lambda: blocked / "pvp")
    assert i18n._translations("fr").gettext("Waiting ({n})") == "En attente ({n})"


def test_another_po_gets_another_cache_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    i18n._translations("fr")
    before = {p.name for p in cache.glob("pvp-fr-*.mo")}
    key = "99"  # a changed .po: its hash names another file
    monkeypatch.setattr(i18n.hashlib, "sha256", lambda data: _Fixed(key))
    i18n._translations.cache_clear()
    i18n._translations("fr")
    after = {p.name for p in cache.glob("pvp-fr-*.mo")}
    assert after - before == {f"pvp-fr-{key}.mo"}


class _Fixed:
    def __init__(self, digest: str) -> None:
        self.digest = digest

    def hexdigest(self) -> str:
        return self.digest
