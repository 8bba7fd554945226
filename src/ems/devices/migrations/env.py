from ems.common.migrations import run_migrations
from ems.devices.models import Base

run_migrations(Base.metadata)
