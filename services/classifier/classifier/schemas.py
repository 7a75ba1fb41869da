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


class PredictResponse(BaseModel):
    label: str = Field(examples=["cat"])
    probabilities: Probabilities = Field(examples=[{"cat": 0.97, "dog": 0.02, "other": 0.01}])
    model: str
    version: str
    prediction_id: str


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
    model: str
    version: str
    count: int
    failed: int
    results: list[BatchItemOk | BatchItemError]


class ModelVersion(BaseModel):
    version: str
    ready: bool
    sha256: str
    precision: str
    input_name: str
    input_shape: list[int | None]
    labels: list[str]
    preprocessing: dict[str, str]
    other_threshold: float = Field(description="The threshold this process applies.")
    accuracy: dict[str, Any] | None = Field(description="Measured when the model was built.")


class ModelDescription(BaseModel):
    name: str
    default_version: str
    versions: list[ModelVersion]


class ModelList(BaseModel):
    default_model: str | None
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
