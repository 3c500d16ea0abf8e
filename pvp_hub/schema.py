"""The hub's tables, as SQLAlchemy Core metadata: one schema for SQLite and PostgreSQL.

Alembic's migrations (pvp_hub/migrations) build the same schema; a test compares them.
Ids are UUIDs; every timestamp is UTC with its zone (UTCDateTime).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is UTC with its zone on every engine: SQLite's DATETIME drops
    the offset silently, so values are converted to UTC on write and marked UTC on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the hub stores only timestamps with a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: jsonb on PostgreSQL (indexable, compact), JSON text on SQLite.
Json: Any = JSON().with_variant(JSONB(), "postgresql")
# A counter that orders changes: BIGINT identity on PostgreSQL, rowid on SQLite.
Seq: Any = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

regions = Table(
    "regions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("slug", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The site's last authenticated request, kept by each hub process in memory and
    # written every few seconds (never one write per request): "online / offline since".
    Column("last_seen_at", UTCDateTime, nullable=True),
    # What the site last said of itself (queue length, kiosks' health), and when.
    Column("status", Json, nullable=True),
    Column("status_at", UTCDateTime, nullable=True),
    UniqueConstraint("region_id", "slug"),
)

partners = Table(
    "partners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("slug", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(3), nullable=False),
    Column("interview_minutes", Integer, nullable=False),
    # {"mon": ["09:00-12:00", ...], ...}: the permanences, as in a site's config
    Column("hours", Json, nullable=False),
    Column("document_types", Json, nullable=False),
    # {"kind": "url", "url": ..., "domains": [...]} or {"kind": "api", "api": ..., ...}
    Column("room", Json, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Removed from the directory (`pvp-hub admin partner remove`): sites stop offering it;
    # kept for the names of past visits, and revived by adding it again.
    Column("removed_at", UTCDateTime, nullable=True),
    UniqueConstraint("region_id", "slug"),
    UniqueConstraint("region_id", "prefix"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("partner_id", Uuid, ForeignKey("partners.id"), nullable=False),
    Column("login", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("all_sites", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

agent_sites = Table(
    "agent_sites",
    metadata,
    Column("agent_id", Uuid, ForeignKey("agents.id"), primary_key=True),
    Column("site_id", Uuid, ForeignKey("sites.id"), primary_key=True),
)

admins = Table(
    "admins",
    metadata,
    Column("id", Uuid, primary_key=True),
    # None: an admin of every region
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=True),
    Column("login", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

site_tokens = Table(
    "site_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=False),
    # SHA-256 of the token (hex): the token itself is shown once and never stored
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# What changed in the directory, in commit order: the pull endpoint's cursor is a seq.
changes = Table(
    "changes",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    # None: every site of the region sees it
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("object_id", Uuid, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "region_id", "seq"),
    # A pull reads two ranges of this index: the region's rows for all its sites
    # (site_id NULL) and the site's own, never the other sites' (2,840 in a region).
    Index(None, "region_id", "site_id", "seq"),
    sqlite_autoincrement=True,
)

# The hub's view of a site's visit, projected from its events.
visits = Table(
    "visits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=False),
    Column("partner", String(32), nullable=True),
    Column("ticket", String(16), nullable=True),
    Column("status", String(32), nullable=True),
    Column("status_at", UTCDateTime, nullable=True),
    Column("first_at", UTCDateTime, nullable=False),
    # Only when the visitor agreed (a name_shared event); erased at name_erase_at.
    Column("visitor_name", String(80), nullable=True),
    Column("name_erase_at", UTCDateTime, nullable=True),
    Index(None, "site_id", "first_at"),
)

# A visitor's appointment at a site, from the region's admin (`pvp-hub admin appointment`)
# or, later, a booking tool (RDV Service Public: upserted by (source, external_id)).
# The name and phone are erased at the end of the appointment's local day (purge).
appointments = Table(
    "appointments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=False),
    Column("partner_id", Uuid, ForeignKey("partners.id"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    # The name to call the visitor by, and a phone to warn them: erased at name_erase_at.
    Column("visitor_name", String(80), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("name_erase_at", UTCDateTime, nullable=True),
    # The visio room the booking tool gave (never logged).
    Column("room_url", String(500), nullable=True),
    Column("status", String(16), nullable=False),  # planned, cancelled, seen, noshow
    Column("source", String(32), nullable=False),  # admin (rdv-sp later)
    Column("external_id", String(100), nullable=True),  # the booking tool's own id
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The site's visit that checked the visitor in: its outcome becomes the status.
    Column("visit_id", Uuid, nullable=True),
    UniqueConstraint("source", "external_id"),
    Index(None, "site_id", "starts_at"),
    Index(None, "name_erase_at"),
    Index(None, "visit_id"),
)

# RDV Service Public: one row per connected organisation (its webhook's secret, its API
# account for the catch-up, and its places and motives mapped to sites and partners).
# The secret and the password are kept here so every hub process of the region can use
# them; they are never logged nor shown by `pvp-hub admin rdv-sp list`.
rdv_sp_endpoints = Table(
    "rdv_sp_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),  # in the webhook's URL
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("organisation_id", Integer, nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("api_url", String(300), nullable=True),
    Column("api_email", String(200), nullable=True),
    Column("api_password", String(200), nullable=True),
    Column("mapping", Json, nullable=False),  # {"lieux": {...}, "motifs": {...}, "services": {...}}
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_delivery_at", UTCDateTime, nullable=True),
    Column("last_catch_up_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),  # ids and counts only
)

# The latest state applied of each appointment of an organisation: deliveries repeat and
# arrive out of order, so one older than `version` changes nothing. `aside`: mapped to no
# site ("no_site") or partner ("no_partner"), kept here without any name, and counted on
# the region's view.
rdv_sp_states = Table(
    "rdv_sp_states",
    metadata,
    Column("endpoint_id", Uuid, ForeignKey("rdv_sp_endpoints.id"), primary_key=True),
    Column("rdv_id", Integer, primary_key=True),
    Column("version_us", BigInteger, nullable=False),  # the state's time, µs since 1970
    Column("digest", String(64), nullable=False),
    Column("appointment_id", Uuid, nullable=True),
    Column("aside", String(16), nullable=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Index(None, "aside", "starts_at"),
)

# RDV Service Public's deliveries, verified and read, waiting to be applied (the webhook
# answers once its row is here; `rdv_sp.inbox` applies them in batches). Only the
# minimised appointment is kept (what `rdv_sp_states` and `appointments` take), never the
# sender's body; a row is deleted once applied. `error`: why it could not be applied
# (words, no personal value), tried again at `retry_at`, shown in `rdv-sp list`.
rdv_sp_inbox = Table(
    "rdv_sp_inbox",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("endpoint_id", Uuid, ForeignKey("rdv_sp_endpoints.id"), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("event", String(16), nullable=False),
    Column("version_us", BigInteger, nullable=False),  # meta.timestamp, µs since 1970
    Column("record", Json, nullable=False),  # payload.Appointment's fields, nothing more
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("retry_at", UTCDateTime, nullable=True),
    Index(None, "endpoint_id"),
    Index(None, "retry_at"),
)

# The visio room of a visit, made just in time when the site asks for it (the partner's
# room rule, or the appointment's own room). The URL is never logged; it goes to the
# site's kiosk and to the agent's page only.
visit_rooms = Table(
    "visit_rooms",
    metadata,
    Column("visit_id", Uuid, ForeignKey("visits.id"), primary_key=True),
    Column("url", String(2048), nullable=False),  # the room itself, as the agent opens it
    Column("kiosk_url", String(2048), nullable=False),  # with the ticket as display name
    Column("source", String(16), nullable=False),  # url, api, appointment
    Column("created_at", UTCDateTime, nullable=False),
    # The agent clicked "rejoindre la visio" on their page (first time).
    Column("agent_opened_at", UTCDateTime, nullable=True),
)

# A partner's client credentials for its room API (the state's Visio, server to server):
# kept apart from `partners.room`, which goes to the sites in the pull feed. Never logged.
room_api_clients = Table(
    "room_api_clients",
    metadata,
    Column("partner_id", Uuid, ForeignKey("partners.id"), primary_key=True),
    Column("client_id", String(200), nullable=False),
    Column("client_secret", String(200), nullable=False),
    Column("scope", String(254), nullable=False),  # the e-mail of the user rooms belong to
    Column("updated_at", UTCDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    # The site's own event id: pushing it again is a no-op.
    Column("id", Uuid, primary_key=True),
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=False),
    Column("visit_id", Uuid, ForeignKey("visits.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False),
    # SHA-256 of the event as pushed: the same id with other content is refused.
    Column("digest", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "visit_id"),
    Index(None, "site_id", "at"),
)

# The first answer to each Idempotency-Key of a site, replayed on a retry.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("site_id", Uuid, ForeignKey("sites.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)

# Failed sign-ins per login (known or not, so the throttle tells nothing of who exists).
sign_in_throttle = Table(
    "sign_in_throttle",
    metadata,
    Column("login", String(254), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Agents' and admins' sessions: the cookie's token is shown once, only its hash is kept.
person_sessions = Table(
    "person_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # agent or admin
    Column("person_id", Uuid, nullable=False),
    # The secret a page's forms carry back (CSRF), one per session.
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# Papers between a site and its partner's agents (pvp_hub.documents): the bytes only
# encrypted (AES-256-GCM, the document's id as associated data), dropped at `delete_after`
# or when the visitor withdraws consent; the row stays as the trace, without them.
documents = Table(
    "documents",
    metadata,
    Column("id", Uuid, primary_key=True),  # the site's own id for what it sends
    Column("region_id", Uuid, ForeignKey("regions.id"), nullable=False),
    Column("site_id", Uuid, ForeignKey("sites.id"), nullable=False),
    Column("visit_id", Uuid, ForeignKey("visits.id"), nullable=False),
    Column("direction", String(8), nullable=False),  # to_agent (scanned) or to_site (to print)
    Column("doc_type", String(40), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the bytes as sent
    Column("pages", Integer, nullable=True),
    Column("stripped", String(200), nullable=True),  # active content removed, e.g. "javascript"
    Column("state", String(16), nullable=False),  # uploading, ready, deleted
    Column("received_bytes", BigInteger, nullable=False),  # of an upload in chunks
    Column("sent_by_agent", Uuid, nullable=True),  # None: sent by the site
    Column("created_at", UTCDateTime, nullable=False),
    Column("ready_at", UTCDateTime, nullable=True),
    Column("opened_by", Uuid, nullable=True),
    Column("opened_at", UTCDateTime, nullable=True),
    Column("received_at", UTCDateTime, nullable=True),
    Column("printed_at", UTCDateTime, nullable=True),
    Column("print_failed_at", UTCDateTime, nullable=True),
    Column("print_error", String(40), nullable=True),
    Column("delete_after", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("deleted_reason", String(32), nullable=True),
    Column("content", LargeBinary, nullable=True),  # nonce + ciphertext + tag
    Index(None, "visit_id"),
    Index(None, "state", "delete_after"),
)

# An upload's chunks until it is whole, each encrypted apart (its offset in the
# associated data): no plaintext is ever written, even half a document.
document_chunks = Table(
    "document_chunks",
    metadata,
    Column("document_id", Uuid, ForeignKey("documents.id"), primary_key=True),
    Column("start_byte", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
