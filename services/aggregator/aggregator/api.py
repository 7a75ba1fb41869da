"""Routes only: parse, call one use case, return. Errors are raised, `main` maps them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aggregator import alerting, animals, events, spaces
from aggregator.errors import AggregatorError, InvalidInput
from aggregator.schemas import (
    AlertOut,
    AnimalIn,
    AnimalOut,
    AnimalPatch,
    BatchItem,
    BatchOut,
    ObservationBatchIn,
    ObservationIn,
    ObservationResult,
    SpaceOut,
    SummaryOut,
)
from aggregator.shelter import Shelter
from aggregator.telemetry import Metrics


def get_shelter(request: Request) -> Shelter:
    shelter: Shelter = request.app.state.shelter
    return shelter


ShelterDep = Annotated[Shelter, Depends(get_shelter)]
router = APIRouter()
v1 = APIRouter(prefix="/v1")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(sh: ShelterDep, request: Request) -> Any:
    if await sh.store.ping():
        return {"status": "ready"}
    return request.app.state.problem(request, 503, "Not ready", "Redis does not answer PING")


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    registry = request.app.state.metrics.registry
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@v1.post("/observations", status_code=201, response_model=ObservationResult)
async def post_observation(
    body: ObservationIn, sh: ShelterDep, request: Request, response: Response
) -> dict[str, Any]:
    result, duplicate = await spaces.record_observation(sh, body.model_dump(mode="json"))
    _count(request.app.state.metrics, result, duplicate)
    response.status_code = 200 if duplicate else 201
    return result


@v1.post("/observations/batch", response_model=BatchOut)
async def post_batch(body: ObservationBatchIn, sh: ShelterDep, request: Request) -> BatchOut:
    """Each item is recorded on its own (in order); one item's error does not stop the rest."""
    if len(body.observations) > sh.settings.batch_max:
        raise InvalidInput(f"a batch holds at most {sh.settings.batch_max} observations")
    items: list[BatchItem] = []
    for observation in body.observations:
        try:
            result, dup = await spaces.record_observation(sh, observation.model_dump(mode="json"))
        except AggregatorError as exc:
            status, problem = request.app.state.problem_body(request, exc)
            items.append(BatchItem(status=status, frame_id=observation.frame_id, problem=problem))
            continue
        _count(request.app.state.metrics, result, dup)
        items.append(
            BatchItem(
                status=200 if dup else 201,
                frame_id=observation.frame_id,
                result=ObservationResult.model_validate(result),
            )
        )
    return BatchOut(results=items)


def _count(metrics: Metrics, result: dict[str, Any], duplicate: bool) -> None:
    metrics.observations.labels("duplicate" if duplicate else result["outcome"]).inc()


@v1.get("/spaces", response_model=list[SpaceOut])
async def list_spaces(sh: ShelterDep) -> list[dict[str, Any]]:
    return await spaces.list_spaces(sh)


@v1.get("/spaces/{space_id}", response_model=SpaceOut)
async def get_space(space_id: str, sh: ShelterDep) -> dict[str, Any]:
    return await spaces.get_space(sh, space_id)


@v1.get("/spaces/{space_id}/history")
async def space_history(
    space_id: str, sh: ShelterDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    return await spaces.space_history(sh, space_id, limit)


@v1.get("/animals", response_model=list[AnimalOut])
async def list_animals(sh: ShelterDep) -> list[dict[str, Any]]:
    return await animals.list_animals(sh)


@v1.post("/animals", status_code=201, response_model=AnimalOut)
async def create_animal(body: AnimalIn, sh: ShelterDep) -> dict[str, Any]:
    return await animals.create_animal(sh, body.model_dump())


@v1.get("/animals/{animal_id}", response_model=AnimalOut)
async def get_animal(animal_id: str, sh: ShelterDep) -> dict[str, Any]:
    return await animals.get_animal(sh, animal_id)


@v1.put("/animals/{animal_id}", response_model=AnimalOut)
async def put_animal(animal_id: str, body: AnimalIn, sh: ShelterDep) -> dict[str, Any]:
    return await animals.update_animal(sh, animal_id, body.model_dump())


@v1.patch("/animals/{animal_id}", response_model=AnimalOut)
async def patch_animal(animal_id: str, body: AnimalPatch, sh: ShelterDep) -> dict[str, Any]:
    return await animals.update_animal(sh, animal_id, body.model_dump(exclude_unset=True))


@v1.delete("/animals/{animal_id}", status_code=204)
async def delete_animal(animal_id: str, sh: ShelterDep) -> Response:
    await animals.delete_animal(sh, animal_id)
    return Response(status_code=204)


@v1.get("/summary", response_model=SummaryOut)
async def summary(sh: ShelterDep) -> dict[str, Any]:
    return await animals.summary(sh)


@v1.get("/alerts", response_model=list[AlertOut])
async def list_alerts(
    sh: ShelterDep,
    status: Literal["active", "acked", "resolved", "open"] | None = None,
) -> list[dict[str, Any]]:
    return await alerting.list_alerts(sh, status)


@v1.post("/alerts/{alert_id}/ack", response_model=AlertOut)
async def ack_alert(alert_id: str, sh: ShelterDep) -> dict[str, Any]:
    return await alerting.ack_alert(sh, alert_id)


@v1.get("/events", response_class=StreamingResponse)
async def event_stream(
    sh: ShelterDep,
    request: Request,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """Server-sent events (`space.updated`, `alert.*`, `animal.*`), resumable by event id."""
    cursor = await events.start_cursor(sh, last_event_id_header or last_event_id)
    stopping: asyncio.Event = request.app.state.stopping
    gauge = request.app.state.metrics.sse_clients

    async def body() -> Any:
        gauge.inc()
        try:
            async for chunk in events.stream(
                sh, cursor=cursor, stopping=stopping, disconnected=request.is_disconnected
            ):
                yield chunk
        finally:
            gauge.dec()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


router.include_router(v1)
