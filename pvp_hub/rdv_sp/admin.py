"""Connecting a region to RDV Service Public, one organisation at a time (what
`pvp-hub admin rdv-sp` calls): its webhook endpoint and secret, its mapping, its API
account for the catch-up. Secrets are never printed back nor logged: `list` shows
whether they are set, never what they are."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, delete, func, insert, select, update

from pvp_common.checks import ConfigError

from ..database import read_transaction, write_transaction
from ..directory import region_id_of
from ..errors import HubError
from ..schema import rdv_sp_endpoints, rdv_sp_inbox, rdv_sp_states
from .intake import ENDPOINT_CACHE_SECONDS, known_slugs, mapping_document
from .mapping import read_mapping

MIN_SECRET = 16
WEBHOOK_PATH = "/api/v1/rdv-sp/{id}/webhook"


def webhook_path(endpoint_id: uuid.UUID) -> str:
    return WEBHOOK_PATH.format(id=endpoint_id)


def new_secret() -> str:
    return secrets.token_hex(32)


def _check_secret(secret: str) -> str:
    secret = secret.strip()
    if len(secret) < MIN_SECRET or len(secret) > 200 or not secret.isprintable():
        raise HubError(
            400,
            "bad_secret",
            f"the webhook's secret must be {MIN_SECRET} to 200 printable characters "
            "(leave it out to have one made)",
        )
    return secret


def _mapping(conn: Any, region_id: uuid.UUID, text: str, source: str, organisation: int) -> Any:
    site_slugs, partner_slugs = known_slugs(conn, region_id)
    try:
        mapping = read_mapping(text, source, sites=site_slugs, partners=partner_slugs)
    except ConfigError as exc:
        raise HubError(
            400, "bad_mapping", f"{source}: the mapping has mistakes", exc.problems
        ) from None
    if mapping.organisation_id != organisation:
        raise HubError(
            400,
            "bad_mapping",
            f"{source}: organisation = {mapping.organisation_id}, but this is organisation "
            f"{organisation}",
        )
    return mapping


def add(
    engine: Engine,
    region: str | None,
    organisation: int,
    label: str,
    mapping_text: str,
    mapping_source: str,
    secret: str | None = None,
) -> tuple[uuid.UUID, str | None]:
    """Connect an organisation; its endpoint's id, and the secret if one was made here
    (to be shown once, for the organisation's admin to enter in RDV Service Public)."""
    made = None
    if secret is None:
        secret = made = new_secret()
    secret = _check_secret(secret)
    label = label.strip()
    if not 1 <= len(label) <= 200:
        raise HubError(
            400, "bad_label", "--label: a name for the organisation, 1 to 200 characters"
        )
    endpoint_id = uuid.uuid4()
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        taken = conn.execute(
            select(rdv_sp_endpoints.c.id).where(rdv_sp_endpoints.c.organisation_id == organisation)
        ).first()
        if taken is not None:
            raise HubError(
                409,
                "already_connected",
                f"organisation {organisation} is already connected "
                "(change its mapping with `rdv-sp map`)",
            )
        mapping = _mapping(conn, region_id, mapping_text, mapping_source, organisation)
        conn.execute(
            insert(rdv_sp_endpoints).values(
                id=endpoint_id,
                region_id=region_id,
                organisation_id=organisation,
                label=label,
                secret=secret,
                mapping=mapping_document(mapping),
                created_at=datetime.now(UTC),
            )
        )
    return endpoint_id, made


def _owned(conn: Any, region: str | None, organisation: int) -> tuple[uuid.UUID, uuid.UUID]:
    region_id = region_id_of(conn, region)
    found = conn.execute(
        select(rdv_sp_endpoints.c.id).where(
            rdv_sp_endpoints.c.organisation_id == organisation,
            rdv_sp_endpoints.c.region_id == region_id,
        )
    ).scalar()
    if found is None:
        raise HubError(404, "unknown_organisation", f"organisation {organisation} is not connected")
    return region_id, found


def set_mapping(
    engine: Engine, region: str | None, organisation: int, mapping_text: str, source: str
) -> None:
    """A new mapping; appointments already received move at their next delivery or
    catch-up (`pvp-hub rdv-sp sync`)."""
    with write_transaction(engine) as conn:
        region_id, endpoint_id = _owned(conn, region, organisation)
        mapping = _mapping(conn, region_id, mapping_text, source, organisation)
        conn.execute(
            update(rdv_sp_endpoints)
            .where(rdv_sp_endpoints.c.id == endpoint_id)
            .values(mapping=mapping_document(mapping))
        )
        # Every state must be applied again under the new mapping.
        conn.execute(
            update(rdv_sp_states)
            .where(rdv_sp_states.c.endpoint_id == endpoint_id)
            .values(digest="remapped")
        )
        # Deliveries that could not be applied are tried again under it, once running
        # hubs have dropped their cached endpoint.
        conn.execute(
            update(rdv_sp_inbox)
            .where(rdv_sp_inbox.c.endpoint_id == endpoint_id, rdv_sp_inbox.c.error.is_not(None))
            .values(retry_at=datetime.now(UTC) + timedelta(seconds=ENDPOINT_CACHE_SECONDS + 5))
        )


def set_account(
    engine: Engine, region: str | None, organisation: int, url: str, email: str, password: str
) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise HubError(
            400,
            "bad_url",
            "--url: RDV Service Public's address, e.g. https://www.rdv-solidarites.fr",
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise HubError(400, "bad_url", "--url: https only (the password travels on it)")
    if "@" not in email or len(email) > 200:
        raise HubError(400, "bad_email", "--email: the service account's e-mail")
    if not 1 <= len(password) <= 200:
        raise HubError(400, "bad_password", "the service account's password is empty or too long")
    with write_transaction(engine) as conn:
        _region_id, endpoint_id = _owned(conn, region, organisation)
        conn.execute(
            update(rdv_sp_endpoints)
            .where(rdv_sp_endpoints.c.id == endpoint_id)
            .values(api_url=url.strip().rstrip("/"), api_email=email.strip(), api_password=password)
        )


def remove(engine: Engine, region: str | None, organisation: int) -> None:
    """Disconnect: later deliveries get 401. Appointments already at sites stay."""
    with write_transaction(engine) as conn:
        _region_id, endpoint_id = _owned(conn, region, organisation)
        conn.execute(delete(rdv_sp_states).where(rdv_sp_states.c.endpoint_id == endpoint_id))
        conn.execute(delete(rdv_sp_inbox).where(rdv_sp_inbox.c.endpoint_id == endpoint_id))
        conn.execute(delete(rdv_sp_endpoints).where(rdv_sp_endpoints.c.id == endpoint_id))


def listing(engine: Engine, region: str | None) -> list[dict[str, Any]]:
    """The region's organisations, without their secrets."""
    with read_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        aside = (
            select(func.count())
            .where(
                rdv_sp_states.c.endpoint_id == rdv_sp_endpoints.c.id,
                rdv_sp_states.c.aside.is_not(None),
                rdv_sp_states.c.status != "cancelled",
            )
            .scalar_subquery()
        )
        failing = (rdv_sp_inbox.c.endpoint_id == rdv_sp_endpoints.c.id) & (
            rdv_sp_inbox.c.error.is_not(None)
        )
        not_applied = select(func.count()).where(failing).scalar_subquery()
        why = (
            select(rdv_sp_inbox.c.error)
            .where(failing)
            .order_by(rdv_sp_inbox.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        rows = conn.execute(
            select(
                rdv_sp_endpoints,
                aside.label("aside"),
                not_applied.label("not_applied"),
                why.label("not_applied_error"),
            )
            .where(rdv_sp_endpoints.c.region_id == region_id)
            .order_by(rdv_sp_endpoints.c.organisation_id)
        ).all()
    return [
        {
            "organisation": row.organisation_id,
            "label": row.label,
            "webhook": webhook_path(row.id),
            "places": len(row.mapping.get("lieux") or {}),
            "motives": len(row.mapping.get("motifs") or {})
            + len(row.mapping.get("services") or {}),
            "account": "yes" if row.api_email and row.api_password else "no",
            "last_delivery": row.last_delivery_at.isoformat() if row.last_delivery_at else "",
            "last_catch_up": row.last_catch_up_at.isoformat() if row.last_catch_up_at else "",
            "aside": row.aside,
            # Deliveries kept in the inbox because they could not be applied, and why
            # (the latest one's words: no name, no phone).
            "not_applied": row.not_applied,
            "not_applied_error": row.not_applied_error or "",
            "last_error": row.last_error or "",
        }
        for row in rows
    ]
