"""Push: a batch of a site's events, applied exactly once, refused whole when wrong."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from pvp_hub.schema import events, idempotency_keys, visits
from tests.hub.regions import Hub, Region, event, push


def stored_events(hub: Hub, visit_ids: list[uuid.UUID]) -> int:
    with hub.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(events).where(events.c.visit_id.in_(visit_ids))
        ).scalar_one()


def test_a_batch_is_applied_once_and_its_retry_gets_the_first_answer(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    batch = [event(visit), event(visit, "called", **{"from": "waiting", "to": "called"})]
    first = push(client, site, batch, key="batch-1")
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 2, "applied": 2, "duplicates": 0}
    again = push(client, site, batch, key="batch-1")
    assert (again.status_code, again.json()) == (200, first.json())
    # The same events under a new key (an outbox that lost its key): skipped by their ids.
    other_key = push(client, site, batch, key="batch-2")
    assert other_key.json() == {"received": 2, "applied": 0, "duplicates": 2}
    assert stored_events(hub, [visit]) == 2
    seen = client.get(f"/api/v1/site/visits/{visit}", headers=site.auth).json()
    assert seen["status"] == "called" and seen["ticket"] == "C-001" and seen["events"] == 2


def test_a_key_reused_with_another_body_is_refused(region: Region, client: httpx.Client) -> None:
    site = region.site()
    assert push(client, site, [event(uuid.uuid4())], key="k").status_code == 200
    reused = push(client, site, [event(uuid.uuid4())], key="k")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_belong_to_their_site(region: Region, client: httpx.Client) -> None:
    """Two sites may pick the same key: each gets its own answer."""
    one, two = region.site(), region.site()
    assert push(client, one, [event(uuid.uuid4())], key="same").status_code == 200
    answer = push(client, two, [event(uuid.uuid4()), event(uuid.uuid4())], key="same")
    assert answer.status_code == 200 and answer.json()["applied"] == 2


def test_events_out_of_order_leave_the_latest_status(region: Region, client: httpx.Client) -> None:
    site = region.site()
    visit = uuid.uuid4()
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    checked = event(visit, at=t0)
    started = event(visit, "started", at=t0 + timedelta(minutes=10))
    called = event(visit, "called", at=t0 + timedelta(minutes=5), to="called")
    assert push(client, site, [started]).status_code == 200
    assert push(client, site, [called, checked]).status_code == 200
    seen = client.get(f"/api/v1/site/visits/{visit}", headers=site.auth).json()
    assert seen["status"] == "in_session" and seen["ticket"] == "C-001"


def test_one_batch_projects_each_of_its_visits(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    """The batch's visits are projected by one statement: each visit gets its own latest
    status and its last ticket by the events' time, whatever the order in the batch."""
    site = region.site()
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    moved, plain, bare, late = (uuid.uuid4() for _ in range(4))
    before = [event(late, "started", at=t0 + timedelta(minutes=20)), event(bare, at=t0)]
    assert push(client, site, before).status_code == 200
    batch = [
        event(moved, "transferred_in", at=t0 + timedelta(minutes=9), partner="cpam",
              ticket="A-004", from_partner="caf"),
        event(moved, at=t0),
        event(plain, "called", at=t0 + timedelta(minutes=3), to="called"),
        event(plain, at=t0 + timedelta(minutes=1)),
        # A later check-in that names no partner nor ticket leaves the visit without one.
        event(bare, at=t0 + timedelta(minutes=2), priority=False),
        event(late, at=t0),  # older than the stored status: only its ticket is taken
    ]  # fmt: skip
    answer = push(client, site, batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 6, "applied": 6, "duplicates": 0}
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(visits.c.id, visits.c.partner, visits.c.ticket, visits.c.status).where(
                visits.c.id.in_([moved, plain, bare, late])
            )
        ).all()
    assert {row.id: (row.partner, row.ticket, row.status) for row in rows} == {
        moved: ("cpam", "A-004", "waiting"),
        plain: ("caf", "C-001", "called"),
        bare: (None, None, "waiting"),
        late: ("caf", "C-001", "in_session"),
    }


