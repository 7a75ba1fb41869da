"""httpx calls to the classifier and to camera-ingest's frame archive, their failures sorted into
what to retry and what not. Models only the fields the batch service reads (`schemas.py`). Every
call carries the request id and trace context (`shelter_kit.context.outbound_headers`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from batch.errors import (
    ClassifierUnavailable,
    IngestUnavailable,
    InvalidSource,
    ItemFailed,
    ModelGone,
    RequestRefused,
    RequestTooLarge,
    ServerErrorAnswer,
    Transient,
    UnknownModel,
)
from batch.jobs import TargetModel
from batch.schemas import ArchivePageRead, BatchRead, ModelListRead, ModelRead
from shelter_kit.context import outbound_headers
from shelter_kit.magic import image_type

OUTAGE = {429, 502, 503, 504}
M = TypeVar("M", bound=BaseModel)


def make_client(*, connect_timeout_s: float, request_timeout_s: float) -> httpx.AsyncClient:
    timeout = httpx.Timeout(request_timeout_s, connect=connect_timeout_s)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text[:300])
    except ValueError:
        return response.text[:300].replace("\n", " ")


def _parse(model: type[M], response: httpx.Response, service: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise Transient(f"{service}: unreadable answer: {exc.error_count()} error(s)") from exc


class ClassifierClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.base = base_url.rstrip("/")

    async def _get(self, path: str) -> httpx.Response:
        try:
            response = await self.client.get(self.base + path, headers=outbound_headers())
        except httpx.HTTPError as exc:
            raise ClassifierUnavailable(f"classifier: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise ClassifierUnavailable(f"classifier answered HTTP {response.status_code}")
        return response

    async def resolve(self, requested: str | None) -> TargetModel:
        """The model version a job will use, pinned now: `name/version`, `name` (its newest
        version) or None: the current deployment, the version whose role is `primary` (the
        default model's newest version from a classifier that names no roles)."""
        listing = await self._get("/v1/models")
        models = _parse(ModelListRead, listing, "classifier")
        name, _, version = (requested or "").partition("/")
        if requested is None:
            name, version = _primary(models)
        found: ModelRead | None = next((m for m in models.models if m.name == name), None)
        if found is None:
            known = ", ".join(m.name for m in models.models) or "none"
            raise UnknownModel(f"the classifier serves no model {name!r} (it serves: {known})")
        version = version or found.default_version
        match = next((v for v in found.versions if v.version == version), None)
        if match is None:
            raise UnknownModel(f"model {name!r} has no version {version!r}")
        return TargetModel(name, version, requested or "current", match.labels)

    async def predict_batch(
        self, images: Sequence[tuple[int, bytes]], target: TargetModel
    ) -> BatchRead:
        files = [
            ("images", (str(i), data, image_type(data[:16]) or "application/octet-stream"))
            for i, data in images
        ]
        params = {"model": target.model, "version": target.version}
        try:
            response = await self.client.post(
                self.base + "/v1/predict/batch",
                params=params,
                files=files,
                headers=outbound_headers(),
            )
        except httpx.HTTPError as exc:
            raise Transient(f"classifier: {type(exc).__name__}") from exc
        _check(response)
        return _parse(BatchRead, response, "classifier")


def _primary(models: ModelListRead) -> tuple[str, str]:
    for model in models.models:
        for version in model.versions:
            if "primary" in version.roles:
                return model.name, version.version
    return models.default_model or "", ""


def _check(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    if status == 404:
        raise ModelGone(f"the classifier no longer serves the model: {_detail(response)}")
    if status == 413:
        raise RequestTooLarge(_detail(response))
    if status in OUTAGE:
        raise Transient(f"classifier answered HTTP {status}")
    if status >= 500:
        raise ServerErrorAnswer(f"classifier answered HTTP {status}: {_detail(response)}")
    raise RequestRefused(f"classifier answered HTTP {status}: {_detail(response)}")


class IngestClient:
    """camera-ingest's frame archive: `GET /v1/frames/archive` pages, and each frame's
    `GET /v1/frames/{id}/image`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, *, max_bytes: int) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.max_bytes = max_bytes

    async def archive_page(self, params: dict[str, Any]) -> ArchivePageRead:
        url = self.base + "/v1/frames/archive"
        try:
            response = await self.client.get(url, params=params, headers=outbound_headers())
        except httpx.HTTPError as exc:
            raise IngestUnavailable(f"camera-ingest: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise IngestUnavailable(f"camera-ingest answered HTTP {response.status_code}")
        if response.status_code != 200:
            status = response.status_code
            raise InvalidSource(f"the frame archive answered HTTP {status}: {_detail(response)}")
        try:
            return ArchivePageRead.model_validate_json(response.content)
        except ValidationError as exc:
            raise IngestUnavailable(f"camera-ingest: unreadable archive page: {exc}") from exc

    async def frame_image(self, frame_id: str) -> bytes:
        url = f"{self.base}/v1/frames/{frame_id}/image"
        try:
            async with self.client.stream("GET", url, headers=outbound_headers()) as response:
                if response.status_code == 404:
                    raise ItemFailed("frame-gone", "the frame is no longer in the archive")
                if response.status_code != 200:
                    raise Transient(f"camera-ingest answered HTTP {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise ItemFailed("too-large", f"over {self.max_bytes} bytes")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise Transient(f"camera-ingest: {type(exc).__name__}") from exc
