"""The Kubernetes manifests (deploy/k8s), rendered offline and checked, in `make test`.

Each overlay is rendered by tests/k8s/kustomize.py; every object is validated against the
Kubernetes schemas bundled in `kubernetes-validate` (strict: an unknown field fails), the KEDA
objects against KEDA's CRD schemas vendored in deploy/k8s/schemas (their source and version in
their header). Then the house rules: probes, requests, a PodDisruptionBudget per Deployment,
network policies, the KEDA triggers on the real stream names, every variable a real setting.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import kubernetes_validate.utils  # type: ignore[import-untyped]
import pytest
from ruamel.yaml import YAML

from aggregator.config import Settings as AggregatorSettings
from batch import chunks
from batch.config import Settings as BatchSettings
from camera_ingest import outbox
from camera_ingest.config import Settings as IngestSettings
from classifier.config import Settings as ClassifierSettings
from gateway.config import Settings as GatewaySettings
from tests.k8s.kustomize import Doc, KustomizeError, apply_op, load_all, render
from tests.servers import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["local", "production"]
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still supported upstream when this was written
PORTS = {"gateway": 8000, "camera-ingest": 8001, "classifier": 8002, "aggregator": 8003,
         "batch": 8004}  # fmt: skip
SETTINGS: dict[str, tuple[str, type[Any]]] = {
    "gateway": ("GATEWAY_", GatewaySettings), "camera-ingest": ("INGEST_", IngestSettings),
    "classifier": ("CLASSIFIER_", ClassifierSettings),
    "aggregator": ("AGGREGATOR_", AggregatorSettings), "batch": ("BATCH_", BatchSettings),
    "batch-worker": ("BATCH_", BatchSettings),
}  # fmt: skip
HELPER_VARS = {"REDIS_PASSWORD", "REDIS_HOST", "REDIS_PORT"}  # composed into the Redis URLs


@pytest.fixture(scope="module", autouse=True)
def cached_schemas() -> Iterator[None]:
    """kubernetes-validate reads its bundled schema files on every call (MBs of JSON): read each
    once for this module, as the command-line tool would over one file of many objects."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    yield
    kubernetes_validate.utils.schema_contents = original


@functools.cache
def _rendered(folder: str) -> list[Doc]:
    return render(K8S / folder)


def rendered_copy(folder: str) -> list[Doc]:
    return copy.deepcopy(_rendered(folder))


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[Doc]:
    return rendered_copy(f"overlays/{request.param}")


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def keda_schema(kind: str) -> dict[str, Any]:
    (crd,) = load_all(K8S / "schemas" / f"keda.sh_{kind.lower()}s.yaml")
    assert crd["spec"]["names"]["kind"] == kind
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def test_every_object_matches_its_schema(rendered):
    keda = {kind: keda_schema(kind) for kind in ("ScaledObject", "TriggerAuthentication")}
    for doc in rendered:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, keda[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schemas_do_catch_mistakes():
    """A typo'd field or a wrong type fails: the validation is not vacuous."""
    deployment = of_kind(rendered_copy("overlays/local"), "Deployment")["gateway"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    scaled = of_kind(rendered_copy("base"), "ScaledObject")["classifier"]
    scaled["spec"]["minReplicaCount"] = "zero"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, keda_schema("ScaledObject"))


def test_overlays_set_their_namespace_and_images():
    expected = [("local", "shelter-watch-local", "shelter-watch/"),
                ("production", "shelter-watch", "registry.example.org/")]  # fmt: skip
    for overlay, namespace, prefix in expected:
        docs = rendered_copy(f"overlays/{overlay}")
        assert of_kind(docs, "Namespace").keys() == {namespace}
        assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
            namespace
        }
        for name, deployment in of_kind(docs, "Deployment").items():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["image"].startswith(prefix), (overlay, name, container["image"])
            assert not container["image"].endswith(":latest")


def containers(docs: list[Doc]) -> dict[str, Doc]:
    out = {}
    for kind in ("Deployment", "StatefulSet"):
        for name, doc in of_kind(docs, kind).items():
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            out[name] = container
    return out


def test_deployments_probe_request_and_run_as_non_root(rendered):
    for name, deployment in of_kind(rendered, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["containers"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        if name == "batch-worker":  # no HTTP port: a worker only consumes the chunk queue
            assert "readinessProbe" not in container
            continue
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[name]}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        # the gateway's /readyz asks every upstream, and the classifier may be at zero replicas
        ready = "/healthz" if name == "gateway" else "/readyz"
        assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}, name


def test_every_variable_is_a_setting_of_its_service(rendered):
    for name, container in containers(rendered).items():
        if name == "redis":
            continue
        prefix, settings = SETTINGS[name]
        fields = {prefix + field.upper() for field in settings.model_fields}
        names = {env["name"] for env in container["env"]}
        assert names - HELPER_VARS <= fields, (name, sorted(names - HELPER_VARS - fields))
        redis_url = f"{prefix}REDIS_URL"
        (url,) = [env["value"] for env in container["env"] if env["name"] == redis_url]
        assert url.startswith("redis://:$(REDIS_PASSWORD)@$(REDIS_HOST):$(REDIS_PORT)/")


