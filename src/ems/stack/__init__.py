"""`ems up`: the whole platform on one machine, as child processes of one runner.

The runner finds or starts PostgreSQL and RabbitMQ, migrates every service's database,
starts the services (every registered spec, every replica) and the nginx gateway, restarts
whatever crashes, and stops everything on Ctrl-C.
"""
