"""PUT /site/status: a site's queue, kiosks' health and version; the latest by the site's
own clock is kept, whatever order they come in; anything else is refused whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from pvp_hub.schema import sites
from tests.hub.regions import Hub, Region, Site


def status(at: datetime | None = None, waiting: int = 4, **changes: Any) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    body: dict[str, Any] = {
        "checked_at": at.isoformat(),
        "app_version": "1.4.0",
        "queue": {"waiting": waiting, "called": 1, "in_session": 2},
        "kiosks": [
            {"id": "kiosque-1", "state": "ok", "problems": [], "checked_at": at.isoformat()},
            {
                "id": "kiosque-2",
                "state": "degraded",
                "problems": ["printer_offline", "paper_low"],
                "checked_at": (at - timedelta(seconds=20)).isoformat(),
            },
        ],
    }
    body.update(changes)
    return body


def put(client: httpx.Client, site: Site, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.put(
        "/api/v1/site/status",
        content=content,
        headers={**site.auth, "Content-Type": "application/json"},
    )


def stored(hub: Hub, site: Site) -> Any:
    with hub.engine.connect() as conn:
        return conn.execute(
            select(sites.c.status, sites.c.status_at).where(sites.c.slug == site.slug)
        ).one()


def test_the_latest_status_by_the_sites_clock_is_kept(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    now = datetime.now(UTC).replace(microsecond=0)
    first = put(client, site, status(now, waiting=4))
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": True, "status_at": now.isoformat()}
    row = stored(hub, site)
    assert row.status["queue"] == {"waiting": 4, "called": 1, "in_session": 2}
    assert row.status["kiosks"][1]["problems"] == ["printer_offline", "paper_low"]
    assert row.status_at == now

    # A retry of the same status changes nothing; an older one that arrives late is not kept.
    assert put(client, site, status(now, waiting=4)).json()["stored"] is True
    late = put(client, site, status(now - timedelta(minutes=1), waiting=9))
    assert late.status_code == 200
    assert late.json() == {"stored": False, "status_at": now.isoformat()}
    assert stored(hub, site).status["queue"]["waiting"] == 4

    newer = put(client, site, status(now + timedelta(seconds=30), waiting=0, kiosks=[]))
    assert newer.json()["stored"] is True
    assert stored(hub, site).status["kiosks"] == []
    # each site has its own
    other = region.site()
    assert put(client, other, status(now - timedelta(hours=1))).json()["stored"] is True
    assert stored(hub, site).status["queue"]["waiting"] == 0


def test_a_wrong_status_is_refused_whole_naming_each_problem(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    now = datetime.now(UTC)
    kiosk = status(now)["kiosks"][0]
    cases: list[tuple[Any, int, str, list[str] | None]] = [
        (status(now, extra=1), 422, "invalid_body", ["extra: unknown field"]),
        (status(now, queue={"waiting": "3", "called": 0, "in_session": 0}), 422,
         "invalid_body", ["queue.waiting: Input should be a valid integer"]),
        (status(now, queue={"waiting": -1, "called": 0, "in_session": 0}), 422,
         "invalid_body", None),
        (status(now, kiosks=[{**kiosk, "state": "broken"}]), 422, "invalid_body", None),
        # problems are machine codes: free text (a name, a sentence) cannot go up
        (status(now, kiosks=[{**kiosk, "problems": ["Mme Durand attend"]}]), 422,
         "invalid_body", None),
        (status(now, kiosks=[{**kiosk, "checked_at": "2026-12-05T09:00:00"}]), 422,
         "invalid_body", None),
        (status(now, kiosks=[kiosk, kiosk]), 422, "invalid_status",
         ["kiosks[1].id: 'kiosque-1' is listed twice"]),
        (status(now + timedelta(hours=3)), 422, "invalid_status", None),
        (status(now, app_version="1.4\u0000"), 422, "nul_character", None),
        (b'{"checked_at": ', 400, "malformed_json", None),
    ]  # fmt: skip
    for body, code, error, problems in cases:
        answer = put(client, site, body)
        assert answer.status_code == code, (body, answer.text)
        assert answer.json()["error"]["code"] == error, answer.text
        if problems is not None:
            assert answer.json()["error"]["problems"] == problems
    future = put(client, site, status(now + timedelta(hours=3))).json()["error"]["problems"]
    assert future[0].startswith("checked_at: 3 h 00 min ahead of the hub's clock")
    assert stored(hub, site).status is None  # nothing was kept

    too_big = status(now, kiosks=[{**kiosk, "id": f"k{i}"} for i in range(2000)])
    assert put(client, site, too_big).status_code == 413
    assert client.put("/api/v1/site/status", content=b"x", headers=site.auth).status_code == 415
    stranger = client.put("/api/v1/site/status", json=status(now))
    assert stranger.status_code == 401
    # refused input from a stranger is a 401 too: it learns nothing of the rules
    assert client.put("/api/v1/site/status", json={"x": 1}).status_code == 401
