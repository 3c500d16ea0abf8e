"""The check-in form's rules for a phone number and an appointment time (core/frontdesk.py),
shared by the check-in form and `pvp checkin`."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import (
    CheckIn,
    FrontDesk,
    normalize_hhmm,
    parse_hhmm,
    validate_check_in,
)
from tests.support.clocks import PARIS


def _phone_problem(config: Config, phone: str) -> str | None:
    return validate_check_in(CheckIn("caf", "Marie", phone=phone), config).get("phone")


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        " 01 23 45 67 89 ",
        "+33 6 12 34 56 78",
        "+33612345678",
        "+32 470 12 34 56",  # Belgium
        "+1 415 555 0100",
        "+683 4002",  # Niue: 7 digits, the shortest E.164 numbers
        "+123 456 789 012 345",  # 15 digits: the E.164 maximum
    ],
)
def test_phone_numbers_a_visitor_gives_are_accepted(config: Config, phone: str) -> None:
    assert _phone_problem(config, phone) is None


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78 90 12",  # 14 digits, no +
        "06 12 34 56 7",  # 9 digits
        "06 12 34 56 78 9",  # 11 digits
        "6 12 34 56 78",  # the leading 0 left out
        "33 6 12 34 56 78",  # international without +
        "+1234 5678 9012 3456",  # 16 digits: longer than E.164 allows
        "+12 345",  # too short to be a number
        "+",
        "06 12 34 56 7a",
        "call me",
        "06 12 34 56 78.",  # a separator ends it
        ".06 12 34 56 78",
        "++33 6 12 34 56 78",
        "+33 6 12 34 56 78 +",
    ],
)
def test_wrong_phone_numbers_are_refused_with_an_example(config: Config, phone: str) -> None:
    problem = _phone_problem(config, phone)
    assert problem is not None and "06 12 34 56 78" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:30", time(9, 30)),
        ("09:30", time(9, 30)),
        ("9h30", time(9, 30)),
        ("9H30", time(9, 30)),
        ("9 h 30", time(9, 30)),
        ("9h", time(9, 0)),
        ("9 h", time(9, 0)),
        ("09h", time(9, 0)),
        ("14h", time(14, 0)),
        ("0930", time(9, 30)),
        ("1415", time(14, 15)),
        (" 10:30 ", time(10, 30)),
        ("0:00", time(0, 0)),
        ("23h59", time(23, 59)),
    ],
)
def test_appointment_times_as_people_write_them(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected
    assert normalize_hhmm(text) == expected.strftime("%H:%M")


@pytest.mark.parametrize(
    "text",
    [
        "24:00",  # out of range
        "25h",
        "9h75",
        "2400",
        "0960",
        "10h6",  # 10:06 or 10:60?
        "930",  # 9:30 or 93:0?
        "9",  # hours or minutes?
        "10",
        "9:",  # ":" needs the minutes
        "9h30h",
        "h30",
        "09300",
        "9.30",
        "",
        "midi",
    ],
)
def test_ambiguous_or_out_of_range_times_are_refused(config: Config, text: str) -> None:
    assert parse_hhmm(text) is None
    assert normalize_hhmm(text) is None
    problems = validate_check_in(CheckIn("caf", "Marie", appointment=text), config)
    assert "HH:MM" in problems["appointment"]


def test_an_appointment_at_9h_is_saved_at_9_00(desk: FrontDesk) -> None:
    visit = desk.check_in(CheckIn("caf", "Marie", appointment="9h", phone="+33 6 12 34 56 78"))
    assert visit.appointment_at == datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)
    assert visit.phone == "+33 6 12 34 56 78"  # kept as typed
