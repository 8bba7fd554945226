"""devices, raw readings (partitioned by day), hourly figures, alerts

Revision f416026bef0a, the first; written 2026-11-25 13:33:30.
"""

import sqlalchemy as sa
from alembic import op

from ems.common.migrations import create_outbox_tables, drop_outbox_tables

revision = 'f416026bef0a'
down_revision = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('micro_kwh', sa.BigInteger(), nullable=False),
    sa.Column('limit_micro_kwh', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('device_id', 'hour', 'kind', name='uq_alerts_device_hour_kind')
    )
    op.create_index('ix_alerts_created', 'alerts', ['created_at'], unique=False)
    op.create_index('ix_alerts_device_created', 'alerts', ['device_id', 'created_at'], unique=False)
    op.create_table('devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('max_hourly_micro_kwh', sa.BigInteger(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    op.create_index(op.f('ix_devices_owner_id'), 'devices', ['owner_id'], unique=False)
    op.create_table('hourly_consumption',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('micro_kwh', sa.BigInteger(), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'hour', name=op.f('pk_hourly_consumption'))
    )
    create_outbox_tables()
    op.create_table('readings',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('micro_kwh', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'ts', name=op.f('pk_readings')),
    postgresql_partition_by='RANGE (ts)'
    )
    op.create_table('unmatched_readings',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('micro_kwh', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'ts', name=op.f('pk_unmatched_readings'))
    )
    op.create_index(op.f('ix_unmatched_readings_received_at'), 'unmatched_readings', ['received_at'], unique=False)
    # Hourly rows are updated in place all the time: room on each page keeps the updates HOT.
    op.execute("ALTER TABLE hourly_consumption SET (fillfactor = 80)")


def downgrade() -> None:
    op.drop_index(op.f('ix_unmatched_readings_received_at'), table_name='unmatched_readings')
    op.drop_table('unmatched_readings')
    op.drop_table('readings')
    drop_outbox_tables()
    op.drop_table('hourly_consumption')
    op.drop_index(op.f('ix_devices_owner_id'), table_name='devices')
    op.drop_table('devices')
    op.drop_index('ix_alerts_device_created', table_name='alerts')
    op.drop_index('ix_alerts_created', table_name='alerts')
    op.drop_table('alerts')
