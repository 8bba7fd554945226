from ems.auth.models import Base
from ems.common.migrations import run_migrations

run_migrations(Base.metadata)
