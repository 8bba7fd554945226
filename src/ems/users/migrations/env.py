from ems.common.migrations import run_migrations
from ems.users.models import Base

run_migrations(Base.metadata)
