"""The bridge protocol, without IO: frames, parameter schemas and the method registry.

Frames (text, JSON, see docs/bridge-protocol.md):

* request ``{"id": str|int, "method": str, "params": {...}}``
* reply ``{"id", "result": ...}`` or ``{"id", "error": {"code", "message": {"fr", "en"},
  "retryable", "details"?}}``
* event ``{"event": str, "data": {...}}``
* the one binary frame, only from the bridge and only when asked (``documents.get`` with
  ``"binary": true``): the reply's JSON, one line feed (0x0A), then the raw bytes
  (:class:`BinaryResult`, :func:`encode_binary`, :func:`split_binary`)

Registering methods (the one extension point)
---------------------------------------------
Handlers live in a :class:`Registry`. A module adds its methods with the decorator::

    from kiosk_bridge.protocol import Registry, Str, Int

    def setup(bridge):                       # called once at start-up (see app.EXTENSIONS)
        reg = bridge.registry
        reg.event("session.state")           # declare the events it will broadcast

        @reg.method("session.start", {"room": Str(max_len=64), "ttl": Int(min=1, default=60)})
        async def start(call, params):       # call: CallContext, params: validated dict
            ...
            call.bridge.broadcast("session.state", {...})   # to every authenticated client
            return {...}                                    # becomes "result"

A handler raises :class:`kiosk_bridge.errors.BridgeError` for failures the client must
see; any other exception becomes ``internal_error`` (logged, never a crash).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk_bridge.errors import BridgeError

PROTOCOL_VERSION = 1
MAX_ID_LENGTH = 64
MAX_INTEGER = 2**53 - 1  # the largest integer every JSON reader keeps exact
_SURROGATE = re.compile("[\ud800-\udfff]")
_MISSING: Any = object()


# -- parameter schemas ---------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One parameter: ``required`` unless a default is given."""

    default: Any = _MISSING
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def check(self, name: str, value: Any) -> Any:  # pragma: no cover - overridden
        return value


def _bad(detail: str) -> BridgeError:
    return BridgeError("bad_params", detail=detail)


@dataclass(frozen=True)
class Str(Field):
    max_len: int = 256
    min_len: int = 0
    pattern: str | None = None
    choices: tuple[str, ...] | None = None

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise _bad(f"'{name}' must be a string")
        if self.choices is not None and value not in self.choices:
            raise _bad(f"'{name}' must be one of {', '.join(self.choices)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise _bad(f"'{name}' must have {self.min_len} to {self.max_len} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise _bad(f"'{name}' has an invalid format")
        return value


@dataclass(frozen=True)
class Int(Field):
    min: int | None = None
    max: int | None = None

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(f"'{name}' must be an integer")
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise _bad(f"'{name}' is out of range (at most 2^53 - 1)")
        if self.min is not None and value < self.min:
            raise _bad(f"'{name}' must be >= {self.min}")
        if self.max is not None and value > self.max:
            raise _bad(f"'{name}' must be <= {self.max}")
        return value


@dataclass(frozen=True)
class Bool(Field):
    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, bool):
            raise _bad(f"'{name}' must be true or false")
        return value


@dataclass(frozen=True)
class Obj(Field):
    """A free-form JSON object (checked further by the handler)."""

    max_keys: int = 64

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, dict):
            raise _bad(f"'{name}' must be an object")
        if len(value) > self.max_keys:
            raise _bad(f"'{name}' has more than {self.max_keys} keys")
        return value


@dataclass(frozen=True)
class List(Field):
    """A JSON array (its items are checked by the handler)."""

    max_items: int = 256

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, list):
            raise _bad(f"'{name}' must be a list")
        if len(value) > self.max_items:
            raise _bad(f"'{name}' has more than {self.max_items} items")
        return value


Schema = Mapping[str, Field]


