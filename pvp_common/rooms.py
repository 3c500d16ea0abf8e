"""Which video rooms are accepted: one rule for the site config's partners (pvp_tui.core
.config) and the kiosk bridge's `[session.partners]` (kiosk_bridge.session.config).

A room URL is judged with ada (the WHATWG URL parser of Node.js), which is how the kiosk's
browser reads it; its host must then be one of the partner's domains.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import ada_url

_DOMAIN_RE = re.compile(r"^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$")
_DNS_NAME_RE = re.compile(
    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_LENGTH = 2048


class RoomRefused(Exception):
    """A room breaks a rule; `code` is a stable error code, `params` fill its text."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code}: {params}")


def clean_domains(domains: Iterable[str]) -> tuple[str, ...]:
    """A partner's room domains ("host" or "*.host" for its subdomains), lower case;
    ValueError naming those that are not host names."""
    clean = tuple(d.lower().rstrip(".") for d in domains)
    bad = [d for d in clean if not _DOMAIN_RE.match(d) and not is_ip(d)]
    if bad:
        raise ValueError(
            f"{', '.join(bad)} is not a host name (use '*.example.org' for its subdomains)"
        )
    return clean


def host_allowed(domains: Iterable[str], host: str) -> bool:
    """True when `host` is one of `domains` ("*.example.org": its subdomains only)."""
    host = host.lower().rstrip(".")
    for domain in domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]) and len(host) > len(domain) - 1:
                return True
        elif host == domain:
            return True
    return False


def judge_room_url(room_url: Any) -> tuple[str, str]:
    """(the URL the browser will load, its host) of a room URL, or RoomRefused
    ("invalid_room_url", with a `detail`).

    The host must be written plainly as the browser loads it: a lower-case DNS name or an
    IP literal, with no escapes, credentials, backslashes or control characters; https,
    http only for this machine.
    """
    if not isinstance(room_url, str) or not room_url or len(room_url) > MAX_URL_LENGTH:
        raise RoomRefused("invalid_room_url", detail="empty or longer than 2048 characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in room_url):
        raise RoomRefused("invalid_room_url", detail="spaces, control characters or backslashes")
    scheme, sep, rest = room_url.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise RoomRefused("invalid_room_url", detail="it must start with https://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        raise RoomRefused("invalid_room_url", detail="user names in addresses are refused")
    try:
        parsed = ada_url.URL(room_url)
    except ValueError:
        raise RoomRefused("invalid_room_url", detail="not a valid address") from None
    if parsed.protocol != f"{scheme}:" or parsed.username or parsed.password:
        raise RoomRefused("invalid_room_url", detail="not a valid address")
    hostname = parsed.hostname
    default_port = {"https": "443", "http": "80"}[scheme]
    # The host as written must be the host the browser loads: no escapes, no IDN, no case.
    if authority not in (parsed.host, f"{hostname}:{default_port}"):
        raise RoomRefused(
            "invalid_room_url", detail="write the host name plainly, in lower case ASCII"
        )
    host = hostname.removeprefix("[").removesuffix("]")
    if not (_DNS_NAME_RE.fullmatch(host) or is_ip(host)) or len(host) > 253:
        raise RoomRefused("invalid_room_url", detail="the host is not a plain host name")
    if scheme == "http" and not is_local(host):
        raise RoomRefused("invalid_room_url", detail="https is required (http only for localhost)")
    return parsed.href, host


def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
