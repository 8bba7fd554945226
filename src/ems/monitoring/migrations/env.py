from ems.common.migrations import run_migrations
from ems.monitoring.models import Base

run_migrations(Base.metadata)
