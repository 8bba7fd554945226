"""silent meters (device_seen, silent alerts), per-user read state, acks, admin digests,
per-second reading counts, the meter id of held readings

Revision b81d4e6f9a20, after b5d1e0c3a9f7; written 2026-12-01 17:40:00.
"""

from alembic import op
import sqlalchemy as sa

revision = 'b81d4e6f9a20'
down_revision = 'b5d1e0c3a9f7'


def upgrade() -> None:
    op.alter_column('alerts', 'micro_kwh', existing_type=sa.BigInteger(), nullable=True)
    op.alter_column('alerts', 'limit_micro_kwh', existing_type=sa.BigInteger(), nullable=True)
    op.add_column('alerts', sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alerts', sa.Column('silence_minutes', sa.Integer(), nullable=True))
    op.add_column('alerts', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alerts', sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alerts', sa.Column('acknowledged_by', sa.Uuid(), nullable=True))
    op.create_index(
        'uq_alerts_open_silence', 'alerts', ['device_id'], unique=True,
        postgresql_where=sa.text("kind = 'silent' AND ended_at IS NULL"),
    )
    op.create_table('alert_reads',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_reads_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'alert_id', name=op.f('pk_alert_reads'))
    )
    op.create_index(op.f('ix_alert_reads_alert_id'), 'alert_reads', ['alert_id'], unique=False)
    op.create_table('device_seen',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('watch_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_seen'))
    )
    op.create_table('alert_digests',
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('alerts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('window_start', name=op.f('pk_alert_digests'))
    )
    # Devices that sent before: their last reading's arrival, as near as the hours know it.
    op.execute(
        "INSERT INTO device_seen (device_id, last_seen_at, watch_from) "
        "SELECT device_id, max(updated_at), max(updated_at) FROM hourly_consumption GROUP BY 1"
    )
    op.create_table('ingest_rates',
    sa.Column('second', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replica', sa.String(length=64), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('second', 'replica', name=op.f('pk_ingest_rates'))
    )
    op.add_column('unmatched_readings', sa.Column('meter_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('unmatched_readings', 'meter_id')
    op.drop_table('ingest_rates')
    op.drop_table('alert_digests')
    op.drop_table('device_seen')
    op.drop_index(op.f('ix_alert_reads_alert_id'), table_name='alert_reads')
    op.drop_table('alert_reads')
    op.drop_index('uq_alerts_open_silence', table_name='alerts')
    for column in ('acknowledged_by', 'acknowledged_at', 'ended_at', 'silence_minutes', 'last_seen_at'):
        op.drop_column('alerts', column)
    op.execute("DELETE FROM alerts WHERE micro_kwh IS NULL OR limit_micro_kwh IS NULL")
    op.alter_column('alerts', 'limit_micro_kwh', existing_type=sa.BigInteger(), nullable=False)
    op.alter_column('alerts', 'micro_kwh', existing_type=sa.BigInteger(), nullable=False)
