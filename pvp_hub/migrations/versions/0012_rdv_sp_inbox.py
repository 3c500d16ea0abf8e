"""RDV Service Public: the inbox of verified deliveries waiting to be applied in batches
(the minimised appointment only, deleted once applied).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pvp_hub.schema import Json, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rdv_sp_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("version_us", sa.BigInteger(), nullable=False),
        sa.Column("record", Json, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["rdv_sp_endpoints.id"],
            name=op.f("fk_rdv_sp_inbox_endpoint_id_rdv_sp_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rdv_sp_inbox")),
    )
    op.create_index(op.f("ix_rdv_sp_inbox_endpoint_id"), "rdv_sp_inbox", ["endpoint_id"])
    op.create_index(op.f("ix_rdv_sp_inbox_retry_at"), "rdv_sp_inbox", ["retry_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rdv_sp_inbox_retry_at"), table_name="rdv_sp_inbox")
    op.drop_index(op.f("ix_rdv_sp_inbox_endpoint_id"), table_name="rdv_sp_inbox")
    op.drop_table("rdv_sp_inbox")
