"""conversations, messages, deleted users, outbox

Revision d99274c29ae7, the first; written 2026-11-25 13:31:25.
"""

import sqlalchemy as sa
from alembic import op

from ems.common.migrations import create_outbox_tables, drop_outbox_tables

revision = 'd99274c29ae7'
down_revision = None


def upgrade() -> None:
    op.create_table('conversations',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('user_revision', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_text', sa.String(length=200), nullable=False),
    sa.Column('last_sender', sa.String(length=8), nullable=False),
    sa.Column('unread_for_admin', sa.Integer(), nullable=False),
    sa.Column('unread_for_user', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_conversations'))
    )
    op.create_index(op.f('ix_conversations_last_message_at'), 'conversations', ['last_message_at'], unique=False)
    op.create_table('deleted_users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deleted_users'))
    )
    create_outbox_tables()
    op.create_table('messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('sender', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['conversations.user_id'], name=op.f('fk_messages_user_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('seq', name=op.f('uq_messages_seq'))
    )
    op.create_index('ix_messages_user_id_seq', 'messages', ['user_id', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_user_id_seq', table_name='messages')
    op.drop_table('messages')
    drop_outbox_tables()
    op.drop_table('deleted_users')
    op.drop_index(op.f('ix_conversations_last_message_at'), table_name='conversations')
    op.drop_table('conversations')
