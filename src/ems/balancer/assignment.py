"""Which monitoring replica consumes which reading partitions.

Sticky and balanced: a live replica keeps the partitions it claims (from its heartbeats)
up to its quota; only a dead replica's partitions, unclaimed ones and a surplus move. So a
new replica takes about 1/N of the partitions, all from the others' surplus, and a removed
one's partitions are spread over the survivors; nothing else moves. Quotas follow the
replicas' weights (largest remainder). The plan depends only on the claims, so a restarted
balancer, which learns the claims from the next heartbeats, carries on where it was.
"""

from __future__ import annotations

from collections.abc import Mapping


def replica_order(replica: str) -> tuple[int, str]:
    """Numeric ids (Swarm's task slots) in number order, then the rest by name."""
    return (int(replica), "") if replica.isdigit() else (1 << 62, replica)


def quotas(partitions: int, weights: Mapping[str, int], held: Mapping[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    exact = {r: partitions * w / total for r, w in weights.items()}
    quota = {r: int(x) for r, x in exact.items()}
    spare = partitions - sum(quota.values())
    # The remainder to the largest fractions; ties to who holds more already (no move).
    for replica in sorted(
        weights, key=lambda r: (-(exact[r] - quota[r]), -held.get(r, 0), replica_order(r))
    )[:spare]:
        quota[replica] += 1
    return quota


def plan(
    partitions: int, claims: Mapping[str, set[int]], weights: Mapping[str, int]
) -> dict[str, set[int]]:
    """Partitions per live replica (`weights` names the live ones)."""
    if not weights:
        return {}
    live = sorted(weights, key=replica_order)
    owned: dict[str, set[int]] = {}
    taken: set[int] = set()
    for replica in live:
        mine = {p for p in claims.get(replica, set()) if 0 <= p < partitions} - taken
        owned[replica] = mine
        taken |= mine
    quota = quotas(partitions, weights, {r: len(p) for r, p in owned.items()})
    free = set(range(partitions)) - taken
    for replica in live:
        surplus = len(owned[replica]) - quota[replica]
        if surplus > 0:
            shed = sorted(owned[replica])[-surplus:]
            owned[replica] -= set(shed)
            free |= set(shed)
    pool = sorted(free)
    for replica in live:
        missing = quota[replica] - len(owned[replica])
        if missing > 0:
            owned[replica] |= set(pool[:missing])
            pool = pool[missing:]
    return owned
