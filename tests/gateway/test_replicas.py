"""Two gateway processes (real uvicorn, as `make run` starts one) sharing one Redis: one key has
one budget across both, and a revocation through one is in force on both within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import ADMIN, as_env, assert_problem, gateway_settings, issue
from tests.servers import RedisServer, ServiceProcess, eventually

pytestmark = pytest.mark.slow
BUDGET = 40


@pytest.fixture(scope="module")
def replicas(
    upstreams: dict[str, str], gateway_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    fields = gateway_settings(upstreams, gateway_redis, "gw-replicas:",
                              rate_viewer_rps=0.001, rate_viewer_burst=BUDGET)  # fmt: skip
    logs = tmp_path_factory.mktemp("replicas")
    pair = [ServiceProcess("gateway", as_env(fields), log_path=logs / f"gateway-{n}.log")
            for n in ("a", "b")]  # fmt: skip
    for gateway in pair:
        gateway.spawn()
    try:
        for gateway in pair:
            gateway.wait_ready(timeout=60)
        yield pair[0], pair[1]
    finally:
        for gateway in pair:
            gateway.stop()


def test_one_key_one_budget_across_two_processes(replicas):
    a, b = replicas
    viewer = issue(a.url, "viewer")["secret"]
    served = {a.url: 0, b.url: 0}
    with httpx.Client(timeout=10) as client:
        for i in range(BUDGET * 2):  # a bounded number of requests, alternating
            url = (a.url, b.url)[i % 2]
            response = client.get(url + "/api/v1/summary", headers={"X-API-Key": viewer})
            assert response.status_code in (200, 429), response.text
            served[url] += response.status_code == 200
    total = sum(served.values())
    assert abs(total - BUDGET) <= BUDGET * 0.1, served  # not 2 x BUDGET
    assert min(served.values()) >= BUDGET * 0.4, served  # both processes served


def test_revocation_is_in_force_on_both_within_a_second(replicas):
    a, b = replicas
    created = issue(a.url, "staff")
    headers = {"X-API-Key": created["secret"]}
    with httpx.Client(timeout=10) as client:
        assert client.get(a.url + "/api/v1/spaces", headers=headers).status_code == 200
        assert client.get(b.url + "/api/v1/spaces", headers=headers).status_code == 200
        gone = client.delete(f"{b.url}/api/v1/keys/{created['id']}", headers={"X-API-Key": ADMIN})
        assert gone.status_code == 204
        revoked_at = time.monotonic()
        for replica in (a, b):
            eventually(
                lambda r=replica: client.get(r.url + "/api/v1/spaces",
                                             headers=headers).status_code == 401,
                timeout=1.0, what=f"the revocation on {replica.url}",
            )  # fmt: skip
        assert time.monotonic() - revoked_at < 1.0
        for replica in (a, b):
            answer = client.get(replica.url + "/api/v1/spaces", headers=headers)
            assert_problem(answer, 401, "unknown-api-key")


def test_rotation_is_in_force_on_both(replicas):
    a, b = replicas
    created = issue(b.url, "viewer")
    with httpx.Client(timeout=10) as client:
        rotated = client.post(f"{a.url}/api/v1/keys/{created['id']}/rotate",
                              headers={"X-API-Key": ADMIN}).json()  # fmt: skip
        for replica in (a, b):
            old = client.get(replica.url + "/api/v1/spaces",
                             headers={"X-API-Key": created["secret"]})  # fmt: skip
            new = client.get(replica.url + "/api/v1/spaces",
                             headers={"X-API-Key": rotated["secret"]})  # fmt: skip
            assert (old.status_code, new.status_code) == (401, 200)


def test_logs_go_to_files(replicas):
    for replica in replicas:
        assert replica.log_path is not None
        assert "gateway up" in Path(replica.log_path).read_text()
