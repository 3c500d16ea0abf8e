"""`pvp doctor`'s hub check, when `[hub]` is configured: each step the sync worker's
exchange needs, in order, stopping at the first that fails (the next ones cannot work):

1. the token file (readable, not empty, not readable by every account);
2. DNS: the hub's name resolves;
3. TCP: its port answers;
4. TLS (https): its certificate is trusted (with `ca_file` when set) for that name;
5. the token: `GET /api/v1/site` answers 200 (401: missing, unknown or revoked), for
   this site's id;
6. the clock: the hub's `server_time` against this PC's, at the middle of the exchange;
   more than CLOCK_WARN_SECONDS apart is a problem (the hub refuses events dated more
   than its `clock_skew_seconds`, 300 by default, ahead of its own clock).

Each finding that is not OK says what to do, in the app's language. Nothing is sent
but that one GET.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .config import Hub
from .doctor import Finding
from .i18n import _

SITE_PATH = "/api/v1/site"
CLOCK_WARN_SECONDS = 60.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _duration(seconds: float) -> str:
    seconds = round(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def check_hub(
    hub: Hub,
    site_id: str,
    *,
    timeout: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> list[Finding]:
    """The hub's findings (see the module's doc). `clock`: this PC's time (seconds since
    the epoch), for the skew."""
    check = _("hub")
    findings: list[Finding] = []
    # 1. The token file -------------------------------------------------------------
    token_fix = _(
        "ask the region for the site's token (pvp-hub admin token issue {site} --out FILE) "
        "and put it in {path}, owned by root and the staff group, mode 640."
    ).format(site=site_id, path=hub.token_file)
    try:
        token = hub.read_token()
    except OSError as exc:
        return [
            Finding(
                check,
                False,
                _("cannot read the hub token file {path} ({error}).").format(
                    path=hub.token_file, error=exc.strerror or exc
                ),
                token_fix,
            )
        ]
    if not token:
        return [
            Finding(
                check,
                False,
                _("the hub token file {path} is empty.").format(path=hub.token_file),
                token_fix,
            )
        ]
    if stat.S_IMODE(hub.token_file.stat().st_mode) & 0o007:
        findings.append(
            Finding(
                check,
                False,
                _("the hub token file {path} is readable by every account.").format(
                    path=hub.token_file
                ),
                f"chmod o-rwx {hub.token_file}",
            )
        )
    parts = urlsplit(hub.url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if not https and not _is_loopback(host):
        findings.append(
            Finding(
                check,
                False,
                _("{url} is not encrypted: the site's token crosses the network in clear.").format(
                    url=hub.url
                ),
                _("use the hub's https:// address (and ca_file for a private CA)."),
            )
        )
    # 2. DNS ------------------------------------------------------------------------
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        findings.append(
            Finding(
                check,
                False,
                _("the hub's name {host} does not resolve ({error}).").format(
                    host=host, error=getattr(exc, "strerror", None) or exc
                ),
                _(
                    "check [hub] url in the config, then this PC's network and DNS "
                    "(resolvectl status; ping {host})."
                ).format(host=host),
            )
        )
        return findings
    # 3. TCP ------------------------------------------------------------------------
    # Every address the name gives, in order, as a client does ("localhost" is often
    # ::1 then 127.0.0.1, and a hub may listen on one family only).
    sock: socket.socket | None = None
    last: OSError | None = None
    for family, _type, proto, _name, address in addresses:
        candidate = socket.socket(family, socket.SOCK_STREAM, proto)
        candidate.settimeout(timeout)
        try:
            candidate.connect(address)
        except OSError as exc:
            candidate.close()
            last = exc
            continue
        sock = candidate
        break
    if sock is None:
        why = (
            _("no answer")
            if isinstance(last, TimeoutError)
            else ((last.strerror or str(last)) if last is not None else _("no address"))
        )
        findings.append(
            Finding(
                check,
                False,
                _("the hub {host} port {port} does not answer ({error}).").format(
                    host=host, port=port, error=why
                ),
                _(
                    "is the link up? Is the hub running (ask the region)? Check the port in "
                    "[hub] url and the firewall. Meanwhile pvp keeps working and sends later."
                ),
            )
        )
        return findings
    # 4. TLS ------------------------------------------------------------------------
    context: ssl.SSLContext | None = None
    try:
        if https:
            context = ssl.create_default_context(
                cafile=str(hub.ca_file) if hub.ca_file is not None else None
            )
            with context.wrap_socket(sock, server_hostname=host):
                pass
    except ssl.SSLCertVerificationError as exc:
        fix = (
            _("set [hub] ca_file to the region's CA certificate (PEM).")
            if hub.ca_file is None
            else _("check that {path} is the CA that signed the hub's certificate.").format(
                path=hub.ca_file
            )
        )
        findings.append(
            Finding(
                check,
                False,
                _("the certificate of {url} is not trusted ({error}).").format(
                    url=hub.url, error=exc.verify_message or exc
                ),
                fix + " " + _("The address must match the certificate's name."),
            )
        )
        return findings
    except (ssl.SSLError, OSError) as exc:
        findings.append(
            Finding(
                check,
                False,
                _("TLS failed with {url} ({error}).").format(url=hub.url, error=exc),
                _("check that the address uses https:// only when the hub has a certificate."),
            )
        )
        return findings
    finally:
        sock.close()
    # 5. The token, and 6. the clock -------------------------------------------------
    import httpx

    try:
        before = clock()
        response = httpx.get(
            hub.url.rstrip("/") + SITE_PATH,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "pvp-doctor"},
            verify=context if context is not None else True,
            timeout=timeout,
        )
        after = clock()
    except httpx.HTTPError as exc:
        findings.append(
            Finding(
                check,
                False,
                _("the hub {url} did not answer ({error}).").format(
                    url=hub.url, error=str(exc) or type(exc).__name__
                ),
                _("try again in a minute; if it lasts, tell the region (the hub may be down)."),
            )
        )
        return findings
    if response.status_code == 401:
        findings.append(
            Finding(
                check,
                False,
                _("the hub refused the site's token (401): it is missing, unknown or revoked."),
                token_fix,
            )
        )
        return findings
    try:
        info = response.json() if response.status_code == 200 else None
        server_time = datetime.fromisoformat(info["server_time"]) if info else None
    except (ValueError, KeyError, TypeError):
        info = server_time = None
    if info is None or server_time is None:
        findings.append(
            Finding(
                check,
                False,
                _("the hub at {url} answered HTTP {status}, not its site information.").format(
                    url=hub.url, status=response.status_code
                ),
                _("check [hub] url: the hub's root address, without /api/v1."),
            )
        )
        return findings
    if info.get("id") != site_id:
        findings.append(
            Finding(
                check,
                False,
                _("the token is the hub's site {hub_site}, but this site is {site}.").format(
                    hub_site=info.get("id"), site=site_id
                ),
                _(
                    "use this site's own token, or fix [site] id: events would be sent as "
                    "another site's."
                ),
            )
        )
    if server_time.tzinfo is None:
        server_time = server_time.replace(tzinfo=UTC)
    skew = (before + after) / 2 - server_time.timestamp()
    if abs(skew) > CLOCK_WARN_SECONDS:
        words = (
            _("this PC's clock is {gap} ahead of the hub's.")
            if skew > 0
            else _("this PC's clock is {gap} behind the hub's.")
        )
        findings.append(
            Finding(
                check,
                False,
                words.format(gap=_duration(skew)),
                _(
                    "set the clock right: timedatectl set-ntp true (the hub refuses events "
                    "dated too far ahead of its clock)."
                ),
            )
        )
    if not any(not f.ok for f in findings):
        findings.append(
            Finding(
                check,
                True,
                _("{url}: reached, token accepted for {site}, clocks {gap} apart.").format(
                    url=hub.url, site=site_id, gap=_duration(skew)
                ),
            )
        )
    return findings
