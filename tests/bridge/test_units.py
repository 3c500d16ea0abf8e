"""Pure parts of the bridge (no daemon): frames, schemas, errors, config, option checks,
the spool on a temporary directory, the command line."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk_bridge.cli import main as cli_main
from kiosk_bridge.config import Config, ConfigError, load, parse_retention
from kiosk_bridge.errors import CATALOG, BridgeError
from kiosk_bridge.protocol import (
    BinaryResult,
    FrameError,
    Int,
    Registry,
    Str,
    encode_binary,
    parse_request,
    split_binary,
    validate,
)
from kiosk_bridge.scanner import (
    SANE_ERRORS,
    OptionInfo,
    capabilities,
    check_option,
    safe_progress,
    sane_error,
)
from kiosk_bridge.spool import PDF, PNG, Spool, sniff
from tests.support.bridge_client import small_pdf, small_png

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "bridge-protocol.md"

# -- frames and schemas -----------------------------------------------------------------


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_parse_request_only_ever_raises_frame_error(frame: str | bytes) -> None:
    try:
        req = parse_request(frame)
    except FrameError as exc:
        assert exc.error.code == "bad_frame"
    else:
        assert isinstance(req.method, str) and req.id is not None


@settings(max_examples=200)
@given(st.binary(max_size=300), st.binary(max_size=50))
def test_split_binary_only_ever_raises_value_error(head: bytes, payload: bytes) -> None:
    for frame in (head, head + b"\n" + payload, b"[" * 5000 + b"\n" + payload):
        try:
            _reply, rest = split_binary(frame)
        except ValueError:
            continue
        assert frame.endswith(b"\n" + rest) and b"\n" not in frame[: -len(rest) - 1]


def test_split_binary_round_trip() -> None:
    frame = encode_binary("r1", BinaryResult({"offset": 5, "note": "é\n"}, b"\n\x00raw\n"))
    assert split_binary(frame) == ({"id": "r1", "result": {"offset": 5, "note": "é\n"}},
                                   b"\n\x00raw\n")  # fmt: skip


def test_parse_request_cases() -> None:
    assert parse_request('{"id": 1, "method": "hello"}').params is None
    for bad in ("[]", '{"id": true, "method": "x"}', '{"id": "", "method": "x"}',
                '{"id": 1, "method": 3}', '{"id": 1, "method": "x", "extra": 1}',
                '{"id": 1e300, "method": "x"}', "[" * 5000):  # fmt: skip
        with pytest.raises(FrameError):
            parse_request(bad)
    with pytest.raises(FrameError) as err:
        parse_request('{"id": "k", "method": 3}')
    assert err.value.id == "k"  # the id is echoed when it could be read


def test_validate_refuses_unknown_and_wrong_types() -> None:
    schema = {"name": Str(max_len=5), "n": Int(min=1, max=3, default=2)}
    assert validate(schema, {"name": "ab"}) == {"name": "ab", "n": 2}
    for params, hint in (
        ({}, "required"),
        ({"name": "ab", "nn": 1}, "unknown"),
        ({"name": "abcdefg"}, "characters"),
        ({"name": "a", "n": 4}, "<= 3"),
        ({"name": "a", "n": True}, "integer"),
        ([1], "object"),
    ):
        with pytest.raises(BridgeError) as err:
            validate(schema, params)
        assert err.value.code == "bad_params" and hint in err.value.message["en"]


async def test_registry_is_the_one_registration_point() -> None:
    reg = Registry()

    @reg.method("x.echo", {"v": Int()})
    async def echo(call, p):  # type: ignore[no-untyped-def]
        return p["v"]

    with pytest.raises(ValueError):
        reg.add("x.echo", echo, {})
    reg.event("x.happened")
    assert "x.echo" in reg.methods and reg.events == ["x.happened"]
    req = parse_request('{"id": 1, "method": "x.echo", "params": {"v": 4}}')
    assert await reg.dispatch(None, req) == 4  # type: ignore[arg-type]
    with pytest.raises(BridgeError) as err:
        await reg.dispatch(None, parse_request('{"id": 1, "method": "x.nope"}'))  # type: ignore[arg-type]
    assert err.value.code == "unknown_method"


# -- errors and the protocol document --------------------------------------------------


def test_every_error_has_french_and_english_that_fill() -> None:
    for code, spec in CATALOG.items():
        assert re.fullmatch(r"[a-z_]+", code)
        err = BridgeError(code, device="test:0", printer="P", document="d", job=3, detail="x",
                          method="m", limit=1, size=2, free=3, upload="u")  # fmt: skip
        msg = err.message
        assert msg["fr"] and msg["en"] and "?" not in msg["fr"] + msg["en"], code
        assert err.to_dict()["retryable"] is spec.retryable
    with pytest.raises(ValueError):
        BridgeError("no_such_code")


def test_protocol_document_covers_every_method_event_and_code() -> None:
    text = DOC.read_text()
    from kiosk_bridge import methods

    for code in CATALOG:
        assert f"`{code}`" in text, f"error code {code} missing from {DOC.name}"
    for event in methods.EVENTS:
        assert f"`{event}`" in text, f"event {event} missing"
    for name in ("hello", "health.get", "scanner.list", "scanner.scan", "scanner.cancel",
                 "documents.list", "documents.get", "documents.put", "documents.delete",
                 "printer.list", "printer.print", "printer.cancel", "printer.jobs"):  # fmt: skip
        assert f"### `{name}`" in text, f"method {name} missing"


# -- config -------------------------------------------------------------------------------


def test_config_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "b.toml"
    f.write_text(
        '[server]\nport = 9000\ntoken_file = "tok"\norigins = ["https://a"]\n'
        '[spool]\ndir = "/srv/spool"\nretention = "4h"\n[printer]\nallowed = ["p"]\n'
        '[session]\nchromium = "/usr/bin/chromium"\n'
    )
    c = load(f)
    assert c.port == 9000 and c.token_file == tmp_path / "tok" and c.origins == ("https://a",)
    assert c.spool_dir == Path("/srv/spool") and c.retention_seconds() == 4 * 3600
    assert c.printers_allowed == ("p",) and c.extra == {
        "session": {"chromium": "/usr/bin/chromium"}
    }
    o = c.with_overrides(port=1, host=None, spool_dir=tmp_path)
    assert o.port == 1 and o.host == "127.0.0.1" and o.spool_dir == tmp_path
    assert load(None) == Config()


@pytest.mark.parametrize(
    "body",
    ['[server]\nport = "x"', "[server]\nport = -1", 'server = 3', '[spool]\nretention = "soon"',
     "[server\n", '[server]\norigins = "https://a"'],
)  # fmt: skip
def test_bad_config_is_a_clear_error(tmp_path: Path, body: str) -> None:
    f = tmp_path / "b.toml"
    f.write_text(body)
    with pytest.raises(ConfigError) as err:
        load(f)
    assert str(f) in str(err.value)


def test_every_mistake_of_a_bridge_config_is_one_line_naming_its_key(tmp_path: Path) -> None:
    f = tmp_path / "b.toml"
    f.write_text(
        'printer = 3\n[server]\nport = "x"\norigins = "https://a"\nhealth_interval = 0\n'
        '[spool]\nretention = "soon"\nmax_document_mb = -1\n[session]\nheadless = "no"\n'
    )
    with pytest.raises(ConfigError) as err:
        load(f)
    assert err.value.source == str(f)
    assert [p.split(": ", 1)[0] for p in err.value.problems] == [
        "printer",
        "server.port",
        "server.origins",
        "server.health_interval",
        "spool.retention",
        "spool.max_document_mb",
        "session.headless",
    ]
    assert str(err.value).splitlines() == [f"{f}: {p}" for p in err.value.problems]
    r = subprocess.run([sys.executable, "-m", "kiosk_bridge", "--config", str(f)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"pvp-bridge: {f}: {p}" for p in err.value.problems]


def test_retention_words() -> None:
    assert parse_retention("end_of_day") is None
    assert parse_retention("90m") == 5400 and parse_retention("2d") == 172800
    assert parse_retention(30) == 30
    with pytest.raises(ConfigError):
        parse_retention("0h")


# -- scanner option checks (the adapter edge; no device) -----------------------------------

INT, FIXED, STRING, BOOL = 1, 2, 3, 0
SOFT = 1 | 4  # soft select + soft detect


def opt(name: str, type_: int, constraint: object, cap: int = SOFT, size: int = 4) -> OptionInfo:
    return OptionInfo(1, name, type_, size, cap, constraint)


@pytest.mark.parametrize(
    ("info", "value", "ok"),
    [
        (opt("resolution", INT, (50, 600, 1)), 300, True),
        (opt("resolution", INT, (50, 600, 1)), 601, False),
        (opt("resolution", INT, (50, 600, 25)), 60, False),
        (opt("resolution", INT, [75, 150, 300]), 200, False),
        (opt("resolution", INT, [75, 150, 300]), 150.0, True),
        (opt("resolution", INT, (50, 600, 1)), "300", False),
        (opt("br-x", FIXED, (0.0, 215.9, 0.0)), 210, True),
        (opt("mode", STRING, ["Color", "Gray"], size=8), "Colour", False),
        (opt("mode", STRING, ["Color", "Gray"], size=8), "Gray", True),
        (opt("flag", BOOL, None), 1, False),
        (opt("flag", BOOL, None, cap=SOFT | 32), True, False),  # inactive
        (opt("flag", BOOL, None, cap=4), True, False),  # read-only
        (opt("gamma", INT, (0, 255, 1), size=1024), 3, False),  # array
    ],
)
def test_check_option(info: OptionInfo, value: object, ok: bool) -> None:
    if ok:
        check_option("dev", info, info.name, value)
    else:
        with pytest.raises(BridgeError) as err:
            check_option("dev", info, info.name, value)
        assert err.value.code == "bad_option" and err.value.details == {"option": info.name}


def test_unknown_option_name() -> None:
    with pytest.raises(BridgeError) as err:
        check_option("dev", None, "resolutoin", 300)
    assert "resolutoin" in err.value.message["en"]


def test_sane_statuses_map_to_codes() -> None:
    for text, code in SANE_ERRORS.items():
        assert sane_error(Exception(text), "d").code == code
    assert sane_error(Exception("Invalid argument"), "d", opening=True).code == "scanner_gone"
    assert sane_error(Exception("something new"), "d").code == "scanner_io_error"


def test_progress_callback_never_raises() -> None:
    calls = []

    def boom(lines: int, total: int) -> None:
        calls.append(lines)
        raise KeyboardInterrupt if lines == 2 else ValueError("bad")

    cb = safe_progress(boom)
    cb(1, 10)
    cb(2, 10)
    assert calls == [1, 2]


def test_capabilities_in_protocol_words() -> None:
    caps = capabilities(
        {
            "source": opt("source", STRING, ["Flatbed", "ADF Front", "ADF Duplex"], size=32),
            "mode": opt("mode", STRING, ["Lineart", "Gray", "Color"], size=32),
            "resolution": opt("resolution", INT, [100, 200, 300, 600]),
        }
    )
    assert caps["sources"] == ["flatbed", "adf"] and caps["modes"] == ["color", "gray"]
    assert caps["resolutions"] == [100, 200, 300, 600]


# -- spool -----------------------------------------------------------------------------------


def test_spool_is_private_and_stores_by_id(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "spool")
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    doc = sp.put_bytes(small_pdf())
    assert re.fullmatch(r"doc_[0-9a-f]{16}", doc.id) and doc.type == PDF
    path = sp.file_path(doc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.name == "document.pdf"
    assert sp.put_bytes(small_png()).type == PNG
    assert sp.list_documents()[0].id == doc.id
    for bad in ("../spool", "doc_../../etc", "/etc/passwd"):
        with pytest.raises(BridgeError) as err:
            sp.get(bad)
        assert err.value.code == "document_not_found"


def test_retention_deletes_everything_of_a_document(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "spool", retention_s=60)
    doc = sp.put_bytes(small_pdf())
    assert sp.purge_expired(now=time.time() + 30) == []
    assert sp.purge_expired(now=time.time() + 61) == [doc.id]
    leftovers = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    assert leftovers == []


def test_end_of_day_expiry_is_next_local_midnight(tmp_path: Path) -> None:
    import datetime as dt

    sp = Spool(tmp_path / "spool")
    noon = dt.datetime(2026, 3, 9, 12, 0).astimezone().timestamp()
    expiry = dt.datetime.fromtimestamp(sp.expiry(noon)).astimezone()
    assert (expiry.day, expiry.hour, expiry.minute) == (10, 0, 0)


def test_sniffing() -> None:
    assert sniff(b"%PDF-1.4\n", b"trailer\n%%EOF\n") == PDF
    assert sniff(small_png()[:32]) == PNG
    assert sniff(b"GIF89a") is None and sniff(b"%PDF-1.4", b"no end") is None


def test_size_limit(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "spool", max_document_bytes=100)
    with pytest.raises(BridgeError) as err:
        sp.put_bytes(small_pdf())
    assert err.value.code == "document_too_large"
    assert list((tmp_path / "spool" / "docs").iterdir()) == []


# -- command line ------------------------------------------------------------------------------


def test_token_command_writes_a_private_random_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "etc" / "token"
    assert cli_main(["token", "--out", str(out)]) == 0
    first = out.read_text().strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and len(first) >= 43
    assert cli_main(["token", "--out", str(out)]) == 0
    assert out.read_text().strip() != first
    assert "0600" in capsys.readouterr().out


def test_missing_token_or_bad_config_exit_2_with_a_hint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PVP_BRIDGE_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "kiosk_bridge", "--spool-dir", str(tmp_path)],
                       capture_output=True, text=True, env=env, cwd=REPO)  # fmt: skip
    assert r.returncode == 2 and "pvp-bridge token --out" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[spool]\nretention = 'tomorrow'\n")
    r = subprocess.run([sys.executable, "-m", "kiosk_bridge", "--config", str(bad)],
                       capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert r.returncode == 2 and "retention" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "kiosk_bridge", "--token-file", str(tmp_path / "nope")],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert r.returncode == 2 and "nope" in r.stderr


def test_a_config_nested_too_deeply_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 8765\n[session]\nextra_flags = " + "[" * 1000 + "\n")
    r = subprocess.run([sys.executable, "-m", "kiosk_bridge", "--config", str(bad)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"pvp-bridge: {bad}: not valid TOML: arrays or tables " \
        "nested too deeply"  # fmt: skip


def test_hello_lists_limits_and_json_is_compact() -> None:
    from kiosk_bridge.protocol import encode_event

    frame = encode_event("health", {"a": "é"})
    assert json.loads(frame) == {"event": "health", "data": {"a": "é"}} and " " not in frame


def test_a_crash_leaves_nothing_that_the_next_start_keeps(tmp_path: Path) -> None:
    """Half-written files of atomic writes (a crash between write and rename) are swept
    at start; documents, uploads in progress and the print jobs' state stay."""
    root = tmp_path / "spool"
    sp = Spool(root)
    doc = sp.put_bytes(small_pdf())
    upload = sp.upload_begin(10, "0" * 64)
    (root / "state" / "print-jobs.json").write_text("{}")
    orphans = [
        root / "state" / ".print-jobs.json.1a2b3c4d",  # JobStore.save
        root / "docs" / doc.id / ".meta.json.5e6f7a8b.tmp",  # _write_atomic
        root / "uploads" / f".{upload}.json.9c0d1e2f.tmp",
        root / "work" / "0a1b2c3d4e5f" / "page-0001.png",  # a scan in progress
    ]
    for path in orphans:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    again = Spool(root)
    assert again.swept == 3
    assert not any(path.exists() for path in orphans)
    assert [d.id for d in again.list_documents()] == [doc.id]
    assert (root / "uploads" / f"{upload}.part").exists()
    assert (root / "state" / "print-jobs.json").read_text() == "{}"


def test_deleted_documents_and_finished_uploads_leave_no_file_nor_lock(tmp_path: Path) -> None:
    import hashlib

    root = tmp_path / "spool"
    sp = Spool(root)
    data = small_pdf()
    for _ in range(20):
        doc = sp.put_bytes(data)
        with sp.doc_lock(doc.id):  # what a scan appending pages holds
            assert sp.get(doc.id).id == doc.id
        assert sp.delete(doc.id)
        upload = sp.upload_begin(len(data), hashlib.sha256(data).hexdigest())
        *_, done = sp.upload_chunk(upload, 0, data)
        assert done is not None and sp.delete(done.id)
        sp.upload_abort(sp.upload_begin(5, "0" * 64))
    assert [p for p in root.rglob("*") if p.is_file()] == []
    assert len(sp._locks) == 0  # each upload kept its lock before: 20 after this loop
