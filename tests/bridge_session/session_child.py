"""A bridge-like process holding one video session, for tests that kill or isolate it.

    python -m tests.bridge_session.session_child '{"session": {...}, "display_name": "C-007",
                                            "room_url": "..." | "far_end": "127.0.0.1"}'

`session` is the `[session]` config table (parsed as the bridge parses it). With
`far_end`, the room and its agent run in this process too (used inside a network
namespace). With `trace_file`, the session's trace (what the browser reported, with
times) is written there at the end: the replay fixtures come from it.
Prints JSON lines: {"far_end": url}, {"browser": {pid, pgid, profile}},
{"event": name, "data": {...}}; reads commands on stdin: "end", "leave", "quit".
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from kiosk_bridge.session.config import parse
from kiosk_bridge.session.manager import SessionManager
from tests.support.farend import FarEnd


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main(spec: dict[str, Any]) -> None:
    config = parse(spec["session"])
    far: FarEnd | None = None
    if spec.get("far_end"):
        far = await FarEnd(spec["far_end"]).start()
        say({"far_end": far.room_url(spec["display_name"])})

    async def on_event(name: str, data: dict[str, Any]) -> None:
        say({"event": name, "data": data})

    trace: list[list[Any]] = []
    manager = SessionManager(
        config, on_event, trace=lambda t, kind, data: trace.append([round(t, 3), kind, data])
    )
    url = far.room_url(spec["display_name"]) if far else spec["room_url"]
    await manager.start(url, spec["display_name"])
    browser = manager.browser
    if browser is not None:
        say(
            {"browser": {"pid": browser.pid, "pgid": browser.pgid, "profile": str(browser.profile)}}
        )
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "leave" and far is not None:
            await far.leave()
        elif line == "end":
            await manager.end()
        elif line in ("quit", ""):
            break
    await manager.close()
    if far is not None:
        await far.close()
    if spec.get("trace_file"):
        with open(spec["trace_file"], "w") as out:
            json.dump(trace, out, separators=(",", ":"))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
