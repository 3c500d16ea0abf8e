"""Sign-ins and sessions of agents and admins: failed attempts per login (the throttle)
and sessions (the hash of the cookie's token, the CSRF secret, the expiry).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 04:00:15.412543
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pvp_hub.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_person_sessions")),
    )
    with op.batch_alter_table("person_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "sign_in_throttle",
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_sign_in_throttle")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("person_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_sessions_expires_at"))

    op.drop_table("person_sessions")
