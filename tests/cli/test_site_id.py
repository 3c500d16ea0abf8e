"""A changed `[site] id` leaves the queue empty: pvp queue and pvp doctor say why."""

from __future__ import annotations

from .conftest import Pvp


def test_visits_of_another_site_are_pointed_out(pvp: Pvp) -> None:
    for name in ("Marie", "Paul"):
        assert pvp("checkin", "--partner", "caf", "--name", name).code == 0
    quiet = pvp("--lang", "en", "queue")
    assert quiet.code == 0 and "site" not in quiet.err
    pvp.config.write_text(pvp.config.read_text().replace('id = "test-site"', 'id = "new-site"', 1))
    moved = pvp("--lang", "en", "queue")
    assert moved.code == 0 and "Nobody is waiting." in moved.out
    assert "2 visits of site test-site and none of site new-site" in moved.err
    assert "set it back to test-site" in moved.err
    doctor = pvp("--lang", "en", "doctor", "--skip-kiosks")
    assert "2 visits of site test-site" in doctor.out
    assert doctor.code != 0


def test_a_new_database_is_not_a_changed_site(pvp: Pvp) -> None:
    empty = pvp("--lang", "en", "queue")
    assert empty.code == 0 and empty.err == ""
