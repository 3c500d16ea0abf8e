"""The shapes of the protocol's events and results, as a client receives them.

Each event's ``data`` and each method's ``result`` (docs/bridge-protocol.md) is a
TypedDict here: still the JSON object of the wire (other clients read the same frames),
typed for whoever reads it. :func:`parse_event` and :func:`parse_result` check one once,
where it arrives in the client: a missing key or a value of the wrong type raises
:class:`MalformedFrame` naming the event or method, the key and what was expected, so a
bridge that breaks the protocol fails there, not later as a ``KeyError`` in a screen.

Keys the docs mark optional, or that a bridge may add later, are not required; unknown
events and methods (extensions) pass unchecked. Pure module: no IO.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired[...] from the
# evaluated annotations (Python 3.11).

import types
import typing
from functools import cache
from typing import Any, Literal, NotRequired, TypedDict, Union, cast

__all__ = [
    "EVENTS",
    "RESULTS",
    "ClientConnected",
    "ClientDisconnected",
    "DocumentInfo",
    "DocumentPut",
    "DocumentsExpired",
    "ErrorObject",
    "Health",
    "Hello",
    "MalformedFrame",
    "PrintJob",
    "PrintSubmitted",
    "PrinterInfo",
    "PrinterList",
    "ScanDone",
    "ScanFailed",
    "ScanPage",
    "ScanProgress",
    "ScanResult",
    "ScannerInfo",
    "ScannerList",
    "SessionIdle",
    "SessionStats",
    "SessionStatus",
    "parse_event",
    "parse_result",
]


class MalformedFrame(ValueError):
    """An event or a result that does not have the protocol's shape."""


# -- the shared pieces -----------------------------------------------------------------


class Message(TypedDict):
    fr: str
    en: str


class ErrorObject(TypedDict):
    code: str
    message: dict[str, str]
    retryable: bool
    details: NotRequired[dict[str, Any]]


class DocumentInfo(TypedDict):
    """A spooled document (``documents.list``, ``documents.put``, ``scanner.scan``)."""

    id: str
    kind: str  # scan | upload
    type: str  # PDF | PNG
    pages: int
    size: int
    sha256: str
    created: NotRequired[str]
    updated: NotRequired[str]
    expires: NotRequired[str]
    thumbnails: NotRequired[int]
    source: NotRequired[dict[str, Any]]


class ScannerInfo(TypedDict):
    device: str
    status: NotRequired[str]


class PrinterInfo(TypedDict):
    name: str
    default: NotRequired[bool]
    reasons: NotRequired[list[Any]]


# -- events ------------------------------------------------------------------------------


class ScanProgress(TypedDict):
    scan: str
    device: str
    page: int
    sheet: int
    fraction: float | None


class ScanPage(TypedDict):
    scan: str
    device: str
    sheet: int
    page: int
    width: int
    height: int
    thumbnail: str  # a small PNG, base64


class ScanDone(TypedDict):
    scan: str
    device: str
    document: str | None
    pages_added: int
    pages: int
    cancelled: bool


class ScanFailed(TypedDict):
    scan: str
    device: str
    error: ErrorObject


class PrintJob(TypedDict):
    """``print.job`` (and ``printer.jobs``' items): a job the bridge submitted."""

    job: int
    state: str
    final: bool
    printer: NotRequired[str]
    document: NotRequired[str]
    copies: NotRequired[int]
    duplex: NotRequired[bool]
    submitted: NotRequired[float]
    reasons: NotRequired[list[str]]
    printer_reasons: NotRequired[list[str]]
    message: NotRequired[str]
    finished: NotRequired[float | None]
    reason: NotRequired[str | None]


class Health(TypedDict):
    """``health`` and ``health.get``: cups, printers and the rest vary with the kiosk."""

    scanners: NotRequired[list[ScannerInfo]]
    version: NotRequired[str]
    protocol: NotRequired[int]
    uptime_s: NotRequired[float]
    spool: NotRequired[dict[str, Any]]
    cups: NotRequired[str]
    printers: NotRequired[list[PrinterInfo]]
    clients: NotRequired[int]


class DocumentsExpired(TypedDict):
    document: str
    reason: NotRequired[str]  # "visit_end": deleted when the kiosk's screen went back to idle


class KioskScreenStatus(TypedDict):
    """``kiosk.screen`` events and the ``kiosk.status``/``kiosk.prepare``/``kiosk.idle``
    results: what the kiosk's own screen shows (kiosk_bridge.screen)."""

    view: Literal["idle", "preparing", "call", "interrupted", "after"]
    reason: str | None
    ticket: str | None
    session: str | None
    trouble: str | None
    browser: bool
    restarts: int
    seconds: float
    enabled: NotRequired[bool]


class KioskSatisfaction(TypedDict):
    session: str | None
    display_name: str
    partner: str | None
    answer: Literal["good", "ok", "bad"]
    at: str


class SessionStatus(TypedDict):
    """``session.state`` events and the ``session.*`` results while a session runs (or
    idle, then with ``last``: the previous session's final status, or null)."""

    state: str
    session: str | None
    reason: NotRequired[str | None]
    message: NotRequired[dict[str, str] | None]
    detail: NotRequired[str | None]
    at: NotRequired[str]
    partner: NotRequired[str]
    display_name: NotRequired[str]
    room_host: NotRequired[str]
    started_at: NotRequired[str | None]
    agent_joined_at: NotRequired[str | None]
    ended_at: NotRequired[str | None]
    elapsed_s: NotRequired[float]
    reconnects: NotRequired[int]
    quality: NotRequired[str]
    worst_quality: NotRequired[str]
    quality_reasons: NotRequired[list[str]]
    stats: NotRequired[dict[str, Any] | None]
    last: NotRequired[dict[str, Any] | None]


