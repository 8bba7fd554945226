"""Monitoring: stores readings exactly once, keeps hourly kWh, raises overconsumption
alerts and serves the consumption API. Runs as N replicas sharing `monitoringdb`."""
