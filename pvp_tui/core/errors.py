"""Errors a person can meet: a stable code and a message that says what to do."""

from __future__ import annotations


class PvpError(Exception):
    """A refused action. `code` is stable (scripts match on it); `message` is translated."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
