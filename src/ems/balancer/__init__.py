"""The balancer: the control plane that assigns reading partitions to monitoring replicas."""
