from ems.common.registry import ServiceSpec

# No routes: the balancer has only health and metrics. It contributes `ems simulate`, the
# program that feeds it.
SPEC = ServiceSpec(
    name="balancer",
    app="ems.balancer.app:create_app",
    settings="ems.balancer.settings:BalancerSettings",
    port=8140,
    order=40,
    commands=("ems.simulator.cli:register_commands",),
)
