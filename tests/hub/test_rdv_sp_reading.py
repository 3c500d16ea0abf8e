"""RDV Service Public's deliveries and API answers read by the hub: signatures on the raw
body, both time formats, only what a site needs kept, the visio room, the region's
mapping checked line by line, and the API v1 catch-up over real HTTP (three pages, a
token ended by another sign-in, 429 and 500 retried, a refused password)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvp_common.checks import ConfigError
from pvp_hub.rdv_sp import api, payload, signature
from pvp_hub.rdv_sp.mapping import read_mapping
from tests.support import rdv_sp

SECRET = "s3cret-of-the-endpoint"
PARIS = timezone(timedelta(hours=1))
NINE = datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)


def test_a_signed_delivery_is_valid_and_one_changed_byte_is_not() -> None:
    body, headers = rdv_sp.delivery(SECRET, rdv_sp.rdv(10, NINE), "created", NINE)
    given_sig = headers[signature.HEADER]
    assert given_sig == given_sig.lower() and len(given_sig) == 64
    assert signature.is_valid(SECRET, body, given_sig)
    assert signature.is_valid(SECRET, body, given_sig.upper())  # the same digest
    changed = body.replace(b'"status": "unknown"', b'"status": "revoked"', 1)
    assert changed != body
    assert not signature.is_valid(SECRET, changed, given_sig)
    assert not signature.is_valid("another secret", body, given_sig)
    assert not signature.is_valid(SECRET, body, None)
    assert not signature.is_valid(SECRET, body, "")
    assert not signature.is_valid(SECRET, body, given_sig[:-1])
    assert not signature.is_valid(SECRET, body, "z" * 64)
    assert not signature.is_valid("", body, signature.sign("", body))  # no secret, no trust
    # Re-serialised JSON (same data, other bytes) is not the signed body.
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body
    assert not signature.is_valid(SECRET, reserialised, given_sig)


def test_a_delivery_keeps_what_a_site_needs_and_nothing_personal() -> None:
    the_uuid = uuid.uuid4()
    body, _ = rdv_sp.delivery(
        SECRET, rdv_sp.rdv(10, NINE, rdv_uuid=the_uuid), "updated", NINE + timedelta(minutes=5)
    )
    delivery = payload.read_delivery(body)
    assert (delivery.model, delivery.event, delivery.reason) == ("Rdv", "updated", None)
    assert delivery.timestamp == NINE + timedelta(minutes=5)
    appointment = delivery.appointment
    assert appointment is not None
    assert appointment.rdv_id == 10 and appointment.uuid == the_uuid
    assert appointment.external_id == "10"
    assert (appointment.organisation_id, appointment.lieu_id) == (309, 97)
    assert (appointment.motif_id, appointment.service_id) == (157, 407)
    assert appointment.starts_at == NINE
    assert appointment.ends_at == NINE + timedelta(minutes=45)
    assert appointment.status == "unknown" and not appointment.cancelled
    assert appointment.name == "Marc MOREAU"
    assert appointment.phone == "+33646258745"
    assert not appointment.visio and appointment.room_url is None
    kept = repr(dataclasses.asdict(appointment)) + repr(delivery)
    for value in rdv_sp.PERSONAL.values():
        assert value not in kept
    assert "Pascale" not in kept and "Prévost" not in kept  # the agent's name either


def test_both_time_formats_read_the_same_instant() -> None:
    ruby = payload.read_appointment(rdv_sp.rdv(1, NINE))
    iso = payload.read_appointment(rdv_sp.rdv(1, NINE, iso=True))
    assert ruby.starts_at == iso.starts_at == NINE
    assert payload.parse_time("2022-01-01 08:00:00 +0100") == datetime(2022, 1, 1, 7, tzinfo=UTC)
    assert payload.parse_time("2022-01-01T08:00:00.000+01:00") == datetime(
        2022, 1, 1, 7, tzinfo=UTC
    )
    assert payload.parse_time("2022-01-01T07:00:00Z") == datetime(2022, 1, 1, 7, tzinfo=UTC)
    for bad in ("2022-01-01 08:00:00", "2022-01-01T08:00:00", "tomorrow", "", 1641020400):
        with pytest.raises(ValueError):
            payload.parse_time(bad)


def test_refusals_name_the_place_never_the_value() -> None:
    item = rdv_sp.rdv(3, NINE)
    item["starts_at"] = "2022-01-01 08:00:00"  # no offset
    item["status"] = "lost"
    with pytest.raises(payload.PayloadError) as caught:
        payload.read_appointment(item, place="data.")
    problems = caught.value.problems
    assert any(line.startswith("data.starts_at:") for line in problems)
    assert any(line.startswith("data.status:") for line in problems)
    assert "2022-01-01 08:00:00" not in str(caught.value)
    for body in (b"", b"[]", b"{", b'{"meta": {"model": "Rdv"}}', b'{"data": {}, "meta": 3}'):
        with pytest.raises(payload.PayloadError):
            payload.read_delivery(body)


def test_other_models_are_acknowledged_without_an_appointment() -> None:
    body, _ = rdv_sp.delivery(SECRET, {"id": 97, "name": "Lieu"}, "updated", NINE, model="Lieu")
    delivery = payload.read_delivery(body)
    assert delivery.model == "Lieu" and delivery.appointment is None


def test_a_destroyed_delivery_for_data_protection_says_so() -> None:
    body, _ = rdv_sp.delivery(SECRET, rdv_sp.rdv(4, NINE), "destroyed", NINE, reason="rgpd")
    delivery = payload.read_delivery(body)
    assert (delivery.event, delivery.reason) == ("destroyed", "rgpd")


def test_cancellations_and_who_to_call() -> None:
    for status in ("excused", "revoked"):
        assert payload.read_appointment(rdv_sp.rdv(5, NINE, status=status)).cancelled
    group = payload.read_appointment(rdv_sp.rdv(6, NINE, collectif=True))
    assert group.name is None and group.phone is None
    withdrawn = rdv_sp.rdv(7, NINE)
    withdrawn["participations"][0]["status"] = "excused"
    assert payload.read_appointment(withdrawn).name is None
    old_style = rdv_sp.rdv(8, NINE, participations=[])
    assert payload.read_appointment(old_style).name == "Marc MOREAU"  # the `users` fallback
    odd = rdv_sp.rdv(9, NINE, first_name="  Jean\n\t", last_name="DE LA\x0bFONTAINE ")
    assert payload.read_appointment(odd).name == "Jean DE LA FONTAINE"


def test_the_visio_room_is_the_one_rdv_service_public_gives() -> None:
    the_uuid = uuid.UUID("f2ec0b24-db7b-47be-a550-7bcb857dc288")
    visio = payload.read_appointment(rdv_sp.rdv(11, NINE, location_type="visio", rdv_uuid=the_uuid))
    assert visio.visio
    assert visio.room_url == (
        "https://webconf.numerique.gouv.fr/RdvServicePublicf2ec0b24db7b47bea5507bcb857dc288"
    )
    custom = rdv_sp.rdv(12, NINE, location_type="visio", rdv_uuid=the_uuid)
    custom["visio_url"] = "https://meet.jit.si/CafLot-12"
    assert payload.read_appointment(custom).room_url == "https://meet.jit.si/CafLot-12"
    for elsewhere in ("https://evil.example/room", "http://meet.jit.si/x", "javascript:alert(1)"):
        custom["visio_url"] = elsewhere
        assert payload.read_appointment(custom).room_url == visio.room_url


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=400)
    | st.builds(
        lambda v: json.dumps(v).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ),
    )
)
def test_any_body_is_read_or_refused_with_payload_error(body: bytes) -> None:
    try:
        payload.read_delivery(body)
    except payload.PayloadError as exc:
        assert exc.problems


def test_deeply_nested_json_is_refused_cleanly() -> None:
    with pytest.raises(payload.PayloadError):
        payload.read_delivery(b"[" * 100_000 + b"]" * 100_000)


MAP = """
organisation = 309
[lieux]
97 = "leyme"
[motifs]
157 = "caf"
[services]
407 = "cpam"
"""


def test_a_mapping_maps_places_to_sites_and_motives_to_partners() -> None:
    mapping = read_mapping(MAP, "caf-lot.toml", sites={"leyme", "gramat"}, partners={"caf", "cpam"})
    appointment = payload.read_appointment(rdv_sp.rdv(1, NINE))
    assert mapping.organisation_id == 309
    assert mapping.site_for(appointment) == "leyme"
    assert mapping.partner_for(appointment) == "caf"  # the motive first
    by_service = payload.read_appointment(rdv_sp.rdv(2, NINE, motif_id=999))
    assert mapping.partner_for(by_service) == "cpam"
    nowhere = payload.read_appointment(rdv_sp.rdv(3, NINE, lieu_id=98))
    assert mapping.site_for(nowhere) is None
    homeless = payload.read_appointment(rdv_sp.rdv(4, NINE, lieu_id=None))
    assert mapping.site_for(homeless) is None
    again = read_mapping(mapping.as_toml(), "x", sites={"leyme"}, partners={"caf", "cpam"})
    assert again == mapping


def test_every_mistake_of_a_mapping_is_one_line() -> None:
    text = """
