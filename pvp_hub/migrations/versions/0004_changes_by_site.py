"""Changes: an index on (region_id, site_id, seq), so a pull reads the region's rows
for all its sites and the site's own as two index ranges, not every other site's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_changes_region_id_site_id_seq", "changes", ["region_id", "site_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_changes_region_id_site_id_seq", table_name="changes")
