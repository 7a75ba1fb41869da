"""HTTP routes of the v1 API and the operational endpoints: parse, call the domain, return."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Executor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from classifier.config import Settings
from classifier.errors import ClassifierError, ModelNotReady
from classifier.intake import (
    MULTIPART,
    BadMultipart,
    TooManyImages,
    bounded,
    media_type,
    read_bounded,
    require_image_type,
)
from classifier.registry import Deployment, ModelRegistry
from classifier.schemas import (
    BATCH_REQUEST_BODY,
    IMAGE_REQUEST_BODY,
    BatchItemError,
    BatchItemOk,
    BatchResponse,
    ModelDescription,
    ModelList,
    ModelVersion,
    PredictResponse,
    Problem,
)

router = APIRouter()


async def get_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.registry
    return registry


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelQuery = Annotated[str | None, Query(description="Model name; the default model if absent.")]
VersionQuery = Annotated[str | None, Query(description="Model version; the newest if absent.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (404, 413, 415, 422, 503)
}


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], responses={503: ERRORS[503]})
async def readyz(registry: RegistryDep) -> dict[str, str]:
    if not registry.ready:
        raise ModelNotReady(registry.not_ready_reason())
    return {"status": "ready"}


@router.get("/metrics", tags=["ops"])
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


def _describe(name: str, registry: ModelRegistry) -> ModelDescription:
    versions = registry.versions(name)
    return ModelDescription(
        name=name,
        default_version=versions[-1].info.version,
        versions=[_version(d) for d in versions],
    )


def _version(d: Deployment) -> ModelVersion:
    info = d.info
    return ModelVersion(
        version=info.version,
        ready=d.warmed,
        sha256=info.sha256,
        precision=info.precision,
        input_name=info.input_name,
        input_shape=list(info.input_shape),
        labels=list(info.labels),
        preprocessing=info.preprocessing,
        other_threshold=d.runtime.other_threshold,
        accuracy=info.accuracy,
    )


@router.get("/v1/models", tags=["models"])
async def list_models(registry: RegistryDep, settings: SettingsDep) -> ModelList:
    names = registry.names()
    default = settings.default_model or (names[0] if names else None)
    return ModelList(default_model=default, models=[_describe(n, registry) for n in names])


@router.get("/v1/models/{name}", tags=["models"], responses={404: ERRORS[404]})
async def get_model(name: str, registry: RegistryDep) -> ModelDescription:
    return _describe(name, registry)


async def _parse_multipart(request: Request, *, limit: int, max_files: int) -> FormData:
    chunks = bounded(
        request.stream(), content_length=request.headers.get("content-length"), limit=limit
    )
    parser = MultiPartParser(request.headers, chunks, max_files=max_files, max_fields=max_files)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise TooManyImages(f"at most {max_files} images per request") from exc
        raise BadMultipart(f"multipart body does not parse: {exc.message}") from exc


async def _read_image(request: Request, settings: Settings) -> bytes:
    """The one image of a request: a raw image body, or the `image` part of a multipart body."""
    limit = settings.max_body_bytes
    if media_type(request.headers.get("content-type")) != MULTIPART:
        require_image_type(request.headers.get("content-type"))
        return await read_bounded(
            request.stream(), limit=limit, content_length=request.headers.get("content-length")
        )
    form = await _parse_multipart(request, limit=limit, max_files=1)
    try:
        part = form.get("image")
        if not isinstance(part, UploadFile):
            raise BadMultipart("multipart body has no file part named 'image'")
        return await part.read()
    finally:
        await form.close()


@router.post(
    "/v1/predict",
    tags=["predict"],
    openapi_extra=IMAGE_REQUEST_BODY,
    responses={k: ERRORS[k] for k in (404, 413, 415, 422, 503)},
)
async def predict(
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    model: ModelQuery = None,
    version: VersionQuery = None,
) -> PredictResponse:
    """Classify one image: raw JPEG/PNG/WebP body, or multipart with a file field `image`."""
    deployment = registry.get(model, version)
    deployment.require_ready()
    data = await _read_image(request, settings)
    pool: Executor = request.app.state.pool
    result = await deployment.classify(data, pool=pool, max_pixels=settings.max_pixels)
    return PredictResponse(
        label=result.label,
        probabilities=result.probabilities,
        model=deployment.info.name,
        version=deployment.info.version,
        prediction_id=str(uuid.uuid4()),
    )


@router.post(
    "/v1/predict/batch",
    tags=["predict"],
    openapi_extra=BATCH_REQUEST_BODY,
    responses={k: ERRORS[k] for k in (404, 413, 422, 503)},
)
async def predict_batch(
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    model: ModelQuery = None,
    version: VersionQuery = None,
) -> BatchResponse:
    """Classify every file part of a multipart body, in order; one bad image fails only itself."""
    deployment = registry.get(model, version)
    deployment.require_ready()
    form = await _parse_multipart(
        request, limit=settings.max_batch_body_bytes, max_files=settings.max_batch_items
    )
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        datas = [await f.read() for f in files]
    finally:
        await form.close()
    if not files:
        raise BadMultipart("multipart body has no file parts")
    pool: Executor = request.app.state.pool
    outcomes = await asyncio.gather(
        *(deployment.classify(d, pool=pool, max_pixels=settings.max_pixels) for d in datas),
        return_exceptions=True,
    )
    results: list[BatchItemOk | BatchItemError] = []
    for index, (upload, outcome) in enumerate(zip(files, outcomes, strict=True)):
        if isinstance(outcome, ClassifierError):
            body = request.app.state.error_problem(outcome, request.url.path)
            results.append(
                BatchItemError(index=index, filename=upload.filename, error=Problem(**body))
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(
                BatchItemOk(
                    index=index,
                    filename=upload.filename,
                    label=outcome.label,
                    probabilities=outcome.probabilities,
                    prediction_id=str(uuid.uuid4()),
                )
            )
    failed = sum(isinstance(r, BatchItemError) for r in results)
    return BatchResponse(
        model=deployment.info.name,
        version=deployment.info.version,
        count=len(results),
        failed=failed,
        results=results,
    )
