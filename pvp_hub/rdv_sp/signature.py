"""The webhook's signature: `X-Lapin-Signature` is the lowercase hex HMAC-SHA256 of the
raw request body, keyed with the endpoint's secret (RDV Service Public's `WebhookJob`).

Checked on the raw bytes, before any parsing: a body changed by one byte, re-encoded or
re-serialised fails. The comparison takes the same time wherever the first difference is.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Lapin-Signature"
_HEX_DIGITS = frozenset("0123456789abcdef")


def sign(secret: str, body: bytes) -> str:
    """The signature RDV Service Public sends for `body` (also what tests sign with)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` with `secret`.

    A missing header, one of the wrong length or with other characters than hex digits
    is simply not valid (upper-case hex is accepted: the same digest)."""
    if not secret or header is None:
        return False
    given = header.strip().lower()
    if len(given) != 64 or not _HEX_DIGITS.issuperset(given):
        return False
    return hmac.compare_digest(sign(secret, body), given)
