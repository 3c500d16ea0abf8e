"""A local stand-in for a partner's visio platform, for the session tests and benchmarks.

One websockets server on a random port serves the room page (plain WebRTC: the kiosk's
camera and microphone to the far end and back), a page that embeds the room in a
cross-origin iframe, and the signalling socket. The far end (the "agent") is an aiortc
peer in this process: it answers the kiosk's offer when it joins and closes when it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole
from av import VideoFrame
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

ROOM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Test room</title></head>
<body><h1 id="status">loading</h1><video id="remote" autoplay playsinline muted></video>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const status = (s) => { document.getElementById("status").textContent = s; };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  } catch (e) { status("no media: " + e.name); return; }
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://")
    + location.host + "/signal");
  await new Promise((ok, ko) => { ws.onopen = ok; ws.onerror = ko; });
  ws.send(JSON.stringify({type: "hello", name: q.get("name")}));
  const pc = new RTCPeerConnection();
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  pc.ontrack = (ev) => {
    const v = document.getElementById("remote");
    if (!v.srcObject) v.srcObject = ev.streams[0];
  };
  ws.onmessage = async (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "answer") {
      await pc.setRemoteDescription({type: "answer", sdp: msg.sdp});
      status("answered");
    } else if (msg.type === "bye") { pc.close(); status("left"); }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") return ok();
    pc.addEventListener("icegatheringstatechange",
      () => { if (pc.iceGatheringState === "complete") ok(); });
  });
  ws.send(JSON.stringify({type: "offer", sdp: pc.localDescription.sdp}));
  status("waiting");
})();
</script></body></html>
"""

OUTER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Platform shell</title></head>
<body><iframe src="{src}" allow="camera; microphone; autoplay" width="680" height="520">
</iframe></body></html>
"""

VIDEO_CLOCK = 90_000


class MovingPatternTrack(MediaStreamTrack):
    """Video with motion (a scrolling gradient) so the encoder's bitrate stays realistic."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 24) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        row = bytes((x * 3) % 256 for x in range(width + 256))
        self._luma = [
            b"".join(row[(shift + y) % 256 : (shift + y) % 256 + width] for y in range(height))
            for shift in range(0, 256, 4)
        ]
        self._chroma = bytes([128]) * ((width // 2) * (height // 2))
        self._count = 0
        self._start = 0.0

    async def recv(self) -> VideoFrame:
        if self._count == 0:
            self._start = time.time()
        else:
            wait = self._start + self._count / self.fps - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        frame.planes[0].update(self._luma[self._count % len(self._luma)])
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class FarEnd:
    """The room's server and its agent. `auto_join=False` keeps the agent away until join()."""

    def __init__(self, host: str = "127.0.0.1", *, auto_join: bool = True) -> None:
        self.host = host
        self.auto_join = auto_join
        self.names: list[str | None] = []
        self.joined = asyncio.Event()
        self._server: Server | None = None
        self._kiosk: ServerConnection | None = None
        self._offer: str | None = None
        self._offer_ready = asyncio.Event()
        self._pc: RTCPeerConnection | None = None
        self._sinks: list[MediaBlackhole] = []
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self) -> FarEnd:
        self._server = await serve(self._signal, self.host, 0, process_request=self._http)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def room_url(self, name: str = "C-007", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}/room?name={quote(name)}"

    def outer_url(self, name: str = "C-007", frame_host: str = "localhost") -> str:
        return f"http://{self.host}:{self.port}/outer?name={quote(name)}&frame={frame_host}"

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path == "/signal":
            return None
        if path == "/room":
            return _html(connection, ROOM_PAGE)
        if path == "/outer":
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            frame_host, name = params.get("frame", "localhost"), params.get("name", "")
            src = f"http://{frame_host}:{self.port}/room?name={name}"
            return _html(connection, OUTER_PAGE.format(src=src))
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    async def _signal(self, ws: ServerConnection) -> None:
        self._kiosk = ws
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "hello":
                    self.names.append(msg.get("name"))
                elif msg.get("type") == "offer":
                    self._offer = msg["sdp"]
                    self._offer_ready.set()
                    if self.auto_join:
                        await self.join()
        except ConnectionClosed:
            pass

    async def join(self) -> None:
        """The agent answers the kiosk's offer (waits for it), sending video and audio."""
        await self._offer_ready.wait()
        assert self._offer is not None and self._kiosk is not None
        pc = RTCPeerConnection()
        self._pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            sink = MediaBlackhole()
            sink.addTrack(track)
            self._sinks.append(sink)
            self._tasks.add(asyncio.ensure_future(sink.start()))

        pc.addTrack(MovingPatternTrack())
        pc.addTrack(AudioStreamTrack())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self._offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._kiosk.send(json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}))
        self.joined.set()

    async def leave(self, *, say_bye: bool = False) -> None:
        """The agent hangs up: optionally tells the page (platform signalling), then closes."""
        if say_bye and self._kiosk is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._kiosk.send(json.dumps({"type": "bye"}))
        await self._close_peer()

    async def _close_peer(self) -> None:
        for sink in self._sinks:
            with contextlib.suppress(Exception):
                await sink.stop()
        self._sinks.clear()
        if self._pc is not None:
            await self._pc.close()
            self._pc = None

    async def close(self) -> None:
        await self._close_peer()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FarEnd:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _html(connection: ServerConnection, body: str) -> Response:
    response = connection.respond(HTTPStatus.OK, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response
