"""Catching up through RDV Service Public's API v1: what a lost webhook or a hub that was
down missed.

- Sign in as an agent (`POST /api/v1/auth/sign_in` with the e-mail and password): the
  reply's `access-token`, `client` and `uid` headers go on every later request. A token
  lasts 24 h, and one account holds one token at a time (a new sign-in ends the previous
  one), so a 401 later on means "sign in again", once.
- List an organisation's appointments by date range
  (`GET /api/v1/organisations/{id}/rdvs?starts_after=&starts_before=&page=N`), 100 a page,
  following `meta.next_page`.
- 429 (with `Retry-After`), 5xx and lost connections are retried with backoff and jitter
  (stamina); a refused sign-in stops at once with words an admin can act on.

The password is never logged, nor any appointment's content: only ids and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import stamina

from .payload import Appointment, PayloadError, read_appointment

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # 100,000 appointments in one range: past that, a range too wide
_AUTH_HEADERS = ("access-token", "client", "uid")


class ApiError(Exception):
    """Catching up failed; the text says why and what to do (it holds no secret)."""


class SignInRefused(ApiError):
    pass


class _Retry(Exception):
    def __init__(self, words: str, retry_after: float | None = None) -> None:
        super().__init__(words)
        self.retry_after = retry_after


def _backoff(exc: Exception) -> bool | float:
    if isinstance(exc, _Retry):
        return exc.retry_after if exc.retry_after is not None else True
    return isinstance(exc, httpx.TransportError)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), 600.0)
    return None


@dataclass
class CatchUp:
    """What one listing brought: the appointments read, and those that could not be read
    (by the sender's id and the problem's place only)."""

    appointments: list[Appointment] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    pages: int = 0


def _when(value: date | datetime) -> str:
    return value.isoformat()


class RdvSpApi:
    def __init__(
        self,
        base_url: str,
        email: str,
        password: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        retry_seconds: float = 120.0,
        wait_initial: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._email = email
        self._password = password
        self._auth: dict[str, str] | None = None
        self._retry_seconds = retry_seconds
        self._wait_initial = wait_initial
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"Accept": "application/json", "User-Agent": "pvp-hub"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RdvSpApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the exchanges -------------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on 429, 5xx and lost connections."""
        for attempt in stamina.retry_context(
            on=_backoff,
            attempts=8,
            timeout=self._retry_seconds,
            wait_initial=self._wait_initial,
            wait_max=60.0,
        ):
            with attempt:
                response = self._client.request(method, url, **kwargs)
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retry(f"HTTP {response.status_code}", _retry_after(response))
                return response
        raise AssertionError("unreachable")  # stamina re-raises the last error

    def sign_in(self) -> None:
        try:
            response = self._request(
                "POST",
                "/api/v1/auth/sign_in",
                json={"email": self._email, "password": self._password},
            )
        except (_Retry, httpx.TransportError) as exc:
            raise ApiError(
                f"RDV Service Public did not answer the sign-in at {self.base_url} ({exc}); "
                "try again later"
            ) from None
        if response.status_code in (401, 403):
            raise SignInRefused(
                "RDV Service Public refused the service account's e-mail or password "
                f"(HTTP {response.status_code}): check them with the organisation's admin, "
                "then `pvp-hub admin rdv-sp set-account`"
            )
        headers = {name: response.headers.get(name, "") for name in _AUTH_HEADERS}
        if response.status_code != 200 or not all(headers.values()):
            raise ApiError(
                f"RDV Service Public's sign-in answered HTTP {response.status_code} without "
                "the access-token, client and uid headers: is the URL its API's root?"
            )
        self._auth = headers

    def _get(self, url: str, params: dict[str, str]) -> Any:
        if self._auth is None:
            self.sign_in()
        for fresh in (False, True):
            assert self._auth is not None
            try:
                response = self._request("GET", url, params=params, headers=self._auth)
            except (_Retry, httpx.TransportError) as exc:
                raise ApiError(
                    f"RDV Service Public did not answer ({exc}); try again later"
                ) from None
            if response.status_code == 401 and not fresh:
                self.sign_in()  # the token expired, or another sign-in replaced it
                continue
            if response.status_code in (401, 403):
                raise ApiError(
                    f"RDV Service Public refused the listing (HTTP {response.status_code}): "
                    "the service account must be an admin of the organisation"
                )
            if response.status_code == 404:
                raise ApiError(
                    "RDV Service Public knows no such organisation, or the service account "
                    "is not in it (HTTP 404)"
                )
            if response.status_code != 200:
                raise ApiError(f"RDV Service Public answered HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError:
                raise ApiError("RDV Service Public's answer is not JSON") from None
        raise AssertionError("unreachable")

    def pages(
        self, organisation_id: int, starts_after: date | datetime, starts_before: date | datetime
    ) -> Iterator[list[Any]]:
        """The raw `rdvs` lists, page after page."""
        url = f"/api/v1/organisations/{organisation_id}/rdvs"
        page = 1
        while page <= MAX_PAGES:
            document = self._get(
                url,
                {
                    "starts_after": _when(starts_after),
                    "starts_before": _when(starts_before),
                    "page": str(page),
                },
            )
            if not isinstance(document, dict) or not isinstance(document.get("rdvs"), list):
                raise ApiError("RDV Service Public's answer has no `rdvs` list")
            yield document["rdvs"]
            meta = document.get("meta")
            following = meta.get("next_page") if isinstance(meta, dict) else None
            if not isinstance(following, int) or isinstance(following, bool) or following <= page:
                return
            page = following
        raise ApiError(
            f"more than {MAX_PAGES} pages of appointments in one range: ask for a shorter one"
        )

    def appointments(
        self, organisation_id: int, starts_after: date | datetime, starts_before: date | datetime
    ) -> CatchUp:
        """Every appointment of the organisation starting in the range."""
        result = CatchUp()
        for items in self.pages(organisation_id, starts_after, starts_before):
            result.pages += 1
            for index, item in enumerate(items):
                try:
                    result.appointments.append(read_appointment(item))
                except PayloadError as exc:
                    rdv_id = item.get("id") if isinstance(item, dict) else None
                    label = f"rdv {rdv_id}" if isinstance(rdv_id, int) else f"item {index}"
                    result.unreadable.append(f"{label}: {exc}")
                    log.warning("RDV Service Public: %s unreadable: %s", label, exc)
        return result
