"""Scanning through a real pvp-bridge and SANE's test backend."""

from __future__ import annotations

import asyncio
import base64
import io
import stat
from collections.abc import Callable

import pikepdf
import pytest
from PIL import Image

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.support.bridge_client import Events
from tests.support.bridge_daemons import BridgeProcess

# A slow feeder: small reads with a pause after each (test backend options).
SLOW = {"read_limit": True, "read_limit_size": 16384, "read_delay": True,
        "read_delay_duration": 20000}  # fmt: skip


async def pdf_pages(client: BridgeClient, doc_id: str) -> int:
    data = await client.get_document(doc_id)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


async def test_list_gives_sources_modes_resolutions(client: BridgeClient) -> None:
    scanners = (await client.request("scanner.list"))["scanners"]
    names = [s["device"] for s in scanners]
    assert names == ["test:0", "test:1"]
    s = scanners[0]
    assert s["sources"] == ["flatbed", "adf"]
    assert s["modes"] == ["color", "gray"]
    assert 300 in s["resolutions"] and 1200 in s["resolutions"]
    assert s["resolution_range"]["max"] == 1200


async def test_flatbed_scan_makes_a_one_page_pdf_with_thumbnail(
    client: BridgeClient, events: Events
) -> None:
    r = await client.request(
        "scanner.scan",
        {"device": "test:0", "source": "flatbed", "mode": "gray", "resolution": 100},
    )
    doc = r["document"]
    assert r["pages_added"] == 1 and doc["pages"] == 1 and doc["type"] == "application/pdf"
    assert await pdf_pages(client, doc["id"]) == 1
    thumb = await client.request("documents.get", {"document": doc["id"], "thumbnail": 1})
    im = Image.open(io.BytesIO(base64.b64decode(thumb["data"])))
    assert max(im.size) <= 160 and im.mode == "L"
    page = await events.wait("scan.page", scan=r["scan"])
    assert page["width"] == page["height"] == round(200 / 25.4 * 100)
    assert (await events.wait("scan.done", scan=r["scan"]))["pages_added"] == 1


async def test_twenty_pages_at_300_dpi_in_two_feeder_loads(
    client: BridgeClient, events: Events
) -> None:
    first = await client.request(
        "scanner.scan", {"device": "test:0", "source": "adf", "resolution": 300}, timeout=120
    )
    assert first["pages_added"] == 10  # the test feeder holds 10 sheets
    doc_id = first["document"]["id"]
    second = await client.request(
        "scanner.scan",
        {"device": "test:0", "source": "adf", "resolution": 300, "document": doc_id},
        timeout=120,
    )
    assert second["pages_added"] == 10
    assert second["document"]["id"] == doc_id and second["document"]["pages"] == 20
    assert second["document"]["thumbnails"] == 20
    assert await pdf_pages(client, doc_id) == 20
    pages = [p["page"] for p in events.of("scan.page", scan=second["scan"])]
    assert pages == list(range(11, 21))
    progress = events.of("scan.progress", scan=first["scan"])
    assert progress and all(0 <= p["fraction"] <= 1 for p in progress)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("SANE_STATUS_JAMMED", "scanner_jammed"),
        ("SANE_STATUS_COVER_OPEN", "scanner_cover_open"),
        ("SANE_STATUS_NO_DOCS", "scanner_no_documents"),
        ("SANE_STATUS_IO_ERROR", "scanner_io_error"),
        ("SANE_STATUS_DEVICE_BUSY", "scanner_busy"),
        ("SANE_STATUS_ACCESS_DENIED", "scanner_access_denied"),
    ],
)
async def test_sane_failures_have_stable_codes_and_leave_nothing(
    client: BridgeClient, events: Events, status: str, code: str
) -> None:
    before = (await client.request("documents.list"))["documents"]
    with pytest.raises(BridgeError) as err:
        await client.request(
            "scanner.scan",
            {"device": "test:1", "source": "adf", "resolution": 50,
             "options": {"read_return_value": status}},
        )  # fmt: skip
    assert err.value.code == code
    assert err.value.message["fr"] and err.value.message["en"]
    assert err.value.details["pages_kept"] == 0 and err.value.details["document"] is None
    failed = await events.wait("scan.failed")
    assert failed["error"]["code"] == code
    assert (await client.request("documents.list"))["documents"] == before
    # The injected failure was undone: the next scan on the same device works.
    ok = await client.request(
        "scanner.scan", {"device": "test:1", "source": "flatbed", "resolution": 50}
    )
    assert ok["pages_added"] == 1
    await client.request("documents.delete", {"document": ok["document"]["id"]})


async def test_unknown_device_is_gone(client: BridgeClient) -> None:
    with pytest.raises(BridgeError) as err:
        await client.request("scanner.scan", {"device": "test:7"})
    assert err.value.code == "scanner_gone" and err.value.retryable


