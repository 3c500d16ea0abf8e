"""`pvp checkin` reads a time and a phone number by the same rule as the check-in form
(core/frontdesk.py: parse_hhmm, PHONE_RE)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .conftest import Pvp

PARIS = ZoneInfo("Europe/Paris")  # the test site's timezone (tests/support/sites.py)


def test_checkin_reads_9h_as_9_00_and_refuses_a_14_digit_phone(pvp: Pvp) -> None:
    done = pvp("checkin", "--partner", "caf", "--name", "M", "--appointment", "9h")
    assert done.code == 0, done.err
    [(kind, at)] = pvp.rows("SELECT kind, appointment_at FROM visits")
    assert kind == "appointment"
    local = datetime.fromisoformat(str(at)).astimezone(PARIS)
    assert (local.hour, local.minute) == (9, 0)
    before = pvp.counts()
    refused = pvp("checkin", "--partner", "caf", "--name", "M", "--phone", "06 12 34 56 78 90 12")
    assert refused.code == 1
    assert "06 12 34 56 78" in refused.err
    assert pvp.counts() == before
    wrong_time = pvp("checkin", "--partner", "caf", "--name", "M", "--appointment", "930")
    assert wrong_time.code == 1 and "HH:MM" in wrong_time.err
    assert pvp.counts() == before
