"""Who may do what: a site sees only itself; every refusal tells nothing about others."""

from __future__ import annotations

import uuid

import httpx
import pytest

from pvp_hub import directory
from tests.hub.regions import Hub, Region, event, push

ENDPOINTS = [
    ("GET", "/api/v1/site"),
    ("GET", "/api/v1/site/changes"),
    ("GET", "/api/v1/site/visits/5b0e3c1e-6f0c-4e7e-9a39-2f7c0c2d9b11"),  # never made: ids
    # in test ids must be the same in every collection (pytest-xdist compares them)
    ("POST", "/api/v1/site/events"),
]


def call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = {"events": [event(uuid.uuid4())]} if method == "POST" else None
    return client.request(
        method, path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer pvphub_not-a-real-token", "Basic dXNlcjpwdw==", "pvphub_x"],
)
def test_no_valid_token_gets_401_and_the_same_answer(
    region: Region, client: httpx.Client, method: str, path: str, authorization: str | None
) -> None:
    region.site()
    headers = {"Authorization": authorization} if authorization else {}
    answer = call(client, method, path, headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"]["code"] == "unauthorized"


def test_a_revoked_token_is_refused_at_once(hub: Hub, region: Region, client: httpx.Client) -> None:
    site = region.site()
    assert client.get("/api/v1/site", headers=site.auth).status_code == 200
    directory.revoke_token(hub.engine, str(site.token_id))
    for method, path in ENDPOINTS:
        assert call(client, method, path, site.auth).status_code == 401
    # A new token for the same site works; the old one stays dead.
    _, fresh = directory.issue_token(hub.engine, site.region, site.slug)
    assert (
        client.get("/api/v1/site", headers={"Authorization": f"Bearer {fresh}"}).json()["id"]
        == site.slug
    )
    assert client.get("/api/v1/site", headers=site.auth).status_code == 401


def test_a_site_cannot_read_another_sites_visit(region: Region, client: httpx.Client) -> None:
    a, b = region.site(), region.site()
    visit_b = uuid.uuid4()
    assert push(client, b, [event(visit_b)]).status_code == 200
    assert client.get(f"/api/v1/site/visits/{visit_b}", headers=b.auth).status_code == 200
    foreign = client.get(f"/api/v1/site/visits/{visit_b}", headers=a.auth)
    missing = client.get(f"/api/v1/site/visits/{uuid.uuid4()}", headers=a.auth)
    garbage = client.get("/api/v1/site/visits/not-a-uuid", headers=a.auth)
    # Another site's visit, no visit at all, a malformed id: one and the same answer.
    assert foreign.status_code == missing.status_code == garbage.status_code == 404
    assert foreign.json() == missing.json() == garbage.json()


def test_a_site_cannot_push_into_another_sites_visit(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    a, b = region.site(), region.site()
    visit_b = uuid.uuid4()
    assert push(client, b, [event(visit_b)]).status_code == 200
    own = uuid.uuid4()
    answer = push(client, a, [event(own), event(visit_b, "called")])
    assert answer.status_code == 403
    assert answer.json()["error"] == {
        "code": "foreign_visit",
        "message": "a site may push only its own visits",
        "problems": ["events[1].visit_id: not a visit of this site"],
    }
    # Nothing of the batch was kept, not even the own visit it carried.
    assert client.get(f"/api/v1/site/visits/{own}", headers=a.auth).status_code == 404
    assert client.get(f"/api/v1/site/visits/{visit_b}", headers=b.auth).json()["events"] == 1


def test_a_site_cannot_replay_another_sites_event_id(region: Region, client: httpx.Client) -> None:
    a, b = region.site(), region.site()
    theirs = event(uuid.uuid4())
    assert push(client, b, [theirs]).status_code == 200
    stolen = {**theirs, "visit_id": str(uuid.uuid4())}
    answer = push(client, a, [stolen])
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "foreign_event"


def test_a_site_pulls_only_its_region_and_itself(hub: Hub, client: httpx.Client) -> None:
    north, south = f"n{uuid.uuid4().hex[:10]}", f"s{uuid.uuid4().hex[:10]}"
    for slug, partner in ((north, "caf"), (south, "msa")):
        directory.create_region(hub.engine, slug, slug)
        directory.save_partners(
            hub.engine,
            slug,
            directory.check_partners([{"id": partner, "name": partner, "prefix": "X"}]),
        )
    here = Region(north, hub.engine).site("here")
    Region(north, hub.engine).site("neighbour")
    Region(south, hub.engine).site("far")
    items = client.get("/api/v1/site/changes", headers=here.auth).json()["items"]
    assert sorted((i["kind"], i["id"]) for i in items) == [("partner", "caf"), ("site", "here")]


def test_unknown_paths_and_methods_answer_plainly(client: httpx.Client) -> None:
    assert client.get("/api/v1/nothing").json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/site/events")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
