"""Visio rooms made just in time (`POST /api/v1/site/visits/{id}/room`) against real hub
processes on both engines: the partner's URL pattern (a Jitsi Meet server), the state's
Visio through its server-to-server API (a stand-in written from its openapi), the room an
appointment was booked with, every refusal, and the agent opening the room from their
page (seen by the site in the visit's view)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pvp_hub import appointments, directory, rooms
from tests.hub.people_pages import agent, signed_in, visit
from tests.hub.regions import Hub, Region, Site, event, push
from tests.support.visio_standin import Running, VisioStandIn

JITSI = "https://meet.example.org/Pvp-{site}-{ticket}"


def jitsi_rule(region: Region, partner: str = "caf", prefix: str = "C") -> None:
    table = {"id": partner, "name": partner.upper(), "prefix": prefix, "room_url": JITSI,
             "room_domains": ["meet.example.org"]}  # fmt: skip
    directory.save_partners(region.engine, region.slug, directory.check_partners([table]))


def visio_rule(region: Region, standin: VisioStandIn, partner: str = "cpam") -> None:
    api = directory.check_room_api(standin.api, ["127.0.0.1", standin.room_host])
    table = {"id": partner, "name": "Assurance Maladie", "prefix": "A"}
    directory.save_partners(region.engine, region.slug, directory.check_partners([table]), api)


def checked_in_for(visit_id: uuid.UUID, ticket: str, appointment: uuid.UUID) -> dict[str, Any]:
    """A check-in for a hub appointment (the `appointment` field: the hook for its room)."""
    checked_in = event(visit_id, "checked_in")
    checked_in["data"] = {"partner": "caf", "ticket": ticket, "kind": "appointment",
                          "appointment": str(appointment)}  # fmt: skip
    return checked_in


def ask(client: httpx.Client, site: Site, visit_id: uuid.UUID | str) -> httpx.Response:
    return client.post(f"/api/v1/site/visits/{visit_id}/room", headers=site.auth)


def view(client: httpx.Client, site: Site, visit_id: uuid.UUID) -> dict[str, Any]:
    answer = client.get(f"/api/v1/site/visits/{visit_id}", headers=site.auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_url_pattern_gives_the_ticket_as_display_name_and_the_same_room_twice(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    jitsi_rule(region)
    site = region.site()
    visit_id = visit(client, site, "caf", "C-007")
    assert view(client, site, visit_id)["room"] is None

    first = ask(client, site, visit_id)
    assert first.status_code == 200, first.text
    room = first.json()
    assert room["source"] == "url" and room["kiosk_join"] == "link"
    assert room["url"] == f"https://meet.example.org/Pvp-{site.slug}-C-007"
    assert room["kiosk_url"] == (
        room["url"] + "#userInfo.displayName=%22C-007%22&config.prejoinConfig.enabled=false"
    )
    assert room["agent_opened_at"] is None
    again = ask(client, site, visit_id)
    assert again.status_code == 200 and again.json() == room  # one room per visit

    seen = view(client, site, visit_id)["room"]
    assert seen["source"] == "url" and seen["agent_opened_at"] is None
    assert "url" not in seen  # the view tells the state, never the address
    assert "meet.example.org" not in hub.process.log.read_text()


def test_the_state_visio_makes_a_room_through_its_api(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    with Running(VisioStandIn()) as standin:
        visio_rule(region, standin)
        site = region.site()
        visit_id = visit(client, site, "cpam", "A-012")

        # No client credentials yet: refused, nothing stored, the site uses its own room.
        refused = ask(client, site, visit_id)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "room_api_failed"
        assert "room-client" in refused.json()["error"]["message"]

        # A wrong secret: Visio's 401 becomes the same refusal, naming the step.
        rooms.set_api_client(hub.engine, region.slug, "cpam", ("pvp-hub", "wrong", "x@y.fr"))
        refused = ask(client, site, visit_id)
        assert (
            refused.status_code == 502 and "token: HTTP 401" in refused.json()["error"]["message"]
        )
        assert standin.rooms == [] and view(client, site, visit_id)["room"] is None

        client_creds = (standin.client_id, standin.client_secret, standin.users[0])
        assert rooms.set_api_client(hub.engine, region.slug, "cpam", client_creds)
        made = ask(client, site, visit_id)
        assert made.status_code == 200, made.text
        room = made.json()
        assert len(standin.rooms) == 1
        assert room["source"] == "api" and room["url"] == standin.rooms[0]["url"]
        # A Visio guest is named in the lobby by the bridge, never in the URL.
        assert room["kiosk_url"] == room["url"]
        assert room["kiosk_join"] == "visio-guest"  # the bridge's session.start room_kind
        assert standin.rooms[0]["access_level"] == "trusted"
        assert standin.rooms[0]["owner"] == standin.users[0]
        assert standin.token_requests[-1] == {
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
            "grant_type": "client_credentials",
            "scope": standin.users[0],
        }
        # Asked again (F5 twice, another desk): the same room, no second one made.
        assert ask(client, site, visit_id).json() == room and len(standin.rooms) == 1

        # A room on a host outside the partner's domains is refused and not kept.
        standin.room_host = "evil.example"
        other = visit(client, site, "cpam", "A-013")
        refused = ask(client, site, other)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "room_refused"
        assert view(client, site, other)["room"] is None
    log = hub.process.log.read_text()
    assert room["url"] not in log and standin.client_secret not in log


def test_an_appointment_booked_with_a_room_keeps_it(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    jitsi_rule(region)
    site = region.site()
    booked = "https://webconf.numerique.gouv.fr/RdvServicePublic0a1b2c3d"
    appointment_id, _ = appointments.upsert(
        hub.engine,
        region.slug,
        appointments.AppointmentInput(
            site.slug, "caf", datetime.now(UTC) + timedelta(minutes=5), "Mme Durand",
            room_url=booked,
        ),
    )  # fmt: skip
    visit_id = uuid.uuid4()
    checked_in = checked_in_for(visit_id, "C-020", appointment_id)
    assert push(client, site, [checked_in]).status_code == 200
    answer = ask(client, site, visit_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "appointment" and answer.json()["url"] == booked

    # Another site naming that appointment does not get its room: its partner's rule.
    elsewhere = region.site()
    visit_id = uuid.uuid4()
    checked_in = checked_in_for(visit_id, "C-021", appointment_id)
    assert push(client, elsewhere, [checked_in]).status_code == 200
    assert ask(client, elsewhere, visit_id).json()["source"] == "url"


def test_refusals_tell_nothing_and_store_nothing(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    jitsi_rule(region)
    site, other = region.site(), region.site()
    mine = visit(client, site, "caf", "C-001")
    theirs = visit(client, other, "caf", "C-001")
    no_rule = visit(client, site, "cpam", "A-001")

    assert client.post(f"/api/v1/site/visits/{mine}/room").status_code == 401
    bad = {"Authorization": "Bearer pvphub_nope"}
    assert client.post(f"/api/v1/site/visits/{mine}/room", headers=bad).status_code == 401
    for wanted in (theirs, uuid.uuid4(), "not-a-uuid"):
        answer = ask(client, site, wanted)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_visit"
    answer = ask(client, site, no_rule)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "no_room_rule"
    done = visit(client, site, "caf", "C-002")
    ended = event(done, "finished", **{"from": "waiting", "to": "done", "outcome": "resolved"})
    assert push(client, site, [ended]).status_code == 200
    answer = ask(client, site, done)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "visit_closed"
    for visit_id in (no_rule, done):
        assert view(client, site, visit_id)["room"] is None


def test_the_agent_opens_the_room_from_their_page_and_the_site_sees_it(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    jitsi_rule(region)
    site = region.site()
    visit_id = visit(client, site, "caf", "C-030")
    url = ask(client, site, visit_id).json()["url"]
    caf = agent(region, "caf", [site.slug])
    cpam = agent(region, "cpam", [site.slug])
    path = f"/agent/visites/{visit_id}/visio"

    with signed_in(hub.url, cpam) as browser:  # another partner's agent
        assert browser.get(path).status_code == 404
    with signed_in(hub.url, caf) as browser:
        assert browser.get(f"/agent/visites/{uuid.uuid4()}/visio").status_code == 404
        assert browser.get("/agent/visites/C-030/visio").status_code == 404
        forged = browser.get(path, headers={"Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403
        assert view(client, site, visit_id)["room"]["agent_opened_at"] is None

        opened = browser.get(path, headers={"Sec-Fetch-Site": "same-origin"})
        assert opened.status_code == 303 and opened.headers["location"] == url
        first = view(client, site, visit_id)["room"]["agent_opened_at"]
        assert first is not None
        assert browser.get(path).status_code == 303  # again: the first time is kept
        assert view(client, site, visit_id)["room"]["agent_opened_at"] == first
        # The site learns it in its pull: the time, never the address.
        feed = client.get("/api/v1/site/changes", headers=site.auth).json()["items"]
        rooms_seen = [item for item in feed if item["kind"] == "room"]
        assert rooms_seen == [
            {"kind": "room", "id": str(visit_id), "deleted": False,
             "data": {"agent_opened_at": first}}
        ]  # fmt: skip
        listed = browser.get("/api/v1/agent/visits").json()["visits"]
        assert [(v["ticket"], v["room"]) for v in listed] == [("C-030", True)]
    with httpx.Client(base_url=hub.url) as anonymous:
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/connexion")


@pytest.mark.parametrize("hub", ["sqlite"], indirect=True)
def test_the_room_client_command_stores_the_secret_from_stdin(hub: Hub, region: Region) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "pvp_hub", "admin", "partner", "room-client", "cpam",
               "--region", region.slug, "--client-id", "pvp", "--scope", "rooms@cpam.fr",
               "--db", str(hub.process.db_url)]  # fmt: skip
    done = subprocess.run(command, input="s3cret\n", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    refused = subprocess.run(
        [*command[:6], "nobody", *command[7:]], input="s3cret\n", capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "no partner nobody" in refused.stderr


def test_the_live_list_answers_204_when_nothing_changed(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit(client, site, "caf", "C-040")
    with signed_in(hub.url, agent(region, "caf", [site.slug])) as browser:
        first = browser.get("/agent/visiteurs")
        assert first.status_code == 200 and ">C-040</td>" in first.text
        assert first.headers["content-security-policy"].startswith("default-src 'none'")
        version = re.search(r'data-version="([0-9a-f]+)"', first.text)
        assert version is not None
        same = browser.get("/agent/visiteurs", params={"v": version.group(1)})
        assert same.status_code == 204 and same.content == b""
        visit(client, site, "caf", "C-041")
        changed = browser.get("/agent/visiteurs", params={"v": version.group(1)})
        assert changed.status_code == 200 and ">C-041</td>" in changed.text
    with httpx.Client(base_url=hub.url) as anonymous:
        assert anonymous.get("/agent/visiteurs").status_code == 303
