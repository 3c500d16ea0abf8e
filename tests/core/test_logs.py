"""pvp logs to a file, never to the terminal it draws on."""

import logging
from pathlib import Path

import pytest

from pvp_tui.core.logs import configure_logging


def test_records_go_to_the_log_file_not_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PVP_LOG", str(tmp_path / "logs" / "pvp.log"))
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        assert configure_logging() == tmp_path / "logs" / "pvp.log"
        logging.getLogger("pvp_tui.test").warning("kiosk %s unreachable", "kiosk-1")
        for handler in root.handlers:
            handler.flush()
        assert "kiosk kiosk-1 unreachable" in (tmp_path / "logs" / "pvp.log").read_text()
        captured = capsys.readouterr()
        assert captured.err == "" and captured.out == ""
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


def test_an_unwritable_log_dir_keeps_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PVP_LOG", str(blocker / "pvp.log"))  # a file where a dir should be
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        assert configure_logging() is None
        logging.getLogger("pvp_tui.test").error("lost")
        assert capsys.readouterr().err == ""
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


def test_the_log_turns_over_and_keeps_as_many_files_as_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app runs for weeks: its log stays within `keep + 1` files of `max_bytes`."""
    monkeypatch.setenv("PVP_LOG", str(tmp_path / "pvp.log"))
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging(max_bytes=2_000, keep=2)
        log = logging.getLogger("pvp_tui.test")
        for n in range(500):  # about 40 kB of lines
            log.info("queue read %04d in %d ms", n, 3)
        for handler in root.handlers:
            handler.flush()
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["pvp.log", "pvp.log.1", "pvp.log.2"]
        assert all((tmp_path / name).stat().st_size <= 2_000 for name in files)
        assert "queue read 0499" in (tmp_path / "pvp.log").read_text()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
