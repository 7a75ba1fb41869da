"""Ports: the ones `make run` uses, whether they are free, and a free one for a test."""

from __future__ import annotations

import socket
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
