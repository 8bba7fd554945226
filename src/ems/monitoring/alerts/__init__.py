"""Alerts as they are raised and told: their text in the reader's zone, the owner's pushes,
silent meters and the admins' digest (`notify`). Their read state and acknowledgement are
use cases of the API (monitoring/service.py)."""
