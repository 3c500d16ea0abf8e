"""Appointments: a visitor expected at a site for a partner at a time, with the name to
call them by (erased at the end of its day), sent to the site in the pull feed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pvp_hub.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("visitor_name", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("name_erase_at", UTCDateTime(), nullable=True),
        sa.Column("room_url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_appointments_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_appointments_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_appointments_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_appointments_source_external_id")
        ),
    )
    op.create_index(
        op.f("ix_appointments_site_id_starts_at"), "appointments", ["site_id", "starts_at"]
    )
    op.create_index(op.f("ix_appointments_name_erase_at"), "appointments", ["name_erase_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_appointments_name_erase_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_site_id_starts_at"), table_name="appointments")
    op.drop_table("appointments")
