"""The [session] config section and the rules a session request must meet."""

from __future__ import annotations

import tomllib

import pytest

from kiosk_bridge.session.config import (
    PartnerRooms,
    RoomRefused,
    SessionConfig,
    SessionConfigError,
    parse,
)

EXAMPLE = """
[session]
chromium = "/usr/bin/chromium"
extra_flags = ["--lang=fr"]
stats_interval = 2

[session.timeouts]
agent = 600

[session.quality]
rtt_warn_ms = 250
raise_after = 4

[session.partners.caf]
prefix = "C"
domains = ["webconf.numerique.gouv.fr", "*.visio.caf.fr"]
display_name = "fragment:userInfo.displayName"

[session.partners.cpam]
prefix = "AM"
domains = ["visio.ameli.fr"]
display_name = "query:name"
"""


@pytest.fixture
def config() -> SessionConfig:
    return parse(tomllib.loads(EXAMPLE)["session"])


def test_example_parses(config: SessionConfig) -> None:
    assert config.chromium == "/usr/bin/chromium" and config.extra_flags == ("--lang=fr",)
    assert config.timeouts.agent == 600 and config.timeouts.reconnect == 20
    assert config.quality.rtt_warn_ms == 250 and config.quality.raise_after == 4
    assert config.quality.clear_after == 5
    assert [p.id for p in config.partners] == ["caf", "cpam"]
    assert parse(None) == SessionConfig()


def test_every_mistake_is_one_line_naming_its_key() -> None:
    raw = tomllib.loads(
        """
        chromium = ""
        headless = "yes"
        colour = "blue"
        [timeouts]
        agent = -1
        launch = "soon"
        [quality]
        raise_after = 2.5
        rtt_warn_ms = 900
        [partners.caf]
        prefix = "c"
        [partners.cpam]
        prefix = "AM"
        domains = ["https://visio.ameli.fr/"]
        [partners.msa]
        prefix = "M"
        display_name = "cookie:x"
        """
    )
    with pytest.raises(SessionConfigError) as err:
        parse(raw)
    assert err.value.problems == [
        "session.chromium: must be a non-empty string",
        "session.headless: must be true or false",
        "session.colour: unknown key (expected one of: chromium, extra_flags, fake_media, "
        "headless, kiosk, partners, profile_dir, quality, stats_interval, timeouts)",
        "session.timeouts.agent: must be a number >= 0",
        "session.timeouts.launch: must be a number >= 0",
        "session.quality.raise_after: must be a whole number >= 1",
        "session.partners.caf.prefix: must be the ticket prefix, 1 to 3 capital letters",
        "session.partners.cpam.domains: https://visio.ameli.fr/ is not a host name "
        "(use '*.example.org' for its subdomains)",
        "session.partners.msa.display_name: must be 'none', 'query:NAME' or 'fragment:KEY'",
    ]


def test_swapped_thresholds_and_shared_prefixes_are_refused() -> None:
    raw = {
        "quality": {"rtt_warn_ms": 900},
        "partners": {"a": {"prefix": "C", "domains": []}, "b": {"prefix": "C", "domains": []}},
    }
    with pytest.raises(SessionConfigError) as err:
        parse(raw)
    assert err.value.problems == [
        "session.quality: rtt warn and poor thresholds are swapped",
        "session.partners: prefix 'C' is used by two partners",
    ]


def test_room_for_a_jitsi_partner(config: SessionConfig) -> None:
    room = config.check_request("https://webconf.numerique.gouv.fr/CafLannion42", "C-007")
    assert room.partner == "caf" and room.host == "webconf.numerique.gouv.fr"
    assert room.url == (
        "https://webconf.numerique.gouv.fr/CafLannion42#userInfo.displayName=%22C-007%22"
    )
    keep = config.check_request(
        "https://x.visio.caf.fr/r#config.prejoinConfig.enabled=false", "C-1000"
    )
    assert keep.url.endswith(
        "#config.prejoinConfig.enabled=false&userInfo.displayName=%22C-1000%22"
    )


def test_room_with_the_name_in_the_query(config: SessionConfig) -> None:
    room = config.check_request("https://visio.ameli.fr/room?lang=fr", "AM-012", partner="cpam")
    assert room.url == "https://visio.ameli.fr/room?lang=fr&name=AM-012"


@pytest.mark.parametrize(
    ("url", "name", "partner", "code"),
    [
        ("https://visio.ameli.fr/r", "Marie Martin", None, "invalid_display_name"),
        ("https://visio.ameli.fr/r", "AM-12", None, "invalid_display_name"),
        ("https://visio.ameli.fr/r", "AM-012 ", None, "invalid_display_name"),
        ("https://visio.ameli.fr/r", "F-001", None, "unknown_partner"),
        ("https://visio.ameli.fr/r", "C-001", "cpam", "ticket_partner_mismatch"),
        ("https://visio.ameli.fr/r", "AM-001", "msa", "unknown_partner"),
        ("http://visio.ameli.fr/r", "AM-001", None, "invalid_room_url"),
        ("https://visio.ameli.fr.evil.example/r", "AM-001", None, "room_not_allowed"),
        ("https://visio.ameli.fr@evil.example/r", "AM-001", None, "invalid_room_url"),
        ("https://webconf.numerique.gouv.fr/r", "AM-001", None, "room_not_allowed"),
        ("https://visio.caf.fr/r", "C-001", None, "room_not_allowed"),  # '*.' means below
        ("https://visio.ameli.fr/r x", "AM-001", None, "invalid_room_url"),
        ("https://visio.ameli.fr:99999/r", "AM-001", None, "invalid_room_url"),
        ("file:///etc/passwd", "AM-001", None, "invalid_room_url"),
        ("https://" + "a" * 3000, "AM-001", None, "invalid_room_url"),
    ],
)
def test_refused_requests(
    config: SessionConfig, url: str, name: str, partner: str | None, code: str
) -> None:
    with pytest.raises(RoomRefused) as refused:
        config.check_request(url, name, partner)
    assert refused.value.code == code


def test_http_only_for_this_machine() -> None:
    config = SessionConfig(partners=(PartnerRooms("caf", "C", ("localhost", "127.0.0.1")),))
    assert config.check_request("http://localhost:8080/r", "C-001").host == "localhost"
    assert config.check_request("http://127.0.0.1/r", "C-001").url == "http://127.0.0.1/r"
    with pytest.raises(RoomRefused):
        config.check_request("http://10.0.0.1/r", "C-001")


def test_every_refusal_has_a_filled_message_in_french_and_english() -> None:
    from kiosk_bridge.session.bridge import ERRORS, SessionError

    samples = {
        "invalid_display_name": {},
        "unknown_partner": {"partner": "msa"},
        "ticket_partner_mismatch": {"ticket": "C-001", "partner": "cpam"},
        "invalid_room_url": {"detail": "no host name"},
        "room_not_allowed": {"host": "evil.example", "partner": "caf"},
        "invalid_room_kind": {"kind": "webinar"},
        "session_busy": {"ticket": "C-007"},
        "shutting_down": {},
    }
    assert set(samples) == set(ERRORS)
    for code, params in samples.items():
        wire = SessionError(code, **params).to_dict()
        assert wire["code"] == code and wire["retryable"] is ERRORS[code].retryable
        assert all("{" not in text and text for text in wire["message"].values())
    assert SessionError("bad_params", detail="x").to_dict()["code"] == "bad_params"
