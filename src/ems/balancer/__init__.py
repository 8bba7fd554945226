"""The load balancer: spreads readings from the one raw queue over the monitoring replicas."""
