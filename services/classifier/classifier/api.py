"""HTTP routes of the v1 data plane: parse the request, call the deployment, render the answer.

Without `model` / `version` a request goes through the deployment (its strategy picks the
version; `X-Camera-Id` keeps an A/B camera on its arm); with them it is `explicit`. The model
registry's routes are in api_models.py, the deployment's and feedback's in api_deployment.py;
/healthz, /readyz and /metrics are shelter-kit's (`main.py` installs them).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from classifier.deps import CameraDep, ServingDep, SettingsDep
from classifier.errors import ERROR_STATUS, BadMultipart, ClassifierError, TooManyImages
from classifier.intake import check_declared, image_or_multipart, require_multipart
from classifier.schemas import (
    BATCH_REQUEST_BODY,
    IMAGE_REQUEST_BODY,
    BatchItemError,
    BatchItemOk,
    BatchResponse,
    PredictResponse,
)
from classifier.serving import Answer
from shelter_kit.bodies import bounded, read_bounded
from shelter_kit.handlers import domain_problem
from shelter_kit.problems import Problem, problem_responses

router = APIRouter()

ModelQuery = Annotated[
    str | None, Query(description="Model name: answered by it, bypassing the deployment.")
]
VersionQuery = Annotated[str | None, Query(description="Model version; the newest if absent.")]
Upload = tuple[str | None, bytes]  # a batch file part: its filename and its bytes


async def _parse_multipart(request: Request, *, limit: int, max_files: int) -> FormData:
    chunks = bounded(
        request.stream(), limit=limit, content_length=request.headers.get("content-length")
    )
    parser = MultiPartParser(request.headers, chunks, max_files=max_files, max_fields=max_files)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise TooManyImages(f"at most {max_files} images per request") from exc
        raise BadMultipart(f"multipart body does not parse: {exc.message}") from exc


async def _read_image(request: Request, *, limit: int) -> bytes:
    """The one image of a request: a raw image body, or the `image` part of a multipart body."""
    if not image_or_multipart(request.headers.get("content-type")):
        length = request.headers.get("content-length")
        data = await read_bounded(request.stream(), limit=limit, content_length=length)
        check_declared(data, request.headers.get("content-type"))
        return data
    form = await _parse_multipart(request, limit=limit, max_files=1)
    try:
        part = form.get("image")
        if not isinstance(part, UploadFile):
            raise BadMultipart("multipart body has no file part named 'image'")
        data = await part.read()
        check_declared(data, part.content_type)
        return data
    finally:
        await form.close()


async def _read_images(request: Request, *, limit: int, max_files: int) -> list[Upload]:
    """(filename, bytes) of every file part of a multipart batch body, in order."""
    require_multipart(request.headers.get("content-type"))
    form = await _parse_multipart(request, limit=limit, max_files=max_files)
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        uploads = [(f.filename, await f.read()) for f in files]
    finally:
        await form.close()
    if not uploads:
        raise BadMultipart("multipart body has no file parts")
    return uploads


@router.post(
    "/v1/predict",
    tags=["predict"],
    openapi_extra=IMAGE_REQUEST_BODY,
    responses=problem_responses(404, 413, 415, 422, 503),
)
async def predict(
    request: Request,
    serving: ServingDep,
    settings: SettingsDep,
    camera: CameraDep,
    model: ModelQuery = None,
    version: VersionQuery = None,
) -> PredictResponse:
    """Classify one image: raw JPEG/PNG/WebP body, or multipart with a file field `image`."""
    call = serving.choose(camera, model, version)
    data = await _read_image(request, limit=settings.max_body_bytes)
    (result,) = await serving.classify(call, [data])
    if isinstance(result, ClassifierError):
        raise result
    return PredictResponse(
        label=result.prediction.label,
        probabilities=result.prediction.probabilities,
        model=result.served.info.name,
        version=result.served.info.version,
        prediction_id=result.prediction_id,
        role=result.role,
        strategy=result.strategy,
    )


@router.post(
    "/v1/predict/batch",
    tags=["predict"],
    openapi_extra=BATCH_REQUEST_BODY,
    responses=problem_responses(404, 413, 415, 422, 503),
)
async def predict_batch(
    request: Request,
    serving: ServingDep,
    settings: SettingsDep,
    camera: CameraDep,
    model: ModelQuery = None,
    version: VersionQuery = None,
) -> BatchResponse:
    """Classify every file part of a multipart body, in order; one bad image fails only itself."""
    call = serving.choose(camera, model, version)
    uploads = await _read_images(
        request, limit=settings.max_batch_body_bytes, max_files=settings.max_batch_items
    )
    outcomes = await serving.classify(call, [data for _, data in uploads])
    results = [
        _item(index, filename, outcome)
        for index, ((filename, _), outcome) in enumerate(zip(uploads, outcomes, strict=True))
    ]
    answered = next((o for o in outcomes if isinstance(o, Answer)), None)
    served, role = (answered.served, answered.role) if answered else (call.served, call.role)
    return BatchResponse(
        model=served.info.name,
        version=served.info.version,
        role=role,
        strategy=call.strategy,
        count=len(results),
        failed=sum(isinstance(r, BatchItemError) for r in results),
        results=results,
    )


def _item(
    index: int, filename: str | None, outcome: Answer | ClassifierError
) -> BatchItemOk | BatchItemError:
    if isinstance(outcome, ClassifierError):
        error = Problem(**domain_problem(outcome, ERROR_STATUS))
        return BatchItemError(index=index, filename=filename, error=error)
    return BatchItemOk(
        index=index,
        filename=filename,
        label=outcome.prediction.label,
        probabilities=outcome.prediction.probabilities,
        prediction_id=outcome.prediction_id,
    )
