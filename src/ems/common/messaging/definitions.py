"""RabbitMQ definitions (the JSON `rabbitmqctl import_definitions` and `load_definitions`
read) made from the topology table: the vhost, exchanges, static queues, bindings and, when
passwords are given, the users with their permissions."""

from __future__ import annotations

from typing import Any

from ems.common.messaging.credentials import same_or_new_hash
from ems.common.messaging.topology import (
    EXCHANGE_BINDINGS,
    EXCHANGES,
    IDENTITIES,
    permissions,
    static_queues,
)


def topology_definitions(vhost: str) -> dict[str, Any]:
    """Everything but users: what a broker needs before any service connects."""
    queues = static_queues()
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": x.name,
                "vhost": vhost,
                "type": x.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": dict(x.arguments),
            }
            for x in EXCHANGES
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": q.arguments(),
            }
            for q in queues
        ],
        # In table order: the consistent-hash ring is built in binding order.
        "bindings": [
            {
                "source": source,
                "vhost": vhost,
                "destination": destination,
                "destination_type": "exchange",
                "routing_key": key,
                "arguments": {},
            }
            for source, destination, key in EXCHANGE_BINDINGS
        ]
        + [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": q.name,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {},
            }
            for q in queues
            for b in q.all_bindings()
        ],
    }


def user_definitions(
    vhost: str, prefix: str, passwords: dict[str, str], stored: dict[str, str] | None = None
) -> dict[str, Any]:
    """The identities' users (salted SHA-256 hashes, RabbitMQ's format; a `stored` hash of
    the same password is kept) and permissions."""
    users, perms, topics = [], [], []
    for identity in IDENTITIES:
        name = f"{prefix}{identity}"
        users.append(
            {
                "name": name,
                "password_hash": same_or_new_hash(passwords[identity], (stored or {}).get(name)),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
                "limits": {},
            }
        )
        p = permissions(identity)
        perms.append(
            {
                "user": name,
                "vhost": vhost,
                "configure": p.configure,
                "write": p.write,
                "read": p.read,
            }
        )
        topics += [
            {"user": name, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
            for exchange, (write, read) in p.topics.items()
        ]
    return {"users": users, "permissions": perms, "topic_permissions": topics}


def broker_definitions(
    vhost: str,
    prefix: str = "",
    passwords: dict[str, str] | None = None,
    stored: dict[str, str] | None = None,
) -> dict[str, Any]:
    definitions = topology_definitions(vhost)
    if passwords is not None:
        definitions.update(user_definitions(vhost, prefix, passwords, stored))
    return definitions


def stored_hashes(definitions: dict[str, Any]) -> dict[str, str]:
    """The password hashes of earlier definitions, by user."""
    return {user["name"]: user["password_hash"] for user in definitions.get("users", [])}
