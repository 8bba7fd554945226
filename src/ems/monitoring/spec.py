from ems.common.registry import Route, ServiceSpec

SPEC = ServiceSpec(
    name="monitoring",
    app="ems.monitoring.app:create_app",
    settings="ems.monitoring.settings:MonitoringSettings",
    # Replica i listens on 8120 + i; every replica serves the API and consumes the reading
    # partitions the balancer assigns it.
    port=8120,
    api_prefix="/api/consumption",
    routes=(Route("/api/consumption/", "authenticated"),),
    migrations="ems.monitoring:migrations",
    replicas=2,
    order=30,
)