def test_each_service_has_its_own_redis_db(rendered):
    dbs = {}
    for name, container in containers(rendered).items():
        for env in container.get("env", []):
            if env["name"].endswith("_REDIS_URL"):
                dbs[name] = env["value"].rsplit("/", 1)[1]
    assert dbs == {"gateway": "2", "camera-ingest": "0", "classifier": "3", "aggregator": "1",
                   "batch": "4", "batch-worker": "4"}  # fmt: skip


def test_every_deployment_has_a_service_and_a_disruption_budget(rendered):
    deployments = of_kind(rendered, "Deployment")
    budgets = of_kind(rendered, "PodDisruptionBudget")
    services = of_kind(rendered, "Service")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (budget,) = [b for b in budgets.values()
                     if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]  # fmt: skip
        assert budget["spec"] == {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}
        if name in PORTS:
            assert services[name]["spec"]["selector"].items() <= labels.items()
            assert services[name]["spec"]["ports"][0]["port"] == PORTS[name]


def test_secrets_come_from_one_secret(rendered):
    refs = set()
    for container in containers(rendered).values():
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
    assert refs == {("shelter-watch", "redis-password"), ("shelter-watch", "bootstrap-admin-key")}
    secrets = of_kind(rendered, "Secret")
    namespace = of_kind(rendered, "Namespace")
    if "shelter-watch" in namespace:  # production: the operator creates it, never the repository
        assert secrets == {}
    else:
        assert set(secrets["shelter-watch"]["stringData"]) == {k for _, k in refs}


def allowed_from(policy: Doc) -> list[Any]:
    return [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [None])]


def test_only_the_gateway_is_open_and_redis_only_to_services(rendered):
    policies = of_kind(rendered, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    open_to_all = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                   for p in policies.values() if None in allowed_from(p)}  # fmt: skip
    assert open_to_all == {"gateway"}
    redis_pods = {"matchLabels": {"app.kubernetes.io/name": "redis"}}
    (redis,) = [p for p in policies.values() if p["spec"]["podSelector"] == redis_pods]
    services = {"gateway", "camera-ingest", "classifier", "aggregator", "batch", "batch-worker"}
    pods, keda = allowed_from(redis)
    assert set(pods["podSelector"]["matchExpressions"][0]["values"]) == services
    assert keda["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}
    assert redis["spec"]["ingress"][0]["ports"] == [{"port": 6379, "protocol": "TCP"}]


def test_keda_scales_the_classifier_and_batch_workers_from_zero_on_the_real_streams(rendered):
    scaled = of_kind(rendered, "ScaledObject")
    deployments = of_kind(rendered, "Deployment")
    expected = {"classifier": (outbox.STREAM, outbox.GROUP, "0"),
                "batch-worker": (chunks.STREAM, chunks.GROUP, "4")}  # fmt: skip
    assert scaled.keys() == expected.keys()
    auth = of_kind(rendered, "TriggerAuthentication")
    for name, (stream, group, db) in expected.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        assert name in deployments
        assert spec["minReplicaCount"] == 0 < spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis-streams"
        meta = trigger["metadata"]
        assert (meta["stream"], meta["consumerGroup"], meta["databaseIndex"]) == (stream, group, db)
        assert int(meta["streamLength"]) > 0
        assert meta["activationLagCount"] == "0"
        assert trigger["authenticationRef"]["name"] in auth


def test_the_gateway_scales_on_cpu(rendered):
    hpa = of_kind(rendered, "HorizontalPodAutoscaler")["gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "gateway"}  # fmt: skip
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_the_images_commands_match_the_dockerfiles(rendered):
    for name, container in containers(rendered).items():
        if name in PORTS:
            text = (ROOT / "services" / name / "Dockerfile").read_text()
            cmd = re.search(r"^CMD (\[.*\])", text, re.MULTILINE)
            assert cmd is not None
            assert YAML(typ="safe").load(cmd.group(1)) == container["command"], name


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(KustomizeError, match="configMapGenerator"):
        render(tmp_path)
    doc: Doc = {"spec": {"items": [1, 2]}}
    apply_op(doc, {"op": "add", "path": "/spec/items/-", "value": 3})
    apply_op(doc, {"op": "replace", "path": "/spec/items/0", "value": 0})
    apply_op(doc, {"op": "remove", "path": "/spec/items/1"})
    assert doc == {"spec": {"items": [0, 3]}}
    with pytest.raises(KustomizeError, match="no such path"):
        apply_op(doc, {"op": "replace", "path": "/spec/missing", "value": 1})
