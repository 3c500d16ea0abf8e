"""RDV Service Public: the connected organisations (webhook secret, API account, mapping)
and the latest state applied of each of their appointments.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pvp_hub.schema import Json, UTCDateTime

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rdv_sp_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("api_url", sa.String(length=300), nullable=True),
        sa.Column("api_email", sa.String(length=200), nullable=True),
        sa.Column("api_password", sa.String(length=200), nullable=True),
        sa.Column("mapping", Json, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_delivery_at", UTCDateTime(), nullable=True),
        sa.Column("last_catch_up_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_rdv_sp_endpoints_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rdv_sp_endpoints")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_rdv_sp_endpoints_organisation_id")),
    )
    op.create_table(
        "rdv_sp_states",
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("rdv_id", sa.Integer(), nullable=False),
        sa.Column("version_us", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("aside", sa.String(length=16), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["rdv_sp_endpoints.id"],
            name=op.f("fk_rdv_sp_states_endpoint_id_rdv_sp_endpoints"),
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "rdv_id", name=op.f("pk_rdv_sp_states")),
    )
    op.create_index(
        op.f("ix_rdv_sp_states_aside_starts_at"), "rdv_sp_states", ["aside", "starts_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rdv_sp_states_aside_starts_at"), table_name="rdv_sp_states")
    op.drop_table("rdv_sp_states")
    op.drop_table("rdv_sp_endpoints")
