"""Monitoring's copies of other services' data: devices, users and tariffs kept from their
events (`copies`), caught up from their snapshots at start (`catchup`), and who owned a
device when (`owners`: ownership periods, and which hours a client may see)."""