@pytest.mark.parametrize(
    "options",
    [
        {"resolutoin": 300},  # misspelt: python-sane would make it a plain attribute
        {"test_picture": "Kittens"},
        {"read_delay_duration": 5},  # below the range: python-sane would clamp it
        {"br_x": "wide"},
    ],
)
async def test_options_are_checked_against_the_device(
    client: BridgeClient, options: dict[str, object]
) -> None:
    with pytest.raises(BridgeError) as err:
        await client.request("scanner.scan", {"device": "test:0", "options": options})
    assert err.value.code == "bad_option"
    assert err.value.details["option"].replace("-", "_") == next(iter(options))


async def test_resolution_above_the_device_range_is_refused_not_clamped(
    client: BridgeClient,
) -> None:
    with pytest.raises(BridgeError) as err:
        await client.request("scanner.scan", {"device": "test:0", "resolution": 2400})
    assert err.value.code == "bad_option" and "1200" in err.value.message["en"]


async def test_bad_params(client: BridgeClient) -> None:
    for params in (
        {"device": "test:0", "source": "glass"},
        {"device": "test:0", "resolution": "300"},
        {"device": "test:0", "colour": "gray"},
        {"source": "adf"},
        {"device": "test:0", "document": "../../etc/passwd"},
    ):
        with pytest.raises(BridgeError) as err:
            await client.request("scanner.scan", params)
        assert err.value.code == "bad_params", params


async def test_cancel_midway_keeps_the_finished_pages(client: BridgeClient, events: Events) -> None:
    scan = asyncio.create_task(
        client.request(
            "scanner.scan",
            {"device": "test:1", "source": "adf", "resolution": 75, "options": SLOW},
            timeout=60,
        )
    )
    page = await events.wait("scan.page", timeout=30, device="test:1")
    # One scan per device: a second one is refused while the first runs.
    with pytest.raises(BridgeError) as busy:
        await client.request("scanner.scan", {"device": "test:1", "source": "adf"})
    assert busy.value.code == "scanner_busy"
    cancel = await client.request("scanner.cancel", {"scan": page["scan"]})
    result = await scan
    assert cancel["cancelled"] and 1 <= cancel["pages_kept"] < 10
    assert result["cancelled"] and result["pages_added"] == cancel["pages_kept"]
    assert result["document"]["pages"] == cancel["pages_kept"]
    assert await pdf_pages(client, result["document"]["id"]) == cancel["pages_kept"]
    done = await events.wait("scan.done", scan=page["scan"])
    assert done["cancelled"] is True
    with pytest.raises(BridgeError) as err:
        await client.request("scanner.cancel", {"scan": page["scan"]})
    assert err.value.code == "scan_not_found"


async def test_two_devices_scan_in_parallel(client: BridgeClient) -> None:
    a, b = await asyncio.gather(
        client.request("scanner.scan", {"device": "test:0", "source": "adf", "resolution": 50}),
        client.request("scanner.scan", {"device": "test:1", "source": "adf", "resolution": 50}),
    )
    assert a["pages_added"] == b["pages_added"] == 10
    assert a["document"]["id"] != b["document"]["id"]


async def test_a_stalled_scanner_is_cancelled_by_the_timeout(
    new_bridge: Callable[..., BridgeProcess],
) -> None:
    # The test backend pauses 0.2 s between buffers: a 0.1 s timeout sees it as stalled.
    b = new_bridge(config="[scanner]\nscan_timeout = 0.1\n")
    stalled = {"read_limit": True, "read_limit_size": 1, "read_delay": True,
               "read_delay_duration": 200000}  # fmt: skip
    async with BridgeClient(b.url, b.token, reconnect=False) as c:
        r = await c.request(
            "scanner.scan",
            {"device": "test:0", "source": "flatbed", "resolution": 75, "options": stalled},
            timeout=30,
        )
        assert r["timed_out"] is True, r
        assert r["cancelled"] is True and r["pages_added"] == 0
        assert r["document"] is None
        # The handle was closed: the device can be opened again (the list probes it).
        listed = (await c.request("scanner.list"))["scanners"]
        assert [d["status"] for d in listed] == ["ready", "ready"]


async def test_scanned_documents_are_private_on_disk(
    bridge: BridgeProcess, client: BridgeClient
) -> None:
    scan = {"device": "test:0", "source": "adf", "resolution": 50, "max_pages": 2}
    doc = (await client.request("scanner.scan", scan))["document"]
    await client.request("scanner.scan", {**scan, "document": doc["id"]})  # appended
    await client.request(
        "documents.edit", {"document": doc["id"], "pages": [{"page": 4}, {"page": 1}]}
    )
    folder = bridge.spool / "docs" / doc["id"]
    modes = {
        str(path.relative_to(bridge.spool)): stat.S_IMODE(path.stat().st_mode)
        for path in [folder, *folder.rglob("*")]
    }
    assert modes[f"docs/{doc['id']}/thumbs/0002.png"] == 0o600
    wrong = {name: oct(mode) for name, mode in modes.items() if mode not in (0o700, 0o600)}
    assert wrong == {}
    assert {oct(m) for n, m in modes.items() if (bridge.spool / n).is_dir()} == {"0o700"}
