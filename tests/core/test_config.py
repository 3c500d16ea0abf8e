"""Config mistakes: one line each, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvp_tui.core.config import ConfigError, load_config, parse_config
from tests.support.sites import OPEN_SITE

GOOD_PARTNER = """
[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = { mon = ["09:00-12:00", "13:30-17:00"] }
"""
SITE = """
[site]
id = "relais"
name = "Relais"
timezone = "Europe/Paris"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="site.toml")
    for problem in error.value.problems:
        assert "\n" not in problem
    return error.value.problems


def test_the_demo_site_has_the_nine_national_partners() -> None:
    config = load_config(None)
    assert [p.id for p in config.partners] == [
        "caf",
        "cpam",
        "carsat",
        "msa",
        "france-travail",
        "dgfip",
        "france-titres",
        "justice",
        "la-poste",
    ]
    assert len({p.prefix for p in config.partners}) == 9
    assert all(p.name and p.interview_minutes and p.hours for p in config.partners)


def test_a_valid_site_loads() -> None:
    config = parse_config(SITE + GOOD_PARTNER, source="site.toml")
    caf = config.partner("caf")
    assert caf is not None and caf.prefix == "C"
    assert config.site.retention_days == 1  # default: the end of the next day
    assert config.site.appointment_late_minutes == 15  # default tolerance
    assert len(caf.hours["mon"]) == 2
    assert (config.log.max_mb, config.log.keep) == (1, 3)  # the log: 1 MB, 3 older files


def test_the_log_files_size_and_count_are_set_in_log() -> None:
    config = parse_config(SITE + GOOD_PARTNER + "[log]\nmax_mb = 5\nkeep = 7\n", "site.toml")
    assert (config.log.max_mb, config.log.keep) == (5, 7)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (SITE + "colour = 'red'\n" + GOOD_PARTNER, "site.colour", "unknown key"),
        ("[sites]\n" + SITE + GOOD_PARTNER, "sites", "unknown key"),
        (SITE + GOOD_PARTNER.replace('"C"', '"c1"'), "partners[0].prefix", "capital letters"),
        (SITE + GOOD_PARTNER.replace('prefix = "C"\n', ""), "partners[0].prefix", "required"),
        (SITE + GOOD_PARTNER.replace('id = "caf"\n', ""), "partners[0].id", "required"),
        (SITE + GOOD_PARTNER.replace('name = "CAF"', 'name = " "'), "partners[0].name", "empty"),
        (SITE + GOOD_PARTNER + GOOD_PARTNER.replace('"C"', '"K"'), "partners[1].id", "two"),
        (
            SITE + GOOD_PARTNER + GOOD_PARTNER.replace('"caf"', '"cnaf"'),
            "partners[1].prefix",
            "two",
        ),
        (
            SITE + GOOD_PARTNER.replace('name = "CAF"', 'name = "CAF"\nshort_name = "Allocations"'),
            "partners[0].short_name",
            "at most 10 characters",
        ),
        (
            SITE + GOOD_PARTNER.replace('name = "CAF"', 'name = "CAF"\nshort_name = 1'),
            "partners[0].short_name",
            "text",
        ),
        (SITE + GOOD_PARTNER.replace("13:30-17:00", "9h-12h"), "partners[0].hours.mon", "9h-12h"),
        (SITE + GOOD_PARTNER.replace("13:30-17:00", "17:00-13:30"), "partners[0].hours.mon", ""),
        (SITE + GOOD_PARTNER.replace("mon =", "monday ="), "partners[0].hours.monday", "day"),
        (SITE + GOOD_PARTNER.replace("= 20", '= "20"'), "partners[0].interview_minutes", "whole"),
        (SITE.replace("Europe/Paris", "Europe/Lyon") + GOOD_PARTNER, "site.timezone", "Lyon"),
        (SITE.replace('id = "relais"\n', "") + GOOD_PARTNER, "site.id", "required"),
        (SITE + "retention_days = -1\n" + GOOD_PARTNER, "site.retention_days", "between"),
        (
            SITE + "appointment_late_minutes = 500\n" + GOOD_PARTNER,
            "site.appointment_late_minutes",
            "between 0 and 120 (got 500)",
        ),
        (
            SITE + "appointment_late_minutes = '15'\n" + GOOD_PARTNER,
            "site.appointment_late_minutes",
            "whole number",
        ),
        (SITE + "language = 'de'\n" + GOOD_PARTNER, "site.language", "de"),
        (SITE + GOOD_PARTNER + "[log]\nmax_mb = 0\n", "log.max_mb", "between 1 and 100"),
        (SITE + GOOD_PARTNER + "[log]\nkeep = '3'\n", "log.keep", "whole number"),
        (SITE + GOOD_PARTNER + "[log]\nfiles = 3\n", "log.files", "unknown key"),
        (SITE, "partners", "no partner"),
        (GOOD_PARTNER, "site", "missing"),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(text: str, key: str, words: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: "), found
    assert words in found[0]


def test_several_mistakes_give_one_line_each() -> None:
    text = SITE.replace("Europe/Paris", "Mars/Olympus") + GOOD_PARTNER.replace('"C"', '"cc"')
    found = problems(text + "[extra]\n")
    assert [line.split(":")[0] for line in found] == [
        "extra",
        "site.timezone",
        "partners[0].prefix",
    ]


def test_toml_syntax_errors_say_where() -> None:
    (problem,) = problems(SITE + "[[partners]]\nid = caf\n")
    assert problem.startswith("not valid TOML")
    assert "line 7" in problem


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "nope.toml")
    assert error.value.problems == ["file not found"]
    assert str(tmp_path / "nope.toml") in str(error.value)


