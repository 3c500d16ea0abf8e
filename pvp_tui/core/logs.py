"""pvp's log: a file, never the terminal the app draws on.

`PVP_LOG` names the file; the default is pvp.log in the user's log dir (platformdirs).
Log lines carry ids and tickets only, never a visitor's name, phone or note (CNIL).
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

from .config import APP_NAME

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_path() -> Path:
    chosen = os.environ.get("PVP_LOG")
    if chosen:
        return Path(chosen).expanduser()
    return platformdirs.user_log_path(APP_NAME) / "pvp.log"


def configure_logging(
    level: int = logging.INFO, *, max_bytes: int = 1_000_000, keep: int = 3
) -> Path | None:
    """Send every log record to the log file, turned over at `max_bytes` with `keep` older
    files (the config's `[log]`: the app runs for weeks). Returns the file, or None when
    it cannot be written: logging then stays silent rather than drawing over the screen."""
    root = logging.getLogger()
    root.setLevel(level)
    for old in list(root.handlers):
        root.removeHandler(old)
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=keep, encoding="utf-8"
        )
    except OSError:
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    return path
