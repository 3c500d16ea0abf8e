"""Sites: when each was last seen (any authenticated request) and the status it last
reported (queue length, kiosks' health), for the region's view.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pvp_hub.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("status_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("status_at")
        batch_op.drop_column("status")
        batch_op.drop_column("last_seen_at")
