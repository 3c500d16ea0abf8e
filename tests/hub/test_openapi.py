"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json

import httpx

from pvp_hub.cli import openapi_document
from tests.hub.regions import Hub
from tests.support.hub_daemons import REPO

COMMITTED = REPO / "docs" / "hub-openapi.json"


def test_the_committed_document_is_what_the_app_generates() -> None:
    assert COMMITTED.read_text("utf-8") == openapi_document(), (
        "docs/hub-openapi.json is out of date: uv run pvp-hub openapi > docs/hub-openapi.json"
    )


def test_the_running_hub_serves_it(hub: Hub) -> None:
    served = httpx.get(hub.url + "/api/v1/openapi.json", timeout=10).json()
    assert served == json.loads(COMMITTED.read_text("utf-8"))
    push = served["paths"]["/api/v1/site/events"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in push["parameters"])
    assert served["components"]["schemas"]["PushEvent"]["additionalProperties"] is False
