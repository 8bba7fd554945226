"""Hosts on one machine: network namespaces joined by veth pairs to a bridge, each with an
address of its own, so that traffic between the platform's parts crosses a real (virtual)
network and one host can be cut off by taking its link down.

Every address is in a /24 of the test's own; the machine's root namespace gets an
`unreachable` route for the surrounding /16 so that nothing meant for a test host ever
leaves the machine, even while a link is down. Traffic between the hosts crosses the
bridge, which the kernel's bridge netfilter hands to iptables' FORWARD chain: a Docker
engine on the machine sets that chain's policy to DROP, so the bridge's own traffic is
accepted explicitly while the network exists.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.231.{n}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=15)


def why_not_available() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    probe = f"emsprobe{secrets.token_hex(2)}"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot create network namespaces: {result.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    name: str
    namespace: str
    address: str
    # The veth end in the root namespace, attached to the bridge: down = cable pulled.
    outer_link: str

    @property
    def wrap(self) -> list[str]:
        """The prefix that runs a command on this host."""
        return ["ip", "netns", "exec", self.namespace]

    def cut(self) -> None:
        _ip("link", "set", self.outer_link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.outer_link, "up")


@dataclass
class Network:
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    subnet: str = ""
    bridge: str = ""
    hosts: dict[str, Host] = field(default_factory=dict)
    _route: str = ""

    def create(self, names: list[str]) -> None:
        # A third octet from the tag: two runs at once get different subnets.
        octet = int(self.tag, 16) % 200 + 20
        self.subnet = SUBNET.format(n=octet)
        self.bridge = f"emsbr{self.tag}"
        self._route = "10.231.0.0/16"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        _forwarding(self.bridge, "-I")
        # Never out of the machine: what has no host here is unreachable, not routed on.
        _ip("route", "add", "unreachable", self._route, check=False)
        for index, name in enumerate(names):
            namespace = f"ems{self.tag}{name}"
            outer, inner = f"ems{self.tag}{name}o", f"ems{self.tag}{name}i"
            address = f"{self.subnet}.{10 + index}"
            _ip("netns", "add", namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", namespace)
            _ip("link", "set", outer, "master", self.bridge)
            _ip("link", "set", outer, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inner)
            _ip("-n", namespace, "link", "set", inner, "up")
            self.hosts[name] = Host(name, namespace, address, outer)

    def destroy(self) -> None:
        for host in self.hosts.values():
            _ip("link", "del", host.outer_link, check=False)
            _ip("netns", "del", host.namespace, check=False)
        if self.bridge:
            _forwarding(self.bridge, "-D")
            _ip("link", "del", self.bridge, check=False)
        if self._route and not _other_test_networks(self.bridge):
            _ip("route", "del", "unreachable", self._route, check=False)


def _forwarding(bridge: str, action: str) -> None:
    """Insert (-I) or delete (-D) the rule that accepts traffic within the bridge."""
    iptables = shutil.which("iptables", path=os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin"]))
    if iptables is None:
        return
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    subprocess.run([iptables, action, *rule], capture_output=True, timeout=15)


def _other_test_networks(own_bridge: str) -> bool:
    links = _ip("-o", "link", "show", "type", "bridge", check=False).stdout
    return any("emsbr" in line and own_bridge not in line for line in links.splitlines())
