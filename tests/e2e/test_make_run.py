"""End to end through `make run`'s own launcher (`python -m stack`): real Redis, four real
services, the simulator.

Everything a user does in the README's walkthrough happens here over HTTP at the gateway.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.ports import free_block, port_free
from tests.servers import ROOT, eventually, free_port

pytestmark = pytest.mark.slow
API_KEY = "e2e-admin-key"
LOG_NAMES = {"redis", "classifier", "aggregator", "camera-ingest", "gateway", "camera-sim", "batch"}


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    base: int
    redis_port: int
    var_dir: Path
    log_path: Path
    log_offset: int

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.base}"

    def output(self) -> str:
        """What this run of the launcher printed."""
        return self.log_path.read_bytes()[self.log_offset :].decode(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway, headers={"X-API-Key": API_KEY}, timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def port_block_free(base: int, n: int = 10) -> bool:
    return all(port_free(port) for port in range(base, base + n))


def launcher(var_dir: Path, base: int, redis_port: int) -> tuple[list[str], dict[str, str]]:
    """`make run`'s command and environment: `python -m stack` from ROOT, no PYTHONPATH (make
    sets none, so the launcher must find its own packages)."""
    argv = [sys.executable, "-m", "stack", "--var-dir", str(var_dir), "--port-base", str(base),
            "--redis-port", str(redis_port), "--api-key", API_KEY,
            "--poll-interval", "1"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return argv, env


def start_run(var_dir: Path, base: int, redis_port: int) -> Run:
    argv, env = launcher(var_dir, base, redis_port)
    log_path = var_dir.parent / f"run-{base}.log"
    offset = log_path.stat().st_size if log_path.exists() else 0  # a restart appends
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    run = Run(proc, base, redis_port, var_dir, log_path, offset)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"python -m stack exited with {proc.returncode}:\n{run.output()}")
        return "ready in" in run.output()

    eventually(ready, timeout=180, interval=0.5, what="make run to be ready")
    return run


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = free_block()
    var_dir = tmp_path_factory.mktemp("run") / "var"
    run = start_run(var_dir, base, free_port())
    yield run
    run.stop()


def occupant(client: httpx.Client, space: str) -> str | None:
    resp = client.get(f"/api/v1/spaces/{space}")
    return str(resp.json()["occupant"]) if resp.status_code == 200 else None


def push_folder(client: httpx.Client, camera: str, folder: Path, request_id: str) -> list[str]:
    ids = []
    for photo in sorted(folder.glob("*.jpg")):
        resp = client.put(
            f"/api/v1/cameras/{camera}/frame",
            content=photo.read_bytes(),
            headers={"Content-Type": "image/jpeg", "X-Request-ID": request_id},
        )
        assert resp.status_code == 202, resp.text
        assert resp.headers["location"].startswith("/api/v1/frames/")
        ids.append(resp.json()["frame_id"])
    return ids


def register_push_camera(client: httpx.Client, camera: str, space: str) -> None:
    resp = client.post("/api/v1/cameras", json={"id": camera, "space_id": space, "mode": "push"})
    assert resp.status_code == 201, resp.text


def settled(client: httpx.Client, space: str, label: str, frames: int) -> dict[str, Any]:
    """The space once all `frames` reached the aggregator and it reads `label`."""

    def check() -> dict[str, Any] | None:
        resp = client.get(f"/api/v1/spaces/{space}")
        doc: dict[str, Any] = resp.json() if resp.status_code == 200 else {}
        done = doc.get("observation_count") == frames and doc.get("occupant") == label
        return doc if done else None

    result: dict[str, Any] = eventually(check, timeout=60, what=f"{space} to read {label}")
    return result


def test_pushed_photos_set_the_space_occupant(stack: Run, sample_dir: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    with stack.client() as client:
        for label in ("cat", "dog"):
            camera, space = f"cam-{label}-{suffix}", f"kennel-{label}-{suffix}"
            register_push_camera(client, camera, space)
            sent = push_folder(client, camera, sample_dir / label, f"req-{label}-{suffix}")
            assert len(set(sent)) == len(sent) == 6
            doc = settled(client, space, label, len(sent))
            assert doc["confidence"] > 0.9
            assert set(doc["cameras"]) == {camera}


def test_simulated_cameras_are_polled_into_their_spaces(stack: Run) -> None:
    expected = {"kennel-1": "cat", "kennel-2": "dog", "room-1": "empty"}
    with stack.client() as client:
        for space, label in expected.items():
            eventually(
                lambda s=space, lab=label: occupant(client, s) == lab,
                timeout=90,
                interval=0.5,
                what=f"polled space {space} to read {label}",
            )


def test_polled_spaces_keep_receiving_frames_past_one_photo_cycle(stack: Run) -> None:
    """The simulator cycles through 6 photos; each capture is new bytes, so none is folded into
    an earlier frame, and a polled space never goes stale."""
    photos_per_camera = 6
    with stack.client() as client:

        def past_a_cycle() -> bool:
            doc = client.get("/api/v1/spaces/kennel-1").json()
            return bool(doc["observation_count"] > photos_per_camera + 2)

        eventually(past_a_cycle, timeout=60, interval=0.5, what="kennel-1 to pass a photo cycle")
        doc = client.get("/api/v1/spaces/kennel-1").json()
    assert doc["occupant"] == "cat"
    assert doc["stale"] is False


def test_request_id_reaches_every_service_log(stack: Run, sample_dir: Path) -> None:
    request_id = f"trace-{uuid.uuid4().hex}"
    suffix = uuid.uuid4().hex[:8]
    with stack.client() as client:
        register_push_camera(client, f"cam-trace-{suffix}", f"trace-{suffix}")
        photo = sorted((sample_dir / "dog").glob("*.jpg"))[0]
        resp = client.put(
            f"/api/v1/cameras/cam-trace-{suffix}/frame",
            content=photo.read_bytes(),
            headers={"Content-Type": "image/jpeg", "X-Request-ID": request_id},
        )
        assert resp.headers["x-request-id"] == request_id
    logs = stack.var_dir / "log"
    for service in ("gateway", "camera-ingest", "classifier", "aggregator"):
        eventually(
            lambda s=service: request_id in (logs / f"{s}.log").read_text(),
            timeout=30,
            what=f"{request_id} in the {service} log",
        )


def test_gateway_refuses_requests_without_a_key(stack: Run) -> None:
    resp = httpx.get(f"{stack.gateway}/api/v1/spaces", timeout=10)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_standard_inference_client_works_through_the_gateway(stack: Run, sample_dir: Path) -> None:
    """tritonclient speaks the Open Inference Protocol v2 at /api/v2, binary tensors included."""
    import numpy as np
    import tritonclient.http as triton

    from classifier.preprocess import preprocess

    client = triton.InferenceServerClient(url=f"127.0.0.1:{stack.base}/api")
    headers = {"X-API-Key": API_KEY}
    model = "efficientnet-lite0-pets"
    assert client.is_server_live(headers=headers)
    assert client.is_model_ready(model, headers=headers)
    photo = sorted((sample_dir / "dog").glob("*.jpg"))[0]
    batch = preprocess(photo.read_bytes(), max_pixels=40_000_000)[np.newaxis]
    images = triton.InferInput("images", list(batch.shape), "FP32")
    images.set_data_from_numpy(batch, binary_data=True)
    wanted = [triton.InferRequestedOutput("probabilities", binary_data=True)]
    result = client.infer(model, [images], outputs=wanted, headers=headers)
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (1, 3)
    assert int(probabilities[0].argmax()) == 1  # (cat, dog, other): a dog
    client.close()


@pytest.mark.parametrize("offset", [0, 1, 2, 3], ids=["gateway", "ingest", "classifier", "agg"])
def test_every_service_has_health_readiness_metrics_and_docs(stack: Run, offset: int) -> None:
    url = f"http://127.0.0.1:{stack.base + offset}"
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE " in metrics.text
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["paths"]


def test_every_process_logs_to_a_file_named_after_it(stack: Run) -> None:
    logs = {path.stem for path in (stack.var_dir / "log").glob("*.log")}
    assert logs == LOG_NAMES


def test_a_second_run_on_the_same_ports_refuses_before_starting_anything(
    stack: Run, tmp_path: Path
) -> None:
    argv, env = launcher(tmp_path / "var", stack.base, stack.redis_port)
    second = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    said = (second.stdout + second.stderr).decode()
    assert second.returncode != 0
    assert f"a stack is already running on ports {stack.base}, " in said
    assert f"(gateway {stack.base}, camera-ingest {stack.base + 1}, " in said
    assert f"redis {stack.redis_port})" in said
    assert "pick other ports" in said
    assert not (tmp_path / "var").exists(), "the second run started something"
    with stack.client() as client:
        assert client.get("/readyz").status_code == 200


def test_ctrl_c_stops_everything_and_a_second_run_keeps_the_state(
    stack: Run, sample_dir: Path
) -> None:
    """Runs last in this module: it stops the shared stack and leaves a restarted one behind."""
    suffix = uuid.uuid4().hex[:8]
    with stack.client() as client:
        register_push_camera(client, f"cam-keep-{suffix}", f"keep-{suffix}")
        sent = push_folder(client, f"cam-keep-{suffix}", sample_dir / "cat", f"keep-{suffix}")

        def all_delivered() -> bool:
            resp = client.get(f"/api/v1/spaces/keep-{suffix}")
            return resp.status_code == 200 and resp.json()["observation_count"] == len(sent)

        eventually(all_delivered, timeout=60, what="every frame to reach the aggregator")
        before = client.get(f"/api/v1/spaces/keep-{suffix}").json()

    assert stack.stop() == 0
    assert stack.output().rstrip().endswith("stopped")
    assert port_block_free(stack.base, 4), "a service outlived Ctrl-C"
    assert port_free(stack.base + 9), "the camera simulator outlived Ctrl-C"
    assert port_free(stack.redis_port), "redis outlived Ctrl-C"

    restarted = start_run(stack.var_dir, stack.base, free_port())
    # the module fixture stops whichever run is current
    stack.proc, stack.redis_port = restarted.proc, restarted.redis_port
    stack.log_offset = restarted.log_offset
    with stack.client() as client:
        after = client.get(f"/api/v1/spaces/keep-{suffix}").json()
        camera = client.get(f"/api/v1/cameras/cam-keep-{suffix}")
    assert after["occupant"] == "cat"
    assert after["observation_count"] == before["observation_count"]
    assert camera.status_code == 200


def test_no_secret_reaches_any_log_or_error_body(stack: Run, sample_dir: Path) -> None:
    """A camera password and an issued API key, used through the gateway in good and failing
    requests, appear in no service's log file and in no response body but the one that issues
    the key."""
    suffix = uuid.uuid4().hex[:8]
    password = f"pw-{uuid.uuid4().hex}"
    sim = f"http://127.0.0.1:{stack.base + 9}"
    missing = f"127.0.0.1:{stack.base + 9}/cameras/nope/snapshot.jpg"  # the simulator: 404
    bodies: list[str] = []
    with stack.client() as client:
        camera = {
            "space_id": f"secret-{suffix}",
            "mode": "poll",
            "snapshot_url": f"http://watcher:{password}@127.0.0.1:{stack.base + 9}/cameras/"
            "kennel-1/snapshot.jpg",
        }
        bad = {**camera, "snapshot_url": f"http://watcher:{password}@10.0.0.1/x.jpg"}
        missing_camera = {**camera, "snapshot_url": f"http://u:{password}@{missing}"}
        calls: list[tuple[str, str, dict[str, Any] | None]] = [
            ("PUT", f"/api/v1/cameras/cam-secret-{suffix}", camera),
            ("GET", f"/api/v1/cameras/cam-secret-{suffix}", None),
            ("GET", "/api/v1/cameras", None),
            ("PUT", f"/api/v1/cameras/cam-bad-{suffix}", bad),  # refused: a private address
            ("PUT", f"/api/v1/cameras/cam-404-{suffix}", missing_camera),
        ]
        for method, path, body in calls:
            resp = client.request(method, path, json=body)
            assert resp.status_code < 500, resp.text
            bodies.append(resp.text)
        issued = client.post("/api/v1/keys", json={"role": "viewer", "label": "e2e"})
        assert issued.status_code == 201, issued.text
        key = issued.json()["secret"]
        as_viewer = {"X-API-Key": key}
        for method, path in (
            ("GET", "/api/v1/spaces"),
            ("DELETE", f"/api/v1/cameras/cam-secret-{suffix}"),  # refused: a viewer key
            ("GET", "/api/v1/nowhere"),
        ):
            resp = client.request(method, path, headers=as_viewer)
            bodies.append(resp.text)
        bodies.append(client.get("/api/v1/spaces", headers={"X-API-Key": key + "x"}).text)
        eventually(
            lambda: (client.get(f"/api/v1/cameras/cam-404-{suffix}").json()["status"] or {}).get(
                "last_error"
            ),
            timeout=30,
            what="the camera whose snapshot answers 404 to have failed a poll",
        )
        bodies.append(client.get(f"/api/v1/cameras/cam-404-{suffix}").text)
        assert sim  # the simulator served the snapshots above
    logs = {p.name: p.read_text() for p in (stack.var_dir / "log").glob("*.log")}
    for secret in (password, key):
        leaked = [name for name, text in logs.items() if secret in text]
        assert not leaked, f"a secret is in {leaked}"
        assert not [b for b in bodies if secret in b], "a secret is in a response body"