def validate(schema: Schema, params: Any) -> dict[str, Any]:
    """Check ``params`` against ``schema``; unknown names are refused (typos fail loudly)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise _bad("'params' must be an object")
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise _bad(f"unknown parameter(s): {', '.join(map(str, unknown))[:200]}")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in params:
            if spec.required:
                raise _bad(f"'{name}' is required")
            out[name] = spec.default
            continue
        value = params[name]
        if value is None and (spec.nullable or (not spec.required and spec.default is None)):
            out[name] = None
            continue
        out[name] = spec.check(name, value)
    return out


# -- frames --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: str | int
    method: str
    params: Any


class FrameError(Exception):
    """A frame that cannot be answered normally; ``id`` is set when it could be read."""

    def __init__(self, error: BridgeError, id: str | int | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.id = id


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def _has_surrogate(data: Any) -> bool:
    """Whether any key or string in ``data`` holds a lone surrogate (iterative: no depth
    limit)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def parse_request(frame: str | bytes) -> Request:
    """Parse one client frame, or raise :class:`FrameError` (never anything else)."""
    if isinstance(frame, bytes | bytearray | memoryview):
        raise FrameError(BridgeError("bad_frame", detail="binary frames are not accepted"))
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        raise FrameError(BridgeError("bad_frame", detail="not valid JSON")) from None
    if not isinstance(data, dict):
        raise FrameError(BridgeError("bad_frame", detail="not a JSON object"))
    # Escaped halves of a character (\ud800) decode to text no reply could carry back.
    if "\\u" in frame and _has_surrogate(data):
        rid = data.get("id")
        keep = _valid_id(rid) and not (isinstance(rid, str) and _SURROGATE.search(rid))
        detail = "a \\u escape of half a character (lone surrogate)"
        raise FrameError(BridgeError("bad_frame", detail=detail), rid if keep else None)
    rid = data.get("id")
    if not _valid_id(rid):
        raise FrameError(
            BridgeError("bad_frame", detail="'id' must be a string (1-64) or an integer")
        )
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise FrameError(BridgeError("bad_frame", detail="'method' must be a string"), rid)
    extra = set(data) - {"id", "method", "params"}
    if extra:
        raise FrameError(BridgeError("bad_frame", detail="unexpected keys in request"), rid)
    assert rid is not None
    return Request(rid, method, data.get("params"))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_result(rid: str | int, result: Any) -> str:
    return _dumps({"id": rid, "result": result})


@dataclass(frozen=True)
class BinaryResult:
    """A handler's result whose bytes travel raw, in one binary frame (no base64)."""

    result: dict[str, Any]
    payload: bytes


def encode_binary(rid: str | int, result: BinaryResult) -> bytes:
    """The reply as one binary frame: its JSON (which never holds a raw line feed: JSON
    escapes control characters), b"\\n", then the payload."""
    head = json.dumps({"id": rid, "result": result.result}, separators=(",", ":"))
    return head.encode("utf-8") + b"\n" + result.payload


def split_binary(frame: bytes) -> tuple[Any, bytes]:
    """(the reply's JSON, the payload) of a binary frame; ValueError (only) when it has no
    line feed or its head is not JSON (nested too deep included)."""
    head, sep, payload = bytes(frame).partition(b"\n")
    if not sep:
        raise ValueError("binary frame without its JSON head")
    try:
        return json.loads(head), payload
    except RecursionError:
        raise ValueError("binary frame's head nested too deep") from None


def encode_error(rid: str | int | None, error: BridgeError) -> str:
    return _dumps({"id": rid, "error": error.to_dict()})


def encode_event(event: str, data: Any) -> str:
    return _dumps({"event": event, "data": data})


# -- registry ------------------------------------------------------------------------


@dataclass
class CallContext:
    """What a handler gets besides its params: the bridge and the calling client."""

    bridge: Any  # the kiosk_bridge.app.Bridge (not imported: the app imports this module)
    client: str
    request_id: str | int


Handler = Callable[[CallContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    schema: Schema
    doc: str = ""


@dataclass
class Registry:
    """Method name -> handler + params schema; plus the declared event names."""

    methods: dict[str, Method] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def method(self, name: str, schema: Schema | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(name, handler, schema or {})
            return handler

        return register

    def add(self, name: str, handler: Handler, schema: Schema) -> None:
        if name in self.methods:
            raise ValueError(f"method {name!r} registered twice")
        self.methods[name] = Method(name, handler, dict(schema), (handler.__doc__ or "").strip())

    def event(self, name: str) -> None:
        if name not in self.events:
            self.events.append(name)

    async def dispatch(self, call: CallContext, request: Request) -> Any:
        """Validate and run one request; raises BridgeError for client-visible failures."""
        method = self.methods.get(request.method)
        if method is None:
            raise BridgeError("unknown_method", method=request.method[:80])
        params = validate(method.schema, request.params)
        return await method.handler(call, params)
