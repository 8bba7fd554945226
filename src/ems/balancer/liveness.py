"""Which monitoring replicas are alive, judged by whether their ingest queue has a consumer.

A replica starts out alive (so a slow start moves nobody). It is gone once its queue has
had no consumer for `gone_after` seconds, and alive again as soon as a consumer appears.
"""

from __future__ import annotations


class ReplicaWatch:
    def __init__(self, replicas: int, gone_after: float, now: float) -> None:
        if replicas < 1:
            raise ValueError("at least one monitoring replica is needed")
        self.replicas = replicas
        self.gone_after = gone_after
        self.alive: set[int] = set(range(replicas))
        self._last_seen = dict.fromkeys(range(replicas), now)

    def observe(self, replica: int, has_consumer: bool, now: float) -> bool:
        """Record one check of a replica's queue; True when the alive set changed."""
        if has_consumer:
            self._last_seen[replica] = now
            if replica not in self.alive:
                self.alive.add(replica)
                return True
            return False
        if replica in self.alive and now - self._last_seen[replica] >= self.gone_after:
            self.alive.discard(replica)
            return True
        return False

    def routable(self) -> frozenset[int]:
        """Where readings may go: the live replicas, or all of them when none is alive (the
        readings then wait in the queues rather than anywhere else)."""
        return frozenset(self.alive) if self.alive else frozenset(range(self.replicas))

    def gone(self) -> frozenset[int]:
        return frozenset(range(self.replicas)) - self.alive if self.alive else frozenset()
