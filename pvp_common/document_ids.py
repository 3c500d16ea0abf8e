"""The hub's id of a site's document, made the same way by the site (which uploads under
it) and the hub (whose site events name the bridge's own id, doc_...): no table of ids on
either side."""

from __future__ import annotations

import uuid

SITE_DOCUMENTS = uuid.UUID("5d1c0a4e-6f1b-4c55-9a57-0d0c5e9f6b21")


def site_document_id(site_slug: str, document: str) -> uuid.UUID:
    """uuid5 of "<site>:<bridge's document id>" (a UUID is taken as it is)."""
    try:
        return uuid.UUID(document)
    except ValueError:
        return uuid.uuid5(SITE_DOCUMENTS, f"{site_slug}:{document}")
