"""`ems swarm`: the platform on Docker Swarm, on this machine (`make swarm-up`).

`up` installs and starts a Docker engine when there is none, builds the images from Debian
packages and our code (`images`), writes the secrets (`secrets`), initialises a single-node
swarm and deploys `deploy/swarm/stack.yaml` as the stack `ems`, then waits until every
service is healthy and the gateway answers (`deploy`). `down` removes the stack, and stops
what `up` started (the engine, the swarm). docs/operations.md describes the deployment.
"""
