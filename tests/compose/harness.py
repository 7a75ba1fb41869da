"""The running compose stack, as tests/compose/ drives it: the published gateway, the compose
command (`docker compose` or docker-compose, as tools/compose/run.sh found it), containers.

tools/compose/run.sh starts the stack and exports SHELTER_COMPOSE, COMPOSE_PROJECT_NAME,
GATEWAY_PORT and GATEWAY_BOOTSTRAP_ADMIN_KEY; these tests only run under it (`make test-compose`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stack.processes import ROOT, eventually
from tests.servers import frames, unique


def compose_command() -> list[str]:
    return shlex.split(os.environ.get("SHELTER_COMPOSE", "docker compose"))


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, f"{shlex.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Stack:
    gateway_url: str
    admin_key: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"X-API-Key": self.admin_key}
        self.http = httpx.Client(base_url=self.gateway_url, headers=headers, timeout=15)

    def compose(self, *args: str, tag: str | None = None, timeout: float = 300) -> str:
        env = {"IMAGE_TAG": tag} if tag else None
        return run([*compose_command(), *args], env=env, timeout=timeout)

    def containers(self, service: str) -> list[str]:
        """Ids of the service's running containers."""
        project = os.environ["COMPOSE_PROJECT_NAME"]
        out = run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                   "--filter", f"label=com.docker.compose.service={service}"])  # fmt: skip
        return out.split()

    def label(self, container: str, name: str) -> str:
        return run(
            ["docker", "inspect", "-f", f'{{{{index .Config.Labels "{name}"}}}}', container]
        ).strip()

    def predictions_served(self, container: str) -> int:
        """POST /v1/predict requests this classifier replica answered, from its own /metrics."""
        url = "http://127.0.0.1:8002/metrics"
        script = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode())"
        text = run(["docker", "exec", container, "python", "-c", script], timeout=30)
        labels = r'(?=[^}]*method="POST")(?=[^}]*route="/v1/predict")[^}]*'
        pattern = r"^http_requests_total\{" + labels + r"\} (\S+)$"
        return int(sum(float(v) for v in re.findall(pattern, text, re.MULTILINE)))

    def camera(self, camera_id: str, space_id: str) -> None:
        body = {"space_id": space_id, "mode": "push"}
        response = self.http.put(f"/api/v1/cameras/{camera_id}", json=body)
        assert response.status_code in (200, 201), response.text

    def push(self, camera_id: str, data: bytes) -> httpx.Response:
        headers = {"Content-Type": "image/jpeg", "Idempotency-Key": uuid.uuid4().hex}
        return self.http.put(f"/api/v1/cameras/{camera_id}/frame", content=data, headers=headers)

    def outbox(self) -> dict[str, Any]:
        response = self.http.get("/api/v1/outbox")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def observations(self, space_id: str) -> int | None:
        response = self.http.get(f"/api/v1/spaces/{space_id}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return int(response.json()["observation_count"])

    def wait_delivered(self, expected: dict[str, int], timeout: float = 240) -> None:
        """Outbox empty, nothing dead, and every space counted exactly as many frames as sent."""

        def drained() -> bool:
            state = self.outbox()
            return bool(state["depth"] == 0 and state["pending"] == 0)

        eventually(drained, timeout=timeout, interval=1, what="the outbox to drain")
        assert self.outbox()["dead"] == 0
        assert {space: self.observations(space) for space in expected} == expected


@dataclass
class Streamer:
    """Pushes `per_camera` frames to each of `cameras` new cameras from a thread, while a test
    disturbs the stack; records every answer, so the test knows which frames were accepted."""

    stack: Stack
    sample_dir: Path
    prefix: str
    cameras: int = 20
    per_camera: int = 10
    statuses: list[int] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)  # space -> frames answered 202
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __post_init__(self) -> None:
        self.spaces = {unique(f"{self.prefix}-cam{i}"): unique(f"{self.prefix}-space{i}")
                       for i in range(self.cameras)}  # fmt: skip
        for camera, space in self.spaces.items():
            self.stack.camera(camera, space)
            self.accepted[space] = 0
        self.data = frames(self.sample_dir, self.cameras * self.per_camera, mark=11)

    def _run(self, pause_s: float, tolerate_errors: bool) -> None:
        try:
            self._push_all(pause_s, tolerate_errors)
        except BaseException as exc:  # re-raised by join(), in the test's thread
            self._error = exc

    def _push_all(self, pause_s: float, tolerate_errors: bool) -> None:
        data = iter(self.data)
        for _ in range(self.per_camera):
            for camera, space in self.spaces.items():
                try:
                    status = self.stack.push(camera, next(data)).status_code
                except httpx.TransportError:
                    if not tolerate_errors:
                        raise
                    status = 0
                self.statuses.append(status)
                if status == 202:
                    self.accepted[space] += 1
                threading.Event().wait(pause_s)

    def start(self, *, pause_s: float = 0.05, tolerate_errors: bool = False) -> Streamer:
        self._thread = threading.Thread(target=self._run, args=(pause_s, tolerate_errors))
        self._thread.start()
        return self

    def sent(self) -> int:
        return len(self.statuses)

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(timeout=300)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error
