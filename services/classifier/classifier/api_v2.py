"""Open Inference Protocol v2 (KServe / Triton HTTP) routes beside the v1 API.

Live answers while models load; ready once every model is loaded and warmed. Every model route
has a versioned form `/v2/models/{name}/versions/{version}/...`. Errors are the one problem+json
dialect plus the `error` member Triton's clients read (`main.triton_error_member` adds it).

A real model name addresses that model explicitly, bypassing the deployment's strategy (what a
Triton client expects of a name). The name `deployed` is the deployment: its metadata is the
primary's, and an infer on it is routed like a /v1 predict (`X-Camera-Id` for A/B); the answer's
`model_name` / `model_version` say which version ran.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from classifier.control import Control
from classifier.deps import CameraDep, ControlDep, RegistryDep, ServingDep, SettingsDep
from classifier.errors import ModelNotFound, ModelNotReady
from classifier.registry import ModelRegistry
from classifier.schemas import ModelMetadata, ServerMetadata, TensorMetadata
from classifier.served import ServedModel
from classifier.serving import DEPLOYED, Call, Serving
from classifier.tensors import (
    DATATYPE,
    decode_inputs,
    encode_outputs,
    parse_request,
    select_outputs,
)
from shelter_kit.bodies import read_bounded
from shelter_kit.problems import problem_responses

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


def _find(registry: ModelRegistry, control: Control, name: str, version: str | None) -> ServedModel:
    if name != DEPLOYED:
        return registry.serving(name, version)
    if version is not None:
        raise ModelNotFound(f"{DEPLOYED!r} has no versions: name the model to address one")
    return registry.ready_version(control.current().spec.primary)


def _metadata(
    registry: ModelRegistry, control: Control, name: str, version: str | None
) -> ModelMetadata:
    deployment = _find(registry, control, name, version)
    info = deployment.info
    shape = [-1 if d is None else d for d in info.input_shape]
    return ModelMetadata(
        name=info.name,
        versions=[d.info.version for d in registry.versions(info.name)],
        platform="onnxruntime_onnx",
        inputs=[TensorMetadata(name=info.input_name, datatype=DATATYPE, shape=shape)],
        outputs=[
            TensorMetadata(name=output, datatype=DATATYPE, shape=[-1, *shape])
            for output, shape in deployment.runtime.outputs.items()
        ],
    )


@router.get("/models/{name}", responses=problem_responses(404))
async def model_metadata(name: str, registry: RegistryDep, control: ControlDep) -> ModelMetadata:
    return _metadata(registry, control, name, None)


@router.get("/models/{name}/versions/{version}", responses=problem_responses(404))
async def version_metadata(
    name: str, version: str, registry: RegistryDep, control: ControlDep
) -> ModelMetadata:
    return _metadata(registry, control, name, version)


def _ready(
    registry: ModelRegistry, control: Control, name: str, version: str | None
) -> dict[str, object]:
    deployment = _find(registry, control, name, version)
    return {"name": name, "version": deployment.info.version, "ready": True}


@router.get("/models/{name}/ready", responses=problem_responses(404))
async def model_ready(name: str, registry: RegistryDep, control: ControlDep) -> dict[str, object]:
    return _ready(registry, control, name, None)


@router.get("/models/{name}/versions/{version}/ready", responses=problem_responses(404))
async def version_ready(
    name: str, version: str, registry: RegistryDep, control: ControlDep
) -> dict[str, object]:
    return _ready(registry, control, name, version)


def _call(serving: Serving, name: str, version: str | None, camera: str | None) -> Call:
    if name == DEPLOYED:
        if version is not None:
            raise ModelNotFound(f"{DEPLOYED!r} has no versions: name the model to address one")
        return serving.choose(camera, None, None)
    return serving.choose(camera, name, version)


async def _infer(request: Request, serving: Serving, call: Call, *, limit: int) -> Response:
    length = request.headers.get("content-length")
    body = await read_bounded(request.stream(), limit=limit, content_length=length)
    try:
        parsed, tail = parse_request(body, request.headers.get(HEADER_LENGTH))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc
    call, outputs = await serving.infer(call, decode_inputs(parsed, tail))
    info = call.served.info
    header = {"model_name": info.name, "model_version": info.version}
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


@router.post("/models/{name}/infer", responses=problem_responses(400, 404, 413, 415, 422))
async def infer(
    name: str, request: Request, serving: ServingDep, settings: SettingsDep, camera: CameraDep
) -> Response:
    """Run the raw graph on FP32 tensors (JSON `data`, or Triton's binary tensor extension)."""
    call = _call(serving, name, None, camera)
    return await _infer(request, serving, call, limit=settings.max_batch_body_bytes)


@router.post(
    "/models/{name}/versions/{version}/infer", responses=problem_responses(400, 404, 413, 415, 422)
)
async def infer_version(
    name: str,
    version: str,
    request: Request,
    serving: ServingDep,
    settings: SettingsDep,
    camera: CameraDep,
) -> Response:
    """The same, for one named version."""
    call = _call(serving, name, version, camera)
    return await _infer(request, serving, call, limit=settings.max_batch_body_bytes)