def test_the_test_site_is_valid() -> None:
    assert len(parse_config(OPEN_SITE, source="test").partners) == 4


def test_a_range_may_close_at_midnight() -> None:
    from datetime import time

    from pvp_tui.core.config import parse_time_range

    assert parse_time_range("00:00-24:00") == (time(0, 0), time.max)
    assert parse_time_range("13:30-24:00") == (time(13, 30), time.max)
    assert parse_time_range("24:00-24:00") is None
    assert parse_time_range("10:00-09:00") is None


@pytest.mark.parametrize(
    "room_url",
    [
        "https://evil.example\\\\.visio.caf.fr/{ticket}",
        "https://evil%2eexample.visio.caf.fr/{ticket}",
        "https://x.visio.caf.fr@evil.example/{ticket}",
        "https:/\\\\evil.example/{ticket}",
        "https://X.VISIO.CAF.FR/{ticket}",
    ],
)
def test_a_room_url_is_judged_as_the_kiosk_browser_reads_it(room_url: str) -> None:
    room = f'room_url = "{room_url}"\nroom_domains = ["*.visio.caf.fr"]\n'
    (problem,) = problems(SITE + GOOD_PARTNER + room)
    assert problem.startswith("partners[0].room_url: ")


def test_no_hub_table_means_no_hub() -> None:
    assert parse_config(OPEN_SITE, "site.toml").hub is None
    assert load_config(None).hub is None  # the embedded demo stays hub-less


def test_a_hub_table_loads_with_paths_beside_the_config(tmp_path: Path) -> None:
    hub = """
[hub]
url = "https://hub.region.example.fr/"
token_file = "hub.token"
ca_file = "/etc/pvp-relais/hub-ca.pem"
retry_max_seconds = 5
"""
    config = parse_config(OPEN_SITE + hub, "site.toml", base_dir=tmp_path)
    assert config.hub is not None
    assert config.hub.url == "https://hub.region.example.fr"
    assert config.hub.token_file == tmp_path / "hub.token"
    assert config.hub.ca_file == Path("/etc/pvp-relais/hub-ca.pem")
    assert config.hub.retry_max_seconds == 5


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('token_file = "t"', ["hub.url: is required"]),
        ('url = "https://h"', ["hub.token_file: is required"]),
        ('url = "hub.example"\ntoken_file = "t"', ["hub.url: must look like https://HOST"]),
        ('url = "http://h:8470"\ntoken_file = "t"\nca_file = "ca.pem"',
         ["hub.ca_file: is only used with an https:// url"]),
        ('url = "https://h"\ntoken_file = "t"\nretry_max_seconds = 0',
         ["hub.retry_max_seconds: must be a number of seconds from 1 to 3600"]),
        ('url = "https://h"\ntoken_file = "t"\ntoken = "pvphub_x"',
         ["hub.token: unknown key"]),
        ('url = 8470\ntoken_file = ""', ["hub.url: must be a text", "hub.token_file: must not"]),
    ],
)  # fmt: skip
def test_each_hub_mistake_is_one_line_naming_the_key(table: str, expected: list[str]) -> None:
    found = problems(OPEN_SITE + "\n[hub]\n" + table + "\n")
    assert len(found) == len(expected), found
    for line, words in zip(found, expected, strict=True):
        assert line.startswith(words), found
