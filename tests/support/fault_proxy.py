"""A small HTTP proxy in front of a real hub that injects the failures the hub documents
(docs/hub.md, "What a site's sync worker does with the answers"): a 500, a 429 with
Retry-After, a hang past the client's timeout, a reply lost after the hub committed.
With `tls=(cert, key)` it speaks https (tests/support/bridge_daemons.make_cert), as a
hub behind its reverse proxy does.

`faults` is a list the test fills: each request to the push path takes the next fault
(None or "pass": forward as is). Every request is recorded (fault, key, status)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import free_port


@dataclass
class Seen:
    fault: str
    key: str
    status: int | None


@dataclass
class FaultProxy:
    target: str
    faults: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    hang_seconds: float = 5.0
    hold_seconds: float = 0.0  # "pass" requests wait this long after the hub answered
    retry_after: str = "1"  # the 429's Retry-After
    port: int = 0
    tls: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        # https by the certificate's name (localhost); http by the address.
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def next_fault(self) -> str:
        with self._lock:
            return self.faults.pop(0) if self.faults else "pass"

    def pushes(self) -> list[Seen]:
        return list(self.seen)


def _handler(proxy: FaultProxy, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away (killed): fine here

        def _forward(self, body: bytes | None) -> httpx.Response:
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            return client.request(self.command, self.path, content=body, headers=headers)

        def do_GET(self) -> None:
            try:
                response = self._forward(None)
            except httpx.TransportError:  # the hub is down: the client sees the link drop
                self.close_connection = True
                return
            self._answer(response.status_code, response.content, _kept(response))

        def do_PUT(self) -> None:  # the site's status: forwarded as is
            length = int(self.headers.get("Content-Length", "0"))
            try:
                response = self._forward(self.rfile.read(length))
            except httpx.TransportError:
                self.close_connection = True
                return
            self._answer(response.status_code, response.content, _kept(response))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            fault = proxy.next_fault()
            record = Seen(fault, self.headers.get("Idempotency-Key", ""), None)
            proxy.seen.append(record)  # in order of arrival; the status once known
            try:
                record.status = self._fault(fault, body, record)
            except httpx.TransportError:  # the hub is down: the client sees the link drop
                self.close_connection = True

        def _fault(self, fault: str, body: bytes, record: Seen) -> int | None:
            """Carry out one fault; the status the hub (or the proxy) gave, if any."""
            if fault == "500":
                self._answer(500, b'{"error": {"code": "boom"}}', _json())
                return 500
            if fault == "429":
                self._answer(429, b'{"error": {"code": "slow_down"}}',
                             {**_json(), "Retry-After": proxy.retry_after})  # fmt: skip
                return 429
            if fault == "hang":  # never answers in time, never forwards
                time.sleep(proxy.hang_seconds)
                self.close_connection = True
                return None
            if fault == "drop":  # the hub commits, the reply is lost on the way
                status = record.status = self._forward(body).status_code
                self.close_connection = True
                self.connection.shutdown(2)
                return status
            response = self._forward(body)
            status = record.status = response.status_code  # known before any hold
            if proxy.hold_seconds:
                time.sleep(proxy.hold_seconds)
            self._answer(status, response.content, _kept(response))
            return status

    return Handler


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _kept(response: httpx.Response) -> dict[str, str]:
    return {
        k: v
        for k, v in response.headers.items()
        if k.lower() in ("content-type", "retry-after", "www-authenticate")
    }


@contextmanager
def fault_proxy(
    target: str, *, tls: tuple[Path, Path] | None = None, **kwargs: Any
) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target, port=free_port(), tls=tls is not None, **kwargs)
    with httpx.Client(base_url=target, timeout=30) as client:
        server = ThreadingHTTPServer(("127.0.0.1", proxy.port), _handler(proxy, client))
        server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            server.shutdown()
            server.server_close()
