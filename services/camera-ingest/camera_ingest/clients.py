"""httpx calls to the classifier and the aggregator, their failures sorted into transient
(retry) and permanent (dead-letter). Models only the fields ingest reads. Every call carries
the frame's request id and trace context (`shelter_kit.context.outbound_headers`)."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import ValidationError

from camera_ingest.errors import (
    PermanentDownstreamError,
    ServerErrorAnswer,
    TransientDownstreamError,
)
from camera_ingest.schemas import Classification, Observation
from shelter_kit.context import outbound_headers

CLASSIFIER_PERMANENT = {400, 413, 415, 422}
AGGREGATOR_PERMANENT = {400, 422}
# Answers that say "the service (or the way to it) is down", never "this frame is bad".
OUTAGE_STATUSES = {502, 503, 504}
ObserveResult = Literal["new", "duplicate", "conflict"]


def make_client(*, connect_timeout_s: float, request_timeout_s: float) -> httpx.AsyncClient:
    timeout = httpx.Timeout(request_timeout_s, connect=connect_timeout_s)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.AsyncClient(timeout=timeout, limits=limits)


def _detail(response: httpx.Response) -> str:
    text = response.text[:300].replace("\n", " ")
    return f"HTTP {response.status_code}: {text}"


async def _post(
    client: httpx.AsyncClient,
    service: str,
    url: str,
    *,
    content: bytes | str,
    headers: dict[str, str],
) -> httpx.Response:
    try:
        return await client.post(url, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientDownstreamError(service, f"timeout: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransientDownstreamError(service, f"{type(exc).__name__}: {exc}") from exc


def _check(service: str, response: httpx.Response, permanent: set[int]) -> None:
    if response.is_success:
        return
    if response.status_code in permanent:
        raise PermanentDownstreamError(service, _detail(response))
    if response.status_code >= 500 and response.status_code not in OUTAGE_STATUSES:
        raise ServerErrorAnswer(service, _detail(response))
    raise TransientDownstreamError(service, _detail(response))


class ClassifierClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.url = base_url.rstrip("/") + "/v1/predict"

    async def predict(
        self, data: bytes, *, content_type: str, request_id: str, camera_id: str
    ) -> Classification:
        """`X-Camera-Id` is the classifier's sticky A/B key: one camera stays on one arm."""
        headers = {
            "Content-Type": content_type,
            "X-Camera-Id": camera_id,
            **outbound_headers(request_id),
        }
        response = await _post(self.client, "classifier", self.url, content=data, headers=headers)
        _check("classifier", response, CLASSIFIER_PERMANENT)
        try:
            return Classification.model_validate_json(response.content)
        except ValidationError as exc:
            raise TransientDownstreamError("classifier", f"unreadable answer: {exc}") from exc


class AggregatorClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.url = base_url.rstrip("/") + "/v1/observations"

    async def observe(self, observation: Observation, *, request_id: str) -> ObserveResult:
        """Post one observation: "new" (201), "duplicate" (200: seen, not counted again) or
        "conflict" (409: this frame id is stored with another body, so it is counted already)."""
        response = await _post(
            self.client,
            "aggregator",
            self.url,
            content=observation.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json", **outbound_headers(request_id)},
        )
        if response.status_code == 409:
            return "conflict"
        _check("aggregator", response, AGGREGATOR_PERMANENT)
        return "duplicate" if response.status_code == 200 else "new"
