"""copies of users and tariffs, the device's tariff/meter id/silence, owner periods

Revision 7c3e91a5d2b4, after f416026bef0a; written 2026-12-01 17:30:00.
"""

import sqlalchemy as sa
from alembic import op

revision = '7c3e91a5d2b4'
down_revision = 'f416026bef0a'


def upgrade() -> None:
    op.add_column('devices', sa.Column('tariff_id', sa.Uuid(), nullable=True))
    op.add_column('devices', sa.Column('meter_id', sa.String(length=64), nullable=True))
    op.add_column('devices', sa.Column('silence_minutes', sa.Integer(), nullable=True))
    # The copy held none of these: the events' default silence until the device's state
    # arrives again, and revision 0 so that the next snapshot (at every replica's start)
    # brings every live device's whole state, tariff and meter id included.
    op.execute("UPDATE devices SET silence_minutes = 30, revision = 0 WHERE NOT deleted")
    op.create_table('device_owners',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_owners'))
    )
    op.create_index('uq_device_owners_current', 'device_owners', ['device_id'], unique=True, postgresql_where=sa.text('until IS NULL'))
    op.create_index('ix_device_owners_owner_current', 'device_owners', ['owner_id'], unique=False, postgresql_where=sa.text('until IS NULL'))
    # Owners known before periods were recorded own their devices' whole history.
    op.execute(
        "INSERT INTO device_owners (device_id, owner_id, since) "
        "SELECT id, owner_id, NULL FROM devices WHERE owner_id IS NOT NULL AND NOT deleted"
    )
    # Each current owner's first visible hour: the start of their period rounded up to the
    # hour (UTC hours; -infinity for a first owner). The one rule every client read uses.
    op.execute(
        """
        CREATE VIEW current_owners AS
        SELECT device_id, owner_id, since,
               CASE WHEN since IS NULL THEN '-infinity'::timestamptz
                    WHEN since = date_trunc('hour', since, 'UTC') THEN since
                    ELSE date_trunc('hour', since, 'UTC') + interval '1 hour'
               END AS visible_from
        FROM device_owners WHERE until IS NULL
        """
    )
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_table('tariffs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('price_per_kwh', sa.Numeric(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariffs'))
    )
    op.create_table('tariff_bands',
    sa.Column('tariff_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.Column('price_per_kwh', sa.Numeric(), nullable=False),
    sa.PrimaryKeyConstraint('tariff_id', 'position', name=op.f('pk_tariff_bands'))
    )


def downgrade() -> None:
    op.drop_table('tariff_bands')
    op.drop_table('tariffs')
    op.drop_table('users')
    op.execute("DROP VIEW current_owners")
    op.drop_index('ix_device_owners_owner_current', table_name='device_owners', postgresql_where=sa.text('until IS NULL'))
    op.drop_index('uq_device_owners_current', table_name='device_owners', postgresql_where=sa.text('until IS NULL'))
    op.drop_table('device_owners')
    op.drop_column('devices', 'silence_minutes')
    op.drop_column('devices', 'meter_id')
    op.drop_column('devices', 'tariff_id')
