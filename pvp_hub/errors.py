"""A refusal the hub answers with: an HTTP status, a stable code, a plain message, and
for bad input one "key: problem" line per mistake."""

from __future__ import annotations


class HubError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems or []
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.problems:
            error["problems"] = self.problems
        return {"error": error}


def unauthorized() -> HubError:
    # One answer for a missing, unknown or revoked token: it tells nothing about which.
    return HubError(
        401,
        "unauthorized",
        "A valid site token is required (Authorization: Bearer ...); this one is missing, "
        "unknown or revoked.",
        headers={"WWW-Authenticate": 'Bearer realm="pvp-hub"'},
    )
