"""Static checks of compose.yaml, the Dockerfiles and .dockerignore (no Docker engine needed).

compose.yaml is validated against the compose-spec schema bundled with check-jsonschema (offline),
then the house rules are asserted: only the gateway publishes a port, the backends sit on an
internal network only the gateway bridges, Redis requires a password that every Redis URL
carries, every service has a healthcheck, every dependency waits for `service_healthy`, every
image runs as a non-root user, and the gateway's variables are settings it has.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gateway.config import Settings
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


REDIS_URLS = {"camera-ingest": "INGEST_REDIS_URL", "aggregator": "AGGREGATOR_REDIS_URL",
              "gateway": "GATEWAY_REDIS_URL"}  # fmt: skip


def test_redis_requires_the_password_from_env(compose):
    redis = compose["services"]["redis"]
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert '--requirepass "$$REDIS_PASSWORD"' in " ".join(redis["command"])
    assert '-a "$$REDIS_PASSWORD"' in " ".join(redis["healthcheck"]["test"])
    for service, variable in REDIS_URLS.items():
        url = compose["services"][service]["environment"][variable]
        assert url.startswith("redis://:${REDIS_PASSWORD:?"), f"{service}: no password in {url}"
        assert "}@${REDIS_HOST:-redis}:6379/" in url


def test_backends_are_reachable_only_inside_the_compose_network(compose):
    networks = compose["networks"]
    assert networks["backend"]["internal"] is True
    assert not networks["public"].get("internal")
    on = {name: set(svc.get("networks", [])) for name, svc in compose["services"].items()}
    assert on["gateway"] == {"backend", "public"}  # the one bridge between the two
    for name in ("redis", "classifier", "aggregator"):
        assert on[name] == {"backend"}, name
    # camera-ingest also reaches out to the cameras it polls; nothing publishes on `cameras`
    assert on["camera-ingest"] == {"backend", "cameras"}
    assert [n for n, members in on.items() if "cameras" in members] == ["camera-ingest"]
    assert [n for n, members in on.items() if "public" in members] == ["gateway"]


def test_the_gateway_keeps_its_keys_and_limits_in_redis(compose):
    gateway = compose["services"]["gateway"]
    assert gateway["depends_on"]["redis"] == {"condition": "service_healthy"}
    env = gateway["environment"]
    assert "GATEWAY_API_KEYS" not in env  # replaced by the key store
    assert env["GATEWAY_BOOTSTRAP_ADMIN_KEY"] == "${GATEWAY_BOOTSTRAP_ADMIN_KEY:-}"
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, sorted(set(env) - fields)  # every variable is a real setting


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


def test_the_gateway_image_writes_no_access_log():
    """An access line holds the query, and the event stream may carry `?api_key=`."""
    cmd = re.search(r"^CMD (\[.*\])", last_stage(dockerfile("gateway")), re.MULTILINE)
    assert cmd is not None
    assert '"--no-access-log"' in cmd.group(1)
    assert '"--no-proxy-headers"' in cmd.group(1)


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
