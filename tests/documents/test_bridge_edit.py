"""The bridge's documents.edit (added for the documents panel) on a real pvp-bridge."""

from __future__ import annotations

import base64
import io

import pikepdf
import pytest
from PIL import Image

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.documents.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess


async def test_reorder_rotate_and_drop_pages_keep_the_id(lab: Lab, bridge: BridgeProcess) -> None:
    async with BridgeClient(bridge.url, bridge.token) as client:
        scan = await client.request(
            "scanner.scan",
            {"device": "test:0", "source": "adf", "mode": "gray", "resolution": 50,
             "max_pages": 3, "options": {"test_picture": "Color pattern"}},
        )  # fmt: skip
        doc = scan["document"]
        thumbs = [
            (await client.request("documents.get", {"document": doc["id"], "thumbnail": n}))
            for n in (1, 2, 3)
        ]
        edited = await client.request(
            "documents.edit",
            {"document": doc["id"], "pages": [{"page": 3, "rotate": 90}, {"page": 1}]},
        )
        new = edited["document"]
        assert new["id"] == doc["id"] and new["pages"] == 2 and new["thumbnails"] == 2
        assert new["sha256"] != doc["sha256"]
        with pikepdf.open(io.BytesIO(await client.get_document(doc["id"]))) as pdf:
            assert len(pdf.pages) == 2
            assert int(pdf.pages[0].obj.get("/Rotate", 0)) == 90
            assert int(pdf.pages[1].obj.get("/Rotate", 0)) == 0
        # The first thumbnail is the old page 3, turned: its width and height swap.
        first = await client.request("documents.get", {"document": doc["id"], "thumbnail": 1})
        old3 = Image.open(io.BytesIO(base64.b64decode(thumbs[2]["data"])))
        now1 = Image.open(io.BytesIO(base64.b64decode(first["data"])))
        assert now1.size == (old3.size[1], old3.size[0])
        with pytest.raises(BridgeError) as err:
            await client.request("documents.get", {"document": doc["id"], "thumbnail": 3})
        assert err.value.code == "bad_params"


@pytest.mark.parametrize(
    "pages",
    [[], [{"page": 4}], [{"page": 1, "rotate": 45}], [{"page": "1"}], ["x"],
     [{"page": 1, "rotate": True}]],
)  # fmt: skip
async def test_bad_edits_are_refused_and_change_nothing(
    lab: Lab, bridge: BridgeProcess, pages: list[object]
) -> None:
    async with BridgeClient(bridge.url, bridge.token) as client:
        scan = await client.request(
            "scanner.scan", {"device": "test:0", "source": "flatbed", "resolution": 50}
        )
        doc = scan["document"]
        with pytest.raises(BridgeError) as err:
            await client.request("documents.edit", {"document": doc["id"], "pages": pages})
        assert err.value.code == "bad_params" and err.value.message["fr"]
        same = await client.request("documents.get", {"document": doc["id"]})
        assert same["sha256"] == doc["sha256"]


async def test_edit_needs_a_pdf_and_an_existing_document(lab: Lab, bridge: BridgeProcess) -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, "PNG")
    async with BridgeClient(bridge.url, bridge.token) as client:
        doc = await client.put_document(png.getvalue())
        with pytest.raises(BridgeError) as err:
            await client.request("documents.edit", {"document": doc["id"], "pages": [{"page": 1}]})
        assert err.value.code == "unsupported_type"
        with pytest.raises(BridgeError) as err:
            await client.request(
                "documents.edit", {"document": "doc_0000000000000000", "pages": [{"page": 1}]}
            )
        assert err.value.code == "document_not_found"
