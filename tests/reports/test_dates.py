"""The reports' one date parser (screen fields and `pvp report --from/--to`) and the way
the period fields show a day in each language."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pvp_tui.core import i18n
from pvp_tui.core.errors import PvpError
from pvp_tui.core.reports import Period, format_date, format_short_date, parse_date


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("01/11/2026", date(2026, 11, 1)),  # as French staff write it
        ("1/11/2026", date(2026, 11, 1)),
        ("1/2/2026", date(2026, 2, 1)),  # day first, never month first
        ("31/12/26", date(2026, 12, 31)),  # a two-digit year is this century
        ("05/03/00", date(2000, 3, 5)),
        ("29/02/2028", date(2028, 2, 29)),
        ("05.03.2026", date(2026, 3, 5)),
        ("05-03-2026", date(2026, 3, 5)),
        ("2026-11-01", date(2026, 11, 1)),  # ISO
        ("2026-3-5", date(2026, 3, 5)),
        ("  2026-11-01 ", date(2026, 11, 1)),
    ],
)
def test_accepted_forms(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "31/02/2026",  # no such day
        "29/02/2027",
        "2026-13-01",
        "13/13/2026",
        "00/01/2026",
        "1/11",  # no year
        "1/11/202",
        "2026/11/01",
        "01/11/2026 10:00",
        "20261101",
        "1er novembre",
        "٠١/١١/٢٠٢٦",  # digits of another script
    ],
)
def test_refused_forms_name_the_accepted_ones(text: str) -> None:
    with pytest.raises(PvpError) as caught:
        parse_date(text, "--from")
    assert caught.value.code == "bad_date"
    message = caught.value.message
    assert message.startswith("--from")
    assert "JJ/MM/AAAA" in message and "AAAA-MM-JJ" in message  # French by default
    assert f"« {text} »" in message


def test_the_refusal_in_english() -> None:
    i18n.set_language("en")
    with pytest.raises(PvpError) as caught:
        parse_date("31/02/2026", "From")
    assert caught.value.message == (
        'From: "31/02/2026" is not a date; write it as DD/MM/YYYY (31/03/2026) '
        "or YYYY-MM-DD (2026-03-31)."
    )


def test_days_are_shown_day_first_in_french_iso_in_english() -> None:
    day = date(2026, 3, 5)
    assert (format_date(day), format_short_date(day)) == ("05/03/2026", "05/03")
    i18n.set_language("en")
    assert (format_date(day), format_short_date(day)) == ("2026-03-05", "03-05")


def test_period_errors_show_dates_as_the_fields_do() -> None:
    with pytest.raises(PvpError) as caught:
        Period.parse("31/03/2026", "01/03/2026")
    assert caught.value.code == "bad_period"
    assert "01/03/2026" in caught.value.message and "31/03/2026" in caught.value.message


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_a_shown_day_reads_back(day: date) -> None:
    for language in ("fr", "en"):
        i18n.set_language(language)
        assert parse_date(format_date(day)) == day
    i18n.set_language("fr")
