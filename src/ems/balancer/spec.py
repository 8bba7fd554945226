from ems.common.registry import ServiceSpec

# No routes and no database: the balancer only listens to the monitoring replicas on the
# broker's control exchange and tells them which reading partitions to consume (service.py,
# assignment.py); it has health and metrics. It contributes `ems simulate`, the program
# that feeds the platform.
SPEC = ServiceSpec(
    name="balancer",
    app="ems.balancer.app:create_app",
    settings="ems.balancer.settings:BalancerSettings",
    port=8140,
    order=40,
    commands=("ems.simulator.cli:register_commands",),
)
