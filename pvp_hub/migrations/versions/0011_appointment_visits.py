"""Appointments: the site's visit that checked the visitor in (`visit_id`), so the
visit's outcome (seen, no-show) shows on the appointment.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_appointments_visit_id"), ["visit_id"])


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_visit_id"))
        batch_op.drop_column("visit_id")
