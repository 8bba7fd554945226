"""Which replica a reading goes to: a consistent-hash ring over device ids (the default) or
round-robin. Both route only to the replicas currently alive."""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable
from typing import Protocol

# Past this many remembered devices the lookup cache starts over (bounded memory).
_CACHE_LIMIT = 200_000


def _hash64(data: str) -> int:
    # A stable hash: Python's own hash() changes from one process to the next.
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "big")


class Strategy(Protocol):
    def pick(self, key: str) -> int: ...

    def set_members(self, members: Iterable[int]) -> None: ...


class HashRing:
    """Consistent hashing with virtual nodes: each replica owns `virtual_nodes` points on a
    64-bit circle; a key belongs to the first point clockwise from its hash. Removing a
    replica moves only its keys; adding one takes about 1/(N+1) of the keys from the rest."""

    def __init__(self, members: Iterable[int], virtual_nodes: int = 160) -> None:
        self.virtual_nodes = virtual_nodes
        self._points: list[int] = []
        self._owners: list[int] = []
        self._cache: dict[str, int] = {}
        self.set_members(members)

    @property
    def members(self) -> frozenset[int]:
        return frozenset(self._owners)

    def set_members(self, members: Iterable[int]) -> None:
        points = sorted(
            (_hash64(f"replica-{member}#{v}"), member)
            for member in set(members)
            for v in range(self.virtual_nodes)
        )
        if not points:
            raise ValueError("a ring needs at least one member")
        self._points = [p for p, _ in points]
        self._owners = [m for _, m in points]
        self._cache.clear()

    def pick(self, key: str) -> int:
        owner = self._cache.get(key)
        if owner is None:
            i = bisect.bisect(self._points, _hash64(key))
            owner = self._owners[i % len(self._points)]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = owner
        return owner


class RoundRobin:
    """Each reading to the next replica in turn (no device affinity)."""

    def __init__(self, members: Iterable[int]) -> None:
        self._cycle: itertools.cycle[int] = itertools.cycle([0])
        self.set_members(members)

    def set_members(self, members: Iterable[int]) -> None:
        ordered = sorted(set(members))
        if not ordered:
            raise ValueError("round-robin needs at least one member")
        self._cycle = itertools.cycle(ordered)

    def pick(self, key: str) -> int:
        return next(self._cycle)


def make_strategy(name: str, members: Iterable[int], virtual_nodes: int) -> Strategy:
    if name == "round-robin":
        return RoundRobin(members)
    return HashRing(members, virtual_nodes)
