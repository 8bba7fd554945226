"""profile time zone

Revision e204d99a217a, after 1c484d508520; written 2026-12-01 14:16:44.
"""

import sqlalchemy as sa
from alembic import op

revision = 'e204d99a217a'
down_revision = '1c484d508520'


def upgrade() -> None:
    # Every existing profile is in UTC, as before zones existed.
    op.add_column('users', sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))


def downgrade() -> None:
    op.drop_column('users', 'time_zone')
