"""The hub's id of a site's document, made the same way by the site (which uploads under
it) and the hub (whose site events name the bridge's own id, doc_...): no table of ids on
either side.

A scan is sent once per content: the first upload of a bridge document takes its plain
id; the same document sent again after its pages changed (a new sha256) takes the id of
that content (`version`), so the hub's copy of the old content and the new one never
share an id, and the hub, knowing each copy's sha256, finds every copy of a document."""

from __future__ import annotations

import uuid

SITE_DOCUMENTS = uuid.UUID("5d1c0a4e-6f1b-4c55-9a57-0d0c5e9f6b21")
# `document_purged`'s reason when staff deleted the scan during the visit (not at its
# end): the hub drops its copies of it (not an event type: kept out of pvp_tui's events).
PURGED_BY_STAFF = "deleted"


def site_document_id(site_slug: str, document: str, version: str | None = None) -> uuid.UUID:
    """uuid5 of "<site>:<bridge's document id>" (a UUID is taken as it is), or of
    "<site>:<document>@<version>" (the sha256 of a later content of that document)."""
    if version is not None:
        return uuid.uuid5(SITE_DOCUMENTS, f"{site_slug}:{document}@{version}")
    try:
        return uuid.UUID(document)
    except ValueError:
        return uuid.uuid5(SITE_DOCUMENTS, f"{site_slug}:{document}")
