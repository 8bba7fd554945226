from ems.common.registry import service

# No HTTP API and no database: the balancer only listens to the monitoring replicas on the
# broker's control exchange and tells them which reading partitions to consume; it has
# health and metrics. It contributes `ems simulate`, the program that feeds the platform.
SPEC = service(
    "balancer",
    port=8140,
    order=40,
    api_prefix=None,
    database=False,
    commands=("ems.simulator.cli:register_commands",),
    description="Assigns the reading partitions to the live monitoring replicas.",
)
