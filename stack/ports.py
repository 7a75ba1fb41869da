"""Ports: the ones `make run` uses, whether they are free, and a free one for a test.

`free_port` is our own few lines, not `bind(("", 0))`: the kernel hands a port 0 bind one from
its ephemeral range, the same range every outgoing connection draws its local port from, so in
a busy test run a client socket could take the port between the pick and the server's own bind
(a CI run lost the fuzz stack's classifier that way: EADDRINUSE). Ports picked here lie below
that range, where no outgoing connection lands, and are never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000  # above the well-known and most registered servers' ports
_handed_out: set[int] = set()


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; elsewhere the IANA one, 49152)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def free_port() -> int:
    """A port free on 127.0.0.1 now, below the ephemeral range, not handed out before here."""
    return free_block(1)


def free_block(size: int = 10) -> int:
    """The first of `size` consecutive ports, all free now and none handed out before here
    (10: the launcher's layout, the gateway on the first, the services next, the simulator last)."""
    high = ephemeral_low() - size
    for _ in range(1000):
        base = random.randint(LOWEST, high)
        block = set(range(base, base + size))
        if not block & _handed_out and all(port_free(port) for port in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no block of {size} free ports between {LOWEST} and {high}")


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now (bound as uvicorn and Redis bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    ingest: int = 8001
    classifier: int = 8002
    aggregator: int = 8003
    batch: int = 8004
    sim: int = 8009
    redis: int = 6399

    @classmethod
    def from_base(cls, base: int, redis: int) -> Ports:
        """The gateway on `base`, the services on the next four, the simulator on `base + 9`."""
        return cls(base, base + 1, base + 2, base + 3, base + 4, base + 9, redis)

    def by_process(self) -> dict[str, int]:
        return {
            "gateway": self.gateway,
            "camera-ingest": self.ingest,
            "classifier": self.classifier,
            "aggregator": self.aggregator,
            "batch": self.batch,
            "camera-sim": self.sim,
            "redis": self.redis,
        }


def ports_taken(ports: Ports) -> str | None:
    """None when every port is free, else what to tell the user."""
    taken = {name: port for name, port in ports.by_process().items() if not port_free(port)}
    if not taken:
        return None
    numbers = ", ".join(str(port) for port in taken.values())
    names = ", ".join(f"{name} {port}" for name, port in taken.items())
    if len(taken) == len(ports.by_process()):
        what = f"a stack is already running on ports {numbers} ({names}); stop it"
    else:
        these = f"ports {numbers} are" if len(taken) > 1 else f"port {numbers} is"
        what = f"{these} already in use ({names}); stop what holds them"
    other = f"RUN_PORT_BASE={ports.gateway + 100} RUN_REDIS_PORT={ports.redis + 1}"
    return f"{what}, or pick other ports with `make run {other}` (or --port-base, --redis-port)"