SessionIdle = SessionStatus  # state "idle", session null, with "last"


class SessionStats(TypedDict):
    session: str
    state: str
    at: NotRequired[str]
    quality: NotRequired[str]
    quality_changed: NotRequired[bool]
    worst_quality: NotRequired[str]
    sample_quality: NotRequired[str]
    reasons: NotRequired[list[str]]
    # The figures: null when the browser gave none (counts too are numbers here).
    rtt_ms: NotRequired[float | None]
    loss_pct: NotRequired[float | None]
    jitter_ms: NotRequired[float | None]
    fps: NotRequired[float | None]
    in_kbps: NotRequired[float | None]
    video_kbps: NotRequired[float | None]
    out_kbps: NotRequired[float | None]
    width: NotRequired[float | None]
    height: NotRequired[float | None]
    freezes: NotRequired[float | None]
    packets: NotRequired[float | None]
    video_packets: NotRequired[float | None]


class ClientConnected(TypedDict):
    url: str
    connects: int


class ClientDisconnected(TypedDict):
    code: int | None


EVENTS: dict[str, type] = {
    "scan.progress": ScanProgress,
    "scan.page": ScanPage,
    "scan.done": ScanDone,
    "scan.failed": ScanFailed,
    "print.job": PrintJob,
    "health": Health,
    "documents.expired": DocumentsExpired,
    "session.state": SessionStatus,
    "session.stats": SessionStats,
    "kiosk.screen": KioskScreenStatus,
    "kiosk.satisfaction": KioskSatisfaction,
    "client.connected": ClientConnected,
    "client.disconnected": ClientDisconnected,
}


# -- results -------------------------------------------------------------------------------


class Hello(TypedDict):
    server: str
    protocol: int
    methods: list[str]
    events: list[str]
    version: NotRequired[str]
    features: NotRequired[list[str]]
    limits: NotRequired[dict[str, int]]


class ScannerList(TypedDict):
    scanners: list[ScannerInfo]


class PrinterList(TypedDict):
    printers: list[PrinterInfo]


class ScanResult(TypedDict):
    scan: str
    document: DocumentInfo | None
    pages_added: int
    cancelled: bool
    timed_out: NotRequired[bool]


class DocumentPut(TypedDict):
    document: DocumentInfo


class PrintSubmitted(TypedDict):
    job: PrintJob


class KioskScreenshot(TypedDict):
    type: Literal["image/png"]
    width: int
    height: int
    view: str  # a KioskScreenStatus view, or "in_call" (screenshot_during_call)
    data: str  # base64


RESULTS: dict[str, type] = {
    "hello": Hello,
    "health.get": Health,
    "scanner.list": ScannerList,
    "printer.list": PrinterList,
    "scanner.scan": ScanResult,
    "printer.print": PrintSubmitted,
    "session.start": SessionStatus,
    "session.status": SessionStatus,
    "session.end": SessionStatus,
    "kiosk.status": KioskScreenStatus,
    "kiosk.prepare": KioskScreenStatus,
    "kiosk.idle": KioskScreenStatus,
    "kiosk.screenshot": KioskScreenshot,
}


# -- checking --------------------------------------------------------------------------------


def parse_event(event: str, data: object) -> Any:
    """``data`` of ``event``, checked against its shape (unknown events: unchecked)."""
    shape = EVENTS.get(event)
    if shape is not None:
        _check(data, shape, f"{event} event")
    return data


def parse_result(method: str, result: object) -> Any:
    """The ``result`` of ``method``, checked against its shape (others: unchecked)."""
    shape = RESULTS.get(method)
    if shape is not None:
        _check(result, shape, f"reply to {method}")
    return result


@cache
def _hints(shape: type) -> tuple[dict[str, Any], frozenset[str]]:
    hints = typing.get_type_hints(shape)
    return hints, cast(frozenset[str], shape.__required_keys__)  # type: ignore[attr-defined]


_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _name(expected: Any) -> str:
    """What a type is called in a message: 'an integer', 'a string or null'..."""
    if isinstance(expected, type):
        return _WORDS.get(expected, "an object")
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(expected))
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(expected))
    return _name(origin) if origin is not None else "a value"


def _fits(value: object, expected: Any, where: str) -> bool:
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        return any(_fits(value, a, where) for a in typing.get_args(expected))
    if origin is Literal:
        return value in typing.get_args(expected)
    if origin is list:
        if not isinstance(value, list):
            return False
        (item,) = typing.get_args(expected) or (Any,)
        for i, v in enumerate(value):
            if not _fits(v, item, f"{where}[{i}]"):
                raise MalformedFrame(
                    f"malformed {where}[{i}]: {_name(item)} was expected, not {_show(v)}"
                )
        return True
    if origin is dict:
        return isinstance(value, dict)
    if expected is type(None):
        return value is None
    if typing.is_typeddict(expected):
        if not isinstance(value, dict):
            return False
        _check(value, expected, where)
        return True
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _check(value: object, shape: type, where: str) -> None:
    if not isinstance(value, dict):
        raise MalformedFrame(f"malformed {where}: an object was expected, not {_show(value)}")
    hints, required = _hints(shape)
    for key, expected in hints.items():
        if key not in value:
            if key in required:
                raise MalformedFrame(f"malformed {where}: '{key}' is missing")
            continue
        if not _fits(value[key], expected, f"{where}: '{key}'"):
            raise MalformedFrame(
                f"malformed {where}: '{key}' must be {_name(expected)}, not {_show(value[key])}"
            )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
