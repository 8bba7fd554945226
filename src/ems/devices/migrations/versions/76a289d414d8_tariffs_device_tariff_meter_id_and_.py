"""tariffs; a device's tariff, meter id and silence limit

Revision 76a289d414d8, after 0afd20a3cdc1; written 2026-12-01 14:16:47.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '76a289d414d8'
down_revision = '0afd20a3cdc1'


def upgrade() -> None:
    op.create_table('tariffs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_per_kwh', sa.Double(), nullable=False),
    sa.Column('bands', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('price_per_kwh >= 0', name=op.f('ck_tariffs_price_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariffs')),
    sa.UniqueConstraint('name', name=op.f('uq_tariffs_name'))
    )
    op.add_column('devices', sa.Column('tariff_id', sa.Uuid(), nullable=True))
    op.add_column('devices', sa.Column('meter_id', sa.String(length=64), nullable=True))
    # Existing devices get the default silence limit of new ones.
    op.add_column('devices', sa.Column('silence_minutes', sa.Integer(), server_default='30', nullable=True))
    op.create_index(op.f('ix_devices_tariff_id'), 'devices', ['tariff_id'], unique=False)
    op.create_unique_constraint(op.f('uq_devices_meter_id'), 'devices', ['meter_id'])
    op.create_foreign_key(op.f('fk_devices_tariff_id_tariffs'), 'devices', 'tariffs', ['tariff_id'], ['id'])
    # Autogenerate does not see check constraints added to an existing table.
    op.create_check_constraint(
        op.f('ck_devices_silence_minutes_range'), 'devices', 'silence_minutes BETWEEN 1 AND 10080'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_devices_silence_minutes_range'), 'devices', type_='check')
    op.drop_constraint(op.f('fk_devices_tariff_id_tariffs'), 'devices', type_='foreignkey')
    op.drop_constraint(op.f('uq_devices_meter_id'), 'devices', type_='unique')
    op.drop_index(op.f('ix_devices_tariff_id'), table_name='devices')
    op.drop_column('devices', 'silence_minutes')
    op.drop_column('devices', 'meter_id')
    op.drop_column('devices', 'tariff_id')
    op.drop_table('tariffs')
