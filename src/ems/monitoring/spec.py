from ems.common.registry import service

# Replica i listens on 8120 + i; every replica serves the API and consumes the reading
# partitions the balancer assigns it.
SPEC = service(
    "monitoring",
    port=8120,
    replicas=2,
    order=30,
    api_prefix="/api/consumption",
    description=(
        "Hourly consumption, ranges, CSV export, alerts (overconsumption, silent meters)"
        " with per-user read state, meters and the admins' overview."
    ),
)
