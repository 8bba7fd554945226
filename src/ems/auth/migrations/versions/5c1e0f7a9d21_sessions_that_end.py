"""sessions that end: token versions, absolute session lifetime, revocations, throttle

Revision 5c1e0f7a9d21, after 306b057db96b; written 2026-12-02 10:00:00.
"""

import sqlalchemy as sa
from alembic import op

revision = '5c1e0f7a9d21'
down_revision = '306b057db96b'


def upgrade() -> None:
    op.add_column(
        "credentials",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "refresh_tokens",
        sa.Column(
            "session_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_table(
        "revocations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("min_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
    )
    op.create_index(op.f("ix_revocations_recorded_at"), "revocations", ["recorded_at"])
    op.create_index(op.f("ix_revocations_expires_at"), "revocations", ["expires_at"])
    op.drop_index("ix_login_failures_scope_key_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_scope_key_at", "login_failures", ["scope", "key", "at"]
    )
    op.drop_index(op.f("ix_revocations_expires_at"), table_name="revocations")
    op.drop_index(op.f("ix_revocations_recorded_at"), table_name="revocations")
    op.drop_table("revocations")
    op.drop_column("refresh_tokens", "session_started_at")
    op.drop_column("credentials", "token_version")
