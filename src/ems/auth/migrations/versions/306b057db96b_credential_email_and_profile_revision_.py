"""credential email and profile revision copies

Revision 306b057db96b, after bd7f6d4a0e41; written 2026-11-25 13:29:29.
"""

import sqlalchemy as sa
from alembic import op

revision = '306b057db96b'
down_revision = 'bd7f6d4a0e41'


def upgrade() -> None:
    op.add_column('credentials', sa.Column('email', sa.String(length=320), nullable=True))
    op.add_column('credentials', sa.Column('profile_revision', sa.Integer(), server_default='0', nullable=False))
    op.create_unique_constraint(op.f('uq_credentials_email'), 'credentials', ['email'])


def downgrade() -> None:
    op.drop_constraint(op.f('uq_credentials_email'), 'credentials', type_='unique')
    op.drop_column('credentials', 'profile_revision')
    op.drop_column('credentials', 'email')
