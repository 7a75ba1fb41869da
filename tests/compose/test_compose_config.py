"""Static checks of compose.yaml, the Dockerfiles and .dockerignore (no Docker engine needed).

compose.yaml is validated against the compose-spec schema bundled with check-jsonschema (offline),
then the house rules are asserted: only the gateway publishes a port, every service has a
healthcheck, every dependency waits for `service_healthy`, every image runs as a non-root user.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.servers import ROOT

COMPOSE = ROOT / "compose.yaml"
SERVICES = {"camera-ingest": 8001, "classifier": 8002, "aggregator": 8003, "gateway": 8000}
PACKAGES = {"camera-ingest": "camera_ingest", "classifier": "classifier",
            "aggregator": "aggregator", "gateway": "gateway"}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return loaded


def dockerfile(service: str) -> str:
    return (ROOT / "services" / service / "Dockerfile").read_text()


def last_stage(text: str) -> str:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]


def test_compose_matches_the_compose_spec():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_present(compose):
    assert set(compose["services"]) == {"redis", *SERVICES}


def test_only_the_gateway_publishes_a_port(compose):
    publishing = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert publishing == {"gateway"}
    assert compose["services"]["gateway"]["ports"] == ["${GATEWAY_PORT:-8000}:8000"]


def test_every_service_has_a_healthcheck(compose):
    for name, svc in compose["services"].items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_every_dependency_waits_for_healthy(compose):
    edges = 0
    for name, svc in compose["services"].items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert isinstance(spec, dict), f"{name} -> {dep} is a bare list entry"
            assert spec.get("condition") == "service_healthy", f"{name} -> {dep}"
            edges += 1
    gateway_deps = set(compose["services"]["gateway"]["depends_on"])
    assert {"camera-ingest", "classifier", "aggregator"} <= gateway_deps
    assert {"redis", "classifier", "aggregator"} <= set(
        compose["services"]["camera-ingest"]["depends_on"]
    )
    assert edges >= 8


def test_redis_is_durable_on_a_named_volume(compose):
    redis = compose["services"]["redis"]
    assert redis["image"] == "${REDIS_IMAGE:-redis:7.4-alpine}"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


@pytest.mark.parametrize(
    ("service", "variable", "db"),
    [("camera-ingest", "INGEST_REDIS_URL", "0"), ("aggregator", "AGGREGATOR_REDIS_URL", "1"),
     ("gateway", "GATEWAY_REDIS_URL", "2")],
)  # fmt: skip
def test_each_service_has_its_own_redis_db(compose, service, variable, db):
    url = compose["services"][service]["environment"][variable]
    assert url.endswith(f"/${{{variable.split('_')[0]}_REDIS_DB:-{db}}}")


def test_every_variable_has_a_default_or_says_it_is_required():
    for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}", COMPOSE.read_text()):
        name, rest = match.groups()
        assert rest.startswith((":-", ":?")), f"${{{name}}} has no default"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_rules(service):
    text = dockerfile(service)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+", text, re.MULTILINE)) >= 2
    runtime = last_stage(text)
    users = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert users, f"{service}: runtime stage has no USER"
    assert users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*urllib\.request.*/healthz", runtime, re.MULTILINE)
    port = SERVICES[service]
    assert f"EXPOSE {port}" in runtime
    cmd = re.search(r"^CMD (\[.*\])", runtime, re.MULTILINE)
    assert cmd is not None
    assert f'"{PACKAGES[service]}.main:create_app", "--factory"' in cmd.group(1)
    assert f'"--port", "{port}"' in cmd.group(1)


def test_classifier_runtime_has_no_build_only_packages():
    runtime = last_stage(dockerfile("classifier"))
    assert "requirements-build" not in runtime
    assert "COPY --from=model /models /models" in runtime
    assert "CLASSIFIER_MODEL_DIR=/models" in runtime
    pinned = (ROOT / "services/classifier/requirements.txt").read_text().lower()
    names = {line.split("==")[0].strip() for line in pinned.splitlines() if "==" in line}
    assert not names & {"torch", "onnx", "scikit-learn"}
    assert "build_model.py --out /models" in dockerfile("classifier")


def test_dockerignore_keeps_the_context_small():
    entries = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "build", "var", ".git", "tests"} <= entries
