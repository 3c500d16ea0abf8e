"""Pull: what changed for the site since its cursor, in pages, each object once."""

from __future__ import annotations

import httpx
import pytest

from pvp_hub import directory, sync
from pvp_hub.database import make_engine
from tests.hub.regions import Hub, Region, Site


def pull_all(client: httpx.Client, site: Site, cursor: str | None = None, limit: int = 500):
    """Every page from `cursor`: (items, final cursor, number of requests)."""
    items, requests = [], 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/api/v1/site/changes", params=params, headers=site.auth)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        requests += 1
        items += page["items"]
        cursor = page["cursor"]
        if not page["more"]:
            return items, cursor, requests


def partner_table(n: int, minutes: int = 20) -> dict[str, object]:
    prefix = "".join(chr(ord("A") + int(d)) for d in f"{n:03d}")
    return {"id": f"p{n}", "name": f"Partner {n}", "prefix": prefix, "interview_minutes": minutes}


def test_the_first_pull_is_the_whole_directory_then_only_changes(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    items, cursor, _ = pull_all(client, site)
    assert {(i["kind"], i["id"]) for i in items} == {
        ("site", site.slug), ("partner", "caf"), ("partner", "cpam"),
    }  # fmt: skip
    caf = next(i for i in items if i["id"] == "caf")["data"]
    assert caf == {
        "name": "CAF",
        "prefix": "C",
        "interview_minutes": 20,
        "hours": {"mon": ["09:00-12:00"]},
        "document_types": caf["document_types"],
        "room": None,
    }
    assert pull_all(client, site, cursor)[0] == []  # nothing new
    room = {
        "room_url": "https://visio.example.fr/caf-{ticket}",
        "room_domains": ["visio.example.fr"],
    }
    changed = directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C", **room}])
    directory.save_partners(hub.engine, region.slug, changed)
    news, cursor2, _ = pull_all(client, site, cursor)
    assert [(i["id"], i["data"]["room"]["kind"]) for i in news] == [("caf", "url")]
    assert pull_all(client, site, cursor2)[0] == []


def test_a_week_offline_catches_up_in_a_few_requests(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    _, cursor, _ = pull_all(client, site)
    # A busy week: 60 partners, each edited 10 times.
    for minutes in range(10, 20):
        tables = [partner_table(n, minutes) for n in range(60)]
        directory.save_partners(hub.engine, region.slug, directory.check_partners(tables))
    items, _, requests = pull_all(client, site, cursor, limit=25)
    # Each partner once, in its latest state; 600 changes in 3 pages of at most 25.
    assert len(items) == 60 and requests == 3
    assert {i["data"]["interview_minutes"] for i in items} == {19}


def test_pages_do_not_lose_changes_made_between_them(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    first = client.get("/api/v1/site/changes", params={"limit": 2}, headers=site.auth).json()
    assert first["more"] is True and len(first["items"]) == 2
    directory.save_partners(hub.engine, region.slug, directory.check_partners([partner_table(7)]))
    rest, _, _ = pull_all(client, site, first["cursor"])
    seen = {i["id"] for i in first["items"] + rest}
    assert seen == {site.slug, "caf", "cpam", "p7"}


def test_a_cursor_the_hub_did_not_make_is_refused(region: Region, client: httpx.Client) -> None:
    site = region.site()
    for cursor in ("garbage", "c1.!!!", "c1.YWJj", "x" * 41):
        answer = client.get("/api/v1/site/changes", params={"cursor": cursor}, headers=site.auth)
        assert answer.status_code in (400, 422), (cursor, answer.text)
        assert answer.json()["error"]["code"] in ("bad_cursor", "invalid_request")


def test_a_site_sees_the_regions_changes_and_its_own_never_another_sites(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    first = region.site()
    _, cursor, _ = pull_all(client, first)
    others = [region.site() for _ in range(3)]  # their rows come after the first's cursor
    assert pull_all(client, first, cursor)[0] == []
    directory.save_partners(hub.engine, region.slug, directory.check_partners([partner_table(9)]))
    news, _, _ = pull_all(client, first, cursor)
    assert [(i["kind"], i["id"]) for i in news] == [("partner", "p9")]
    # A later site's first pull: its own row (after the partners') and the region's.
    items, _, _ = pull_all(client, others[-1])
    assert {(i["kind"], i["id"]) for i in items} == {
        ("site", others[-1].slug), ("partner", "caf"), ("partner", "cpam"), ("partner", "p9"),
    }  # fmt: skip


def test_a_sites_statements_stay_prepared_on_postgresql(hub: Hub, region: Region) -> None:
    """Every request's statements are prepared once per connection, not planned anew:
    psycopg forgets them at each ROLLBACK, which a read must therefore not end with."""
    if hub.kind != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    site = region.site()
    engine = make_engine(hub.engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        for _ in range(8):  # psycopg prepares a statement at its 6th run on a connection
            sync.pull(engine, site.token, None, 500)
            sync.site_info(engine, site.token)
        with engine.connect() as conn:
            prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
            statements = " ".join(row[0] for row in prepared)
        assert "site_tokens" in statements and "UNION ALL" in statements
    finally:
        engine.dispose()