def test_a_visitor_name_goes_up_only_with_consent(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    leaked = push(client, site, [event(visit, "checked_in", partner="caf", name="Mme Durand")])
    assert leaked.status_code == 422
    assert leaked.json()["error"]["problems"] == [
        "events[0].data.name: visitor names and details go up only in a name_shared event "
        "that records the visitor's consent"
    ]
    no_consent = push(client, site, [event(visit, "name_shared", name="Mme Durand")])
    assert no_consent.status_code == 422
    assert "events[0].data.consent: must be true" in no_consent.json()["error"]["problems"][0]
    shared = push(
        client, site, [event(visit), event(visit, "name_shared", name="Mme Durand", consent=True)]
    )
    assert shared.status_code == 200, shared.text
    assert client.get(f"/api/v1/site/visits/{visit}", headers=site.auth).json()["name_shared"]
    with hub.engine.connect() as conn:
        # The name is on the visit (erased at the end of the day), never in the event log.
        name, erase_at = conn.execute(
            select(visits.c.visitor_name, visits.c.name_erase_at).where(visits.c.id == visit)
        ).one()
        logged = conn.execute(select(events.c.data).where(events.c.visit_id == visit)).scalars()
        assert name == "Mme Durand" and erase_at.tzinfo is not None
        assert erase_at > datetime.now(UTC)
        assert "Durand" not in json.dumps(list(logged))


def test_names_are_erased_once_their_day_is_over(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    from pvp_hub.sync import purge

    site = region.site()
    visit = uuid.uuid4()
    push(client, site, [event(visit), event(visit, "name_shared", name="M. Roux", consent=True)])
    purge(hub.engine, clock=lambda: datetime.now(UTC) + timedelta(days=1, hours=1))
    with hub.engine.connect() as conn:
        assert (
            conn.execute(select(visits.c.visitor_name).where(visits.c.id == visit)).scalar_one()
            is None
        )


def test_a_name_shared_on_a_day_already_over_is_not_kept(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    late = [
        event(visit, at=two_days_ago),
        event(visit, "name_shared", at=two_days_ago, name="Mme Petit", consent=True),
    ]
    assert push(client, site, late).json()["applied"] == 2
    with hub.engine.connect() as conn:
        assert (
            conn.execute(select(visits.c.visitor_name).where(visits.c.id == visit)).scalar_one()
            is None
        )


# (what is sent, status, error code, a problem line that must be in the answer)
def _bad_inputs() -> list[tuple[str, object, int, str, str]]:
    visit = str(uuid.uuid4())
    good = event(visit)
    future = event(visit, at=datetime.now(UTC) + timedelta(hours=3, minutes=5))
    ancient = event(visit, at=datetime.now(UTC) - timedelta(days=400))
    naive = {**good, "at": "2026-12-05T10:00:00"}
    return [
        ("malformed JSON", b'{"events": [', 400, "malformed_json", ""),
        ("not an object", b"[1, 2]", 422, "invalid_body", "body: Input should be an object"),
        ("empty batch", {"events": []}, 422, "invalid_body", "events: List should have at least"),
        ("unknown top field", {"events": [good], "site": "x"}, 422, "invalid_body",
         "site: unknown field"),
        ("unknown event field", {"events": [{**good, "extra": 1}]}, 422, "invalid_body",
         "events[0].extra: unknown field"),
        ("missing field", {"events": [{k: v for k, v in good.items() if k != "at"}]}, 422,
         "invalid_body", "events[0].at: is required"),
        ("wrong type", {"events": [{**good, "visit_id": 12}]}, 422, "invalid_body",
         "events[0].visit_id"),
        ("number as text is not coerced", {"events": [{**good, "data": "x"}]}, 422,
         "invalid_body", "events[0].data"),
        ("not a UUID", {"events": [{**good, "id": "abc"}]}, 422, "invalid_body", "events[0].id"),
        ("time without zone", {"events": [naive]}, 422, "invalid_body", "events[0].at"),
        ("unknown type", {"events": [{**good, "type": "exploded"}]}, 422, "invalid_events",
         "events[0].type: unknown event type 'exploded'"),
        ("clock ahead", {"events": [future]}, 422, "invalid_events",
         "ahead of the hub's clock"),  # 3 h when the test module was read; less by now
        ("too old", {"events": [ancient]}, 422, "invalid_events", "events[0].at: older than"),
        ("NUL in data", {"events": [{**good, "data": {"ticket": "C\u0000"}}]}, 422,
         "nul_character", "events[0].data.ticket: contains \\u0000"),
        ("NaN in data", {"events": [{**good, "data": {"score": float("nan")}}]}, 422,
         "invalid_number", "events[0].data.score: not a finite number"),
        ("a number beyond a float's range",
         json.dumps({"events": [{**good, "data": {"v": "BIG"}}]}).replace('"BIG"', "1e400")
         .encode(), 422, "invalid_number", "events[0].data.v: not a finite number"),
        ("Infinity deep in data",
         {"events": [good, {**good, "data": {"a": [1, {"b": -float("inf")}]}}]}, 422,
         "invalid_number", "events[1].data.a[1].b: not a finite number"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code", "problem"),
    [case[1:] for case in _bad_inputs()],
    ids=[case[0] for case in _bad_inputs()],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_stored(
    hub: Hub, region: Region, client: httpx.Client, body: object, status: int, code: str,
    problem: str,
) -> None:  # fmt: skip
    site = region.site()
    key = f"bad-{uuid.uuid4()}"
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(
        "/api/v1/site/events",
        content=raw,
        headers={**site.auth, "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert any(problem in line for line in error.get("problems", [""])), error
    with hub.engine.connect() as conn:
        kept = select(func.count()).where(idempotency_keys.c.key == key)
        assert conn.execute(kept).scalar_one() == 0
    # The hub goes on: the same key then serves a good batch.
    assert push(client, site, [event(uuid.uuid4())], key=key).status_code == 200


def test_one_bad_event_refuses_the_whole_batch(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    answer = push(client, site, [event(visit), event(visit), event(visit, "exploded")])
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"] == ["events[2].type: unknown event type 'exploded'"]
    assert stored_events(hub, [visit]) == 0


def test_limits_of_size_and_headers(region: Region, client: httpx.Client) -> None:
    site = region.site()
    huge = [event(uuid.uuid4(), note_length="x" * 4000) for _ in range(300)]
    too_big = push(client, site, huge)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
    many = push(client, site, [event(uuid.uuid4()) for _ in range(501)])
    assert many.status_code == 422 and many.json()["error"]["code"] == "batch_too_large"
    no_key = client.post("/api/v1/site/events", json={"events": [event(uuid.uuid4())]},
                         headers=site.auth)  # fmt: skip
    assert no_key.status_code == 400
    assert no_key.json()["error"]["code"] == "idempotency_key_required"
    as_form = client.post(
        "/api/v1/site/events",
        content=b"events=1",
        headers={**site.auth, "Idempotency-Key": "f", "Content-Type": "text/plain"},
    )
    assert as_form.status_code == 415


def test_an_event_id_reused_for_other_content_is_refused(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    visit = uuid.uuid4()
    original = event(visit)
    assert push(client, site, [original]).status_code == 200
    changed = {**original, "data": {"partner": "cpam", "ticket": "A-001"}}
    answer = push(client, site, [changed, event(visit, "called")])
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "event_conflict"
    assert stored_events(hub, [visit]) == 1


def test_any_json_number_in_an_event_is_kept_as_sent(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    """Whole numbers beyond 64 bits and long decimals (a site's counter, a measure) are JSON
    and are kept as they are, whatever writes them to the database."""
    site = region.site()
    visit = uuid.uuid4()
    data = {"big": 10**30, "small": -(2**63) - 1, "ratio": 0.1, "text": "é\u2019"}
    batch = [event(visit, "session_quality", quality="good", **data)]
    first = push(client, site, batch, key="numbers")
    assert first.status_code == 200, first.text
    assert push(client, site, batch, key="numbers").json() == first.json()
    with hub.engine.connect() as conn:
        stored = conn.execute(select(events.c.data).where(events.c.visit_id == visit)).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored == {"quality": "good", **data}
