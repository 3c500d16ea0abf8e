"""Partners: `removed_at`, set by `pvp-hub admin partner remove`; sites get the removal
in the pull feed and stop offering the partner, keeping its name for past visits.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pvp_hub.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
