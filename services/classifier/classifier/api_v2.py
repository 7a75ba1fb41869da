"""Open Inference Protocol v2 (KServe / Triton HTTP) routes beside the v1 API.

Live answers while models load; ready once every model is loaded and warmed. Every model route
has a versioned form `/v2/models/{name}/versions/{version}/...`. Errors are the one problem+json
dialect plus the `error` member Triton's clients read (`main.TritonErrorMember` adds it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from classifier.deployment import Deployment
from classifier.deps import RegistryDep, SettingsDep
from classifier.errors import ModelNotReady
from classifier.registry import ModelRegistry
from classifier.schemas import ModelMetadata, ServerMetadata, TensorMetadata
from classifier.tensors import (
    DATATYPE,
    decode_inputs,
    encode_outputs,
    parse_request,
    select_outputs,
)
from shelter_kit.bodies import read_bounded

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])
HEADER_LENGTH = "inference-header-content-length"


@router.get("")
async def server_metadata() -> ServerMetadata:
    return ServerMetadata(
        name="shelter-watch-classifier", version="1", extensions=["binary_tensor_data"]
    )


@router.get("/health/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready")
async def ready(registry: RegistryDep) -> dict[str, bool]:
    reason = registry.not_ready_reason()
    if reason is not None:
        raise ModelNotReady(reason)
    return {"ready": True}


def _metadata(registry: ModelRegistry, name: str, version: str | None) -> ModelMetadata:
    deployment = registry.serving(name, version)
    info = deployment.info
    shape = [-1 if d is None else d for d in info.input_shape]
    return ModelMetadata(
        name=info.name,
        versions=[d.info.version for d in registry.versions(name)],
        platform="onnxruntime_onnx",
        inputs=[TensorMetadata(name=info.input_name, datatype=DATATYPE, shape=shape)],
        outputs=[
            TensorMetadata(name=output, datatype=DATATYPE, shape=[-1, *shape])
            for output, shape in deployment.runtime.outputs.items()
        ],
    )


@router.get("/models/{name}")
async def model_metadata(name: str, registry: RegistryDep) -> ModelMetadata:
    return _metadata(registry, name, None)


@router.get("/models/{name}/versions/{version}")
async def version_metadata(name: str, version: str, registry: RegistryDep) -> ModelMetadata:
    return _metadata(registry, name, version)


def _ready(registry: ModelRegistry, name: str, version: str | None) -> dict[str, object]:
    deployment = registry.serving(name, version)
    return {"name": name, "version": deployment.info.version, "ready": True}


@router.get("/models/{name}/ready")
async def model_ready(name: str, registry: RegistryDep) -> dict[str, object]:
    return _ready(registry, name, None)


@router.get("/models/{name}/versions/{version}/ready")
async def version_ready(name: str, version: str, registry: RegistryDep) -> dict[str, object]:
    return _ready(registry, name, version)


async def _infer(request: Request, deployment: Deployment, *, limit: int) -> Response:
    length = request.headers.get("content-length")
    body = await read_bounded(request.stream(), limit=limit, content_length=length)
    try:
        parsed, tail = parse_request(body, request.headers.get(HEADER_LENGTH))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc
    outputs = await deployment.infer(decode_inputs(parsed, tail))
    header = {"model_name": deployment.info.name, "model_version": deployment.info.version}
    if parsed.id is not None:
        header["id"] = parsed.id
    content, json_length = encode_outputs(header, select_outputs(parsed, outputs))
    if json_length is None:
        return Response(content, media_type="application/json")
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(json_length)},
    )


@router.post("/models/{name}/infer")
async def infer(
    name: str, request: Request, registry: RegistryDep, settings: SettingsDep
) -> Response:
    """Run the raw graph on FP32 tensors (JSON `data`, or Triton's binary tensor extension)."""
    deployment = registry.serving(name, None)
    return await _infer(request, deployment, limit=settings.max_batch_body_bytes)


@router.post("/models/{name}/versions/{version}/infer")
async def infer_version(
    name: str, version: str, request: Request, registry: RegistryDep, settings: SettingsDep
) -> Response:
    """The same, for one named version."""
    deployment = registry.serving(name, version)
    return await _infer(request, deployment, limit=settings.max_batch_body_bytes)
