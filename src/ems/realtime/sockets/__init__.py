"""The sockets of one realtime instance: connections and the hub that fans out to them
(`connections`), the `/ws` handler (`socket`), who is online across instances (`presence`),
recent messages a reconnecting socket asks for again (`replay`), and the collector policy
that keeps thousands of idle sockets cheap (`gcpolicy`)."""