organisation = "309"
colour = "blue"
[lieux]
97 = "leymee"
abc = "leyme"
[motifs]
157 = 3
158 = "caff"
"""
    with pytest.raises(ConfigError) as caught:
        read_mapping(text, "caf-lot.toml", sites={"leyme"}, partners={"caf"})
    problems = caught.value.problems
    assert len(problems) == 6, problems
    assert any(p.startswith("organisation: must be the organisation's id") for p in problems)
    assert any(p.startswith("colour: unknown key") for p in problems)
    assert "lieux.97: no site 'leymee' in this region (known: leyme)" in problems
    assert any(p.startswith("lieux.abc: must be an id") for p in problems)
    assert any(p.startswith("motifs.157: must be a partner's id") for p in problems)
    assert "motifs.158: no partner 'caff' in this region (known: caf)" in problems


def test_a_mapping_needs_its_organisation_places_and_partners() -> None:
    with pytest.raises(ConfigError) as caught:
        read_mapping("", "empty.toml", sites={"leyme"}, partners={"caf"})
    keys = sorted(line.split(":")[0] for line in caught.value.problems)
    assert keys == ["lieux", "motifs", "organisation"]


# -- API v1 catch-up, over real HTTP ------------------------------------------------------


def _stand_in(count: int) -> rdv_sp.StandIn:
    stand_in = rdv_sp.StandIn("service@caf-lot.fr", "a long password")
    day = datetime(2026, 12, 7, 8, 0, tzinfo=PARIS)
    stand_in.appointments[309] = [
        rdv_sp.rdv(1000 + n, day + timedelta(minutes=5 * n), iso=n % 2 == 0) for n in range(count)
    ]
    return stand_in


def test_catching_up_reads_three_pages() -> None:
    stand_in = _stand_in(250)
    with (
        rdv_sp.serving(stand_in) as url,
        api.RdvSpApi(url, stand_in.email, stand_in.password, wait_initial=0.01) as client,
    ):
        result = client.appointments(309, date(2026, 12, 7), date(2026, 12, 9))
    assert result.pages == 3
    assert [a.rdv_id for a in result.appointments] == [1000 + n for n in range(250)]
    assert result.unreadable == []
    assert stand_in.sign_ins == 1


def test_catching_up_signs_in_again_once_when_another_sign_in_ended_its_token() -> None:
    stand_in = _stand_in(150)
    with (
        rdv_sp.serving(stand_in) as url,
        api.RdvSpApi(url, stand_in.email, stand_in.password, wait_initial=0.01) as client,
    ):
        client.sign_in()
        stand_in.sign_in()  # someone signed in with the same account elsewhere
        result = client.appointments(309, date(2026, 12, 7), date(2026, 12, 9))
    assert len(result.appointments) == 150
    assert stand_in.sign_ins == 3


def test_catching_up_waits_through_429_and_500() -> None:
    stand_in = _stand_in(120)
    stand_in.faults = [429, 500, 503]
    with (
        rdv_sp.serving(stand_in) as url,
        api.RdvSpApi(url, stand_in.email, stand_in.password, wait_initial=0.01) as client,
    ):
        result = client.appointments(309, date(2026, 12, 7), date(2026, 12, 9))
    assert len(result.appointments) == 120 and stand_in.faults == []


def test_a_refused_password_stops_with_words_and_no_secret() -> None:
    stand_in = _stand_in(1)
    with (
        rdv_sp.serving(stand_in) as url,
        api.RdvSpApi(url, stand_in.email, "wrong password", wait_initial=0.01) as client,
        pytest.raises(api.SignInRefused) as caught,
    ):
        client.appointments(309, date(2026, 12, 7), date(2026, 12, 9))
    assert "e-mail or password" in str(caught.value)
    assert "wrong password" not in str(caught.value)


def test_an_unknown_organisation_and_an_unreadable_item_are_said() -> None:
    stand_in = _stand_in(3)
    stand_in.appointments[309][1]["starts_at"] = "soon"
    with (
        rdv_sp.serving(stand_in) as url,
        api.RdvSpApi(url, stand_in.email, stand_in.password, wait_initial=0.01) as client,
    ):
        result = client.appointments(309, date(2026, 12, 7), date(2026, 12, 9))
        with pytest.raises(api.ApiError, match="no such organisation"):
            client.appointments(310, date(2026, 12, 7), date(2026, 12, 9))
    assert [a.rdv_id for a in result.appointments] == [1000, 1002]
    assert len(result.unreadable) == 1 and result.unreadable[0].startswith("rdv 1001: ")


def test_a_server_down_is_said_after_the_retries() -> None:
    with rdv_sp.serving(_stand_in(0)) as url:
        pass  # the port is free again: nothing answers there
    client = api.RdvSpApi(url, "a@b.fr", "x", wait_initial=0.01, retry_seconds=0.5)
    with client, pytest.raises(api.ApiError, match="did not answer"):
        client.sign_in()
