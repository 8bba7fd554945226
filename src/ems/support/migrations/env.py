from ems.common.migrations import run_migrations
from ems.support.models import Base

run_migrations(Base.metadata)
