"""The model registry's routes: list versions with their status and roles, upload, delete.

An upload is `PUT /v1/models/{name}/versions/{version}` with a multipart body: a file part
`model` (the ONNX bytes, at most CLASSIFIER_MAX_MODEL_BYTES) and a part `metadata` (JSON, see
`UploadMetadata`; optional: the defaults are Lite0's). 201 when new, 200 when the very same
version was stored before; 422 with the reason when it fails validation (nothing changes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from classifier.catalog import roles
from classifier.control import Control
from classifier.deps import CatalogDep, ControlDep, KeyIdDep, RegistryDep, SettingsDep
from classifier.errors import BadMultipart, InvalidModel, ModelNotFound
from classifier.intake import require_multipart
from classifier.refs import check_name, check_version
from classifier.schemas import ModelDescription, ModelList, ModelVersion
from classifier.schemas_deployment import UploadResponse
from classifier.served import ServedModel
from classifier.uploads import UploadMetadata
from shelter_kit.bodies import bounded
from shelter_kit.errors import BodyTooLarge
from shelter_kit.problems import problem_responses

router = APIRouter(tags=["models"])
METADATA_LIMIT = 64 * 1024
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["model"],
                    "properties": {
                        "model": {"type": "string", "format": "binary"},
                        "metadata": UploadMetadata.model_json_schema(),
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}


def version_of(served: ServedModel, control: Control) -> ModelVersion:
    info = served.info
    return ModelVersion(
        version=info.version,
        ready=served.ready,
        status=served.status,
        error=served.error,
        source=served.source,
        roles=roles(control.current(), served.ref),
        sha256=info.sha256,
        precision=info.precision,
        input_name=info.input_name,
        input_shape=list(info.input_shape),
        labels=list(info.labels),
        preprocessing=info.preprocessing,
        other_threshold=served.runtime.other_threshold,
        accuracy=info.accuracy,
    )


def _describe(name: str, versions: list[ServedModel], control: Control) -> ModelDescription:
    return ModelDescription(
        name=name,
        default_version=versions[-1].info.version,
        versions=[version_of(s, control) for s in versions],
    )


@router.get("/v1/models")
async def list_models(registry: RegistryDep, control: ControlDep) -> ModelList:
    names = registry.names()
    default = control.current().spec.primary.split("/", 1)[0] if names else None
    models = [_describe(n, registry.versions(n), control) for n in names]
    return ModelList(default_model=default, models=models)


@router.get("/v1/models/{name}", responses=problem_responses(404))
async def get_model(name: str, registry: RegistryDep, control: ControlDep) -> ModelDescription:
    return _describe(name, registry.versions(name), control)


@router.get("/v1/models/{name}/versions", responses=problem_responses(404))
async def list_versions(
    name: str, registry: RegistryDep, control: ControlDep
) -> list[ModelVersion]:
    return [version_of(s, control) for s in registry.versions(name)]


@router.get("/v1/models/{name}/versions/{version}", responses=problem_responses(404))
async def get_version(
    name: str, version: str, registry: RegistryDep, control: ControlDep
) -> ModelVersion:
    registry.versions(name)  # 404 naming the model when it is unknown
    found = registry.find(f"{name}/{version}")
    if found is None:
        raise ModelNotFound(f"model {name!r} has no version {version!r}")
    return version_of(found, control)


def _checked(name: str, version: str) -> None:
    try:
        check_name(name)
        check_version(version)
    except ValueError as exc:
        raise InvalidModel(str(exc)) from None


async def _read_upload(request: Request, *, limit: int) -> tuple[bytes, UploadMetadata]:
    require_multipart(request.headers.get("content-type"))
    length = request.headers.get("content-length")
    chunks = bounded(request.stream(), limit=limit + METADATA_LIMIT, content_length=length)
    parser = MultiPartParser(
        request.headers, chunks, max_files=1, max_fields=1, max_part_size=METADATA_LIMIT
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadMultipart(f"multipart body does not parse: {exc.message}") from exc
    try:
        part, raw = form.get("model"), form.get("metadata")
        if not isinstance(part, UploadFile):
            raise BadMultipart("multipart body has no file part named 'model'")
        if isinstance(raw, UploadFile):
            raw = (await raw.read()).decode("utf-8", "replace")
        data = await part.read()
    finally:
        await form.close()
    if len(data) > limit:  # the body's bound leaves room for the metadata; the model has its own
        raise BodyTooLarge(f"the model is {len(data)} bytes; the limit is {limit}", limit=limit)
    try:
        meta = UploadMetadata.model_validate_json(raw) if raw else UploadMetadata()
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError(
            [{**e, "loc": ("metadata", *e["loc"])} for e in errors]
        ) from exc
    return data, meta


@router.put(
    "/v1/models/{name}/versions/{version}",
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"description": "The very same version was stored before"},
        # 404: a name or version that no route path can hold (the framework's own not-found)
        **problem_responses(404, 409, 413, 415, 422, 503),
    },
)
async def upload_version(
    name: str,
    version: str,
    request: Request,
    response: Response,
    catalog: CatalogDep,
    control: ControlDep,
    settings: SettingsDep,
    key: KeyIdDep,
) -> UploadResponse:
    """Upload a model version (admin): validated with onnxruntime, stored by its sha256."""
    _checked(name, version)
    catalog.models_required()
    data, meta = await _read_upload(request, limit=settings.max_model_bytes)
    served, created = await catalog.upload(name, version, data, meta, by=key)
    response.status_code = 201 if created else 200
    return UploadResponse(name=name, created=created, version=version_of(served, control))


@router.delete(
    "/v1/models/{name}/versions/{version}",
    status_code=204,
    responses=problem_responses(404, 409, 503),
)
async def delete_version(name: str, version: str, catalog: CatalogDep) -> Response:
    """Delete an uploaded version (admin); 409 while the deployment uses it."""
    _checked(name, version)
    await catalog.delete(name, version)
    return Response(status_code=204)
