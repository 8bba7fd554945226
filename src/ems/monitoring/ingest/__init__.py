"""Readings from the broker to the database: partitions consumed in batches, parsed,
stored exactly once, with hourly figures, alerts and live updates."""
