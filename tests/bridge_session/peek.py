"""Looking at the kiosk's browsers from outside, the way a person at the kiosk would: a
second DevTools connection to a browser the bridge started (found by its profile folder),
to read the page, take an independent screenshot and touch the screen."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from pathlib import Path
from typing import Any

from PIL import Image

from kiosk_bridge.session.browser import CDPConnection, CDPError, group_members


def profiles(root: Path, screen: bool) -> list[Path]:
    """Live profiles under `root`: the screen's, or the calls' (the others)."""
    found = []
    for profile in root.glob("pvp-bridge-chromium-*"):
        is_screen = profile.name.startswith("pvp-bridge-chromium-screen-")
        if is_screen == screen and (profile / "DevToolsActivePort").exists():
            found.append(profile)
    return found


def owner_group(profile: Path) -> int:
    return int(json.loads((profile / "pvp-bridge-owner.json").read_text())["pgid"])


class Peek:
    """A DevTools connection of our own to the page of one of the bridge's browsers."""

    def __init__(self, cdp: CDPConnection, session: str, profile: Path) -> None:
        self.cdp = cdp
        self.session = session
        self.profile = profile

    @classmethod
    async def open(cls, root: Path, *, screen: bool = True, timeout: float = 20) -> Peek:
        deadline = time.monotonic() + timeout
        while True:
            live = [p for p in profiles(root, screen) if group_members(owner_group(p))]
            if live:
                profile = live[0]
                try:
                    port, path = (profile / "DevToolsActivePort").read_text().split()[:2]
                    cdp = await CDPConnection.connect(f"ws://127.0.0.1:{int(port)}{path}")
                    targets = await cdp.send("Target.getTargets")
                    page = next(t for t in targets["targetInfos"] if t["type"] == "page")
                    attached = await cdp.send(
                        "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
                    )
                    return cls(cdp, attached["sessionId"], profile)
                except (OSError, ValueError, StopIteration):
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no {'screen' if screen else 'call'} browser under {root}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.cdp.close()

    async def eval(self, expression: str) -> Any:
        result = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        return result.get("result", {}).get("value")

    async def wait(self, expression: str, what: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = await self.eval(expression)
            except CDPError as exc:  # the page is between two documents: ask again
                value = str(exc)
            else:
                if value:
                    return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} (last: {value!r})")

    async def view(self) -> str | None:
        return await self.eval("document.body && document.body.dataset.view || null")

    async def wait_view(self, view: str, timeout: float = 20) -> None:
        await self.wait(f"document.body && document.body.dataset.view === {view!r}", view, timeout)

    async def text(self) -> str:
        return str(await self.eval("document.body.innerText"))

    async def url(self) -> str:
        return str(await self.eval("location.href"))

    async def touch(self, selector: str) -> None:
        """A finger on the element's middle: touchStart then touchEnd, like a real tap."""
        box = await self.eval(
            f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        point = [{"x": x, "y": y, "radiusX": 5, "radiusY": 5, "force": 1, "id": 1}]
        await self.cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point}, self.session
        )
        await self.cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []}, self.session
        )

    async def screenshot(self) -> Image.Image:
        shot = await self.cdp.send("Page.captureScreenshot", {"format": "png"}, self.session)
        return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
