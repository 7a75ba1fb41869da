"""Every third-party package a service imports is pinned in that service's own requirements.txt.

The dev venv holds every service's dependencies at once, so a service that imports a package it
does not pin still runs under `make run` and the tests, and crashes only in its own container
(the aggregator imported httpx without pinning it). This reads each service's imports (ast, no
import side effects) and maps them to distributions with importlib.metadata.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.parent for p in (ROOT / "services").glob("*/requirements.txt"))


def _pinned(requirements: Path) -> set[str]:
    names: set[str] = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(line.split("==")[0].split("[")[0].strip().lower().replace("_", "-"))
    return names


def _imported(package: Path) -> set[str]:
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_every_imported_distribution_is_pinned(service: Path) -> None:
    package = service / service.name.replace("-", "_")
    own = {package.name}
    distributions = packages_distributions()
    missing: dict[str, list[str]] = {}
    for module in _imported(package) - own - set(sys.stdlib_module_names):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        assert dists, f"{service.name} imports {module!r}, which no installed distribution provides"
        if not dists & _pinned(service / "requirements.txt"):
            missing[module] = sorted(dists)
    assert not missing, f"{service.name} imports these without pinning them: {missing}"
