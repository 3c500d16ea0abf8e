"""A 6.1 MB PDF fetched from a real pvp-bridge's spool with the client's
`get_document` (4 chunk requests in flight, sha256 hashed as they come in), on loopback:
raw bytes in binary frames (the `binary_chunks` feature) against base64 in text frames
(what a client that does not ask for binary gets). Neither side compresses
(permessage-deflate declined). Baseline: base64 text, same bridge, same connection.

Usage: uv run python benchmarks/bench_bridge_fetch.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pikepdf  # noqa: E402

from kiosk_bridge.client import BridgeClient  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess, write_sane_config  # noqa: E402

SIZE = 6_100_000  # the benchmark scan's size: 10 pages, 300 dpi colour


def incompressible_pdf(size: int, pages: int = 10) -> bytes:
    """A valid PDF of about `size` bytes whose pages hold random (JPEG-like) streams."""
    pdf = pikepdf.new()
    for _ in range(pages):
        image = pikepdf.Stream(pdf, os.urandom(size // pages))
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height = 1000, 100
        image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
        image.Filter = pikepdf.Name.DCTDecode
        page = pdf.add_blank_page()
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def main(runs: int) -> None:
    data = incompressible_pdf(SIZE)
    with tempfile.TemporaryDirectory(prefix="pvp-bench-fetch-") as tmp:
        root = Path(tmp)
        sane = write_sane_config(root / "sane")
        bridge = BridgeProcess(root / "bridge", {"SANE_CONFIG_DIR": str(sane)}, config="")
        bridge.start()
        try:
            async with BridgeClient(bridge.url, bridge.token, request_timeout=600) as client:
                doc = await client.put_document(data)
                features = list(client.hello.get("features") or [])
                assert "binary_chunks" in features, client.hello
                times: dict[str, list[float]] = {"binary": [], "base64": []}
                for run in range(runs + 1):  # the first round warms both up
                    for form in ("binary", "base64"):
                        client.hello["features"] = features if form == "binary" else []
                        t0 = time.perf_counter()
                        got = await client.get_document(doc["id"])
                        elapsed = time.perf_counter() - t0
                        assert got == data
                        if run:
                            times[form].append(elapsed)
                print(f"{len(data) / 1e6:.1f} MB, {runs} runs, load {os.getloadavg()[0]:.1f}")
                for form, spent in times.items():
                    print(
                        f"{form}: median {statistics.median(spent):.3f} s"
                        f" (min {min(spent):.3f}, max {max(spent):.3f})"
                    )
                ratio = statistics.median(times["binary"]) / statistics.median(times["base64"])
                print(f"ratio binary / base64: {ratio:.2f}")
        finally:
            bridge.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
