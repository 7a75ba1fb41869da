"""Wire models this service produces (v1 JSON API and the Open Inference Protocol v2).

Error bodies are shelter-kit's `Problem` (the one dialect every service answers); a batch item
that failed carries one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shelter_kit.problems import Problem

Probabilities = dict[str, float]

# OpenAPI request bodies of the image routes (FastAPI cannot infer raw-body routes)
IMAGE_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "image/webp")
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
BATCH_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "images": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


ROLE = Field(
    description="What the version that answered is in the deployment: primary, candidate, or "
    "explicit (the request named its model).",
    examples=["primary"],
)
STRATEGY = Field(description="The deployment's strategy, or explicit.", examples=["canary"])


class PredictResponse(BaseModel):
    label: str = Field(examples=["cat"])
    probabilities: Probabilities = Field(examples=[{"cat": 0.97, "dog": 0.02, "other": 0.01}])
    model: str = Field(description="The model that made this prediction.")
    version: str = Field(description="Its version.")
    prediction_id: str = Field(description="Quote it in POST /v1/feedback.")
    role: str = ROLE
    strategy: str = STRATEGY


class BatchItemOk(BaseModel):
    index: int
    filename: str | None
    label: str
    probabilities: Probabilities
    prediction_id: str


class BatchItemError(BaseModel):
    index: int
    filename: str | None
    error: Problem


class BatchResponse(BaseModel):
    """A batch is routed once: one version answers every image (a failing candidate's images
    are answered by the primary, which `model` / `version` then name)."""

    model: str
    version: str
    role: str = ROLE
    strategy: str = STRATEGY
    count: int
    failed: int
    results: list[BatchItemOk | BatchItemError]


class ModelVersion(BaseModel):
    version: str
    ready: bool
    status: str = Field(description="loading, ready or failed", examples=["ready"])
    error: str | None = Field(description="Why it failed to load, if it did.")
    source: str = Field(description="build (the model directory) or upload", examples=["build"])
    roles: list[str] = Field(
        description="What it is in the deployment: primary, candidate, previous-primary.",
        examples=[["primary"]],
    )
    sha256: str
    precision: str
    input_name: str
    input_shape: list[int | None]
    labels: list[str]
    preprocessing: dict[str, Any]
    other_threshold: float = Field(description="The threshold this process applies.")
    accuracy: dict[str, Any] | None = Field(description="Measured when the model was built.")


class ModelDescription(BaseModel):
    name: str
    default_version: str
    versions: list[ModelVersion]


class ModelList(BaseModel):
    default_model: str | None = Field(description="The deployment's primary model.")
    models: list[ModelDescription]


# Open Inference Protocol v2 (KServe / Triton HTTP/REST)


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[float] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]
