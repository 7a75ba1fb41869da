"""Static checks of compose.yaml, the Dockerfiles and .dockerignore (no Docker engine needed).

compose.yaml is validated against the compose-spec schema bundled with check-jsonschema (offline),
then the house rules are asserted: only the gateway publishes a port, the backends sit on an
internal network only the gateway bridges, Redis requires a password that every Redis URL
carries, every service has a healthcheck, a service waits (for `service_healthy`) only on Redis,
never on another service (camera-ingest's outbox absorbs their absence), the classifier replicas
sit behind one balancer every client uses, every image runs as a non-root user, the build
stages trust certs/ and keep the pinned requirements' layer cached, and every variable is a
setting of its service. The running stack is tests/compose/test_stack.py (`make test-compose`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from aggregator.config import Settings as AggregatorSettings
from batch.config import Settings as BatchSettings
from camera_ingest.config import Settings as IngestSettings
from classifier.config import Settings as ClassifierSettings
from gateway.config import Settings as GatewaySettings
from tests.servers import ROOT

COMPOSE = ROOT / "compose.yaml"
SERVICES = {"camera-ingest": 8001, "classifier": 8002, "aggregator": 8003, "gateway": 8000,
            "batch": 8004}  # fmt: skip
PACKAGES = {"camera-ingest": "camera_ingest", "classifier": "classifier",
            "aggregator": "aggregator", "gateway": "gateway", "batch": "batch"}  # fmt: skip
SETTINGS: dict[str, tuple[str, Any]] = {
    "gateway": ("GATEWAY_", GatewaySettings), "camera-ingest": ("INGEST_", IngestSettings),
    "classifier": ("CLASSIFIER_", ClassifierSettings),
    "aggregator": ("AGGREGATOR_", AggregatorSettings), "batch": ("BATCH_", BatchSettings),
}  # fmt: skip


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
    assert set(compose["services"]) == {"redis", "classifier-lb", *SERVICES}


def test_only_the_gateway_publishes_a_port(compose):
    publishing = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert publishing == {"gateway"}
    assert compose["services"]["gateway"]["ports"] == ["${GATEWAY_PORT:-8000}:8000"]


def test_every_service_has_a_healthcheck(compose):
    for name, svc in compose["services"].items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_services_wait_only_for_redis(compose):
    """Each service needs its Redis to start; none waits for another service: camera-ingest
    takes frames (202) while the classifier or the aggregator is away, and the gateway answers
    503 for an upstream that is not there yet, so waiting would only refuse cameras at boot."""
    for name in SERVICES:
        deps = compose["services"][name].get("depends_on")
        assert deps == {"redis": {"condition": "service_healthy"}}, name
    assert "depends_on" not in compose["services"]["classifier-lb"]


def test_redis_is_durable_on_a_named_volume(compose):
    redis = compose["services"]["redis"]
    assert redis["build"]["context"] == "deploy/compose/redis"  # Debian's redis-server
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--dir /data" in command
    volume, path = redis["volumes"][0].split(":")
    assert (volume, path) == ("redis-data", "/data")
    assert volume in compose["volumes"]


def test_state_lives_on_named_volumes(compose):
    mounts = {"camera-ingest": ("ingest-frames", "INGEST_ARCHIVE_DIR", "/data/frames"),
              "classifier": ("classifier-store", "CLASSIFIER_STORE_DIR", "/data/store"),
              "batch": ("batch-data", "BATCH_DATA_DIR", "/data/batch")}  # fmt: skip
    for service, (volume, variable, path) in mounts.items():
        svc = compose["services"][service]
        # the classifier's replicas start at once: its volume is the store itself, as two
        # containers filling one fresh volume from the image's /data race (mkdir: file exists)
        where = path if service == "classifier" else "/data"
        assert svc["volumes"] == [f"{volume}:{where}"], service
        assert svc["environment"][variable] == path
        assert volume in compose["volumes"]
    assert "/models" in dockerfile("classifier")  # the models are in the image


@pytest.mark.parametrize(
    ("service", "variable", "db"),
    [("camera-ingest", "INGEST_REDIS_URL", "0"), ("aggregator", "AGGREGATOR_REDIS_URL", "1"),
     ("gateway", "GATEWAY_REDIS_URL", "2"), ("classifier", "CLASSIFIER_REDIS_URL", "3"),
     ("batch", "BATCH_REDIS_URL", "4")],
)  # fmt: skip
def test_each_service_has_its_own_redis_db(compose, service, variable, db):
    url = compose["services"][service]["environment"][variable]
    assert url.endswith(f"/${{{variable.split('_')[0]}_REDIS_DB:-{db}}}")


REDIS_URLS = {"camera-ingest": "INGEST_REDIS_URL", "aggregator": "AGGREGATOR_REDIS_URL",
              "gateway": "GATEWAY_REDIS_URL", "classifier": "CLASSIFIER_REDIS_URL",
              "batch": "BATCH_REDIS_URL"}  # fmt: skip


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
    for name in ("redis", "classifier", "classifier-lb", "aggregator"):
        assert on[name] == {"backend"}, name
    # camera-ingest reaches out to the cameras it polls, batch to a job's URLs
    assert on["camera-ingest"] == on["batch"] == {"backend", "outbound"}
    assert sorted(n for n, members in on.items() if "outbound" in members) == [
        "batch",
        "camera-ingest",
    ]
    assert [n for n, members in on.items() if "public" in members] == ["gateway"]


def test_every_variable_is_a_setting_of_its_service(compose):
    for service, (prefix, settings) in SETTINGS.items():
        env = compose["services"][service]["environment"]
        fields = {prefix + name.upper() for name in settings.model_fields}
        assert set(env) <= fields, (service, sorted(set(env) - fields))


def test_the_gateway_keeps_its_keys_and_limits_in_redis(compose):
    env = compose["services"]["gateway"]["environment"]
    assert "GATEWAY_API_KEYS" not in env  # replaced by the key store
    assert env["GATEWAY_BOOTSTRAP_ADMIN_KEY"] == "${GATEWAY_BOOTSTRAP_ADMIN_KEY:-}"


def test_every_client_reaches_the_classifier_replicas_through_the_balancer(compose):
    services = compose["services"]
    assert services["classifier"]["deploy"]["replicas"] == "${CLASSIFIER_REPLICAS:-2}"
    assert "container_name" not in services["classifier"]  # it could not be scaled
    urls = {"camera-ingest": "INGEST_CLASSIFIER_URL", "gateway": "GATEWAY_CLASSIFIER_URL",
            "batch": "BATCH_CLASSIFIER_URL"}  # fmt: skip
    for service, variable in urls.items():
        assert services[service]["environment"][variable] == "http://classifier-lb:8002"
    cfg = (ROOT / "deploy/compose/classifier-lb/haproxy.cfg").read_text()
    assert re.search(r"^\s*server-template replica \d+ classifier:8002$", cfg, re.MULTILINE)
    assert re.search(r"^\s*balance roundrobin$", cfg, re.MULTILINE)  # per request
    assert "nameserver dns 127.0.0.11:53" in cfg  # Docker's DNS: replicas found as they come
    assert "option httpchk GET /readyz" in cfg


def test_every_variable_has_a_default_or_says_it_is_required():
    for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}", COMPOSE.read_text()):
        name, rest = match.groups()
        assert rest.startswith((":-", ":?")), f"${{{name}}} has no default"


def stages(text: str) -> dict[str, str]:
    parts = re.split(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_rules(service):
    text = dockerfile(service)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+", text, re.MULTILINE)) >= 2
    runtime = last_stage(text)
    users = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert users, f"{service}: runtime stage has no USER"
    assert users[-1] == "10001:10001"  # numeric, so Kubernetes can check runAsNonRoot
    assert re.search(r"^HEALTHCHECK .*\n?.*urllib\.request.*/healthz", runtime, re.MULTILINE)
    port = SERVICES[service]
    assert f"EXPOSE {port}" in runtime
    cmd = re.search(r"^CMD (\[.*\])", runtime, re.MULTILINE)
    assert cmd is not None
    assert f'"{PACKAGES[service]}.main:create_app", "--factory"' in cmd.group(1)
    assert f'"--port", "{port}"' in cmd.group(1)
    assert "LABEL org.opencontainers.image.revision=${REVISION}" in runtime


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_build_stages_trust_the_extra_certificates_and_cache_the_pins(service):
    for name, stage in stages(dockerfile(service)).items():
        if "pip install" not in stage:
            continue
        assert "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in stage, name
        copy = stage.index("COPY certs/ /usr/local/share/ca-certificates/extra/")
        assert copy < stage.index("update-ca-certificates") < stage.index("pip install"), name
    builder = stages(dockerfile(service))["builder"]
    # the third-party pins install before the kit is copied: editing the kit keeps that layer
    assert builder.index("pip install -r /tmp/third-party.txt") < builder.index("COPY libs/")
    assert "pip check" in builder


def test_the_certificates_folder_is_in_the_context_but_not_in_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "certs/*" in ignored
    assert "!certs/README.md" in ignored
    assert "certs" not in (ROOT / ".dockerignore").read_text().split()


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
