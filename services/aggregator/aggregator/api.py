"""Routes only: parse, call one use case, return. Errors are raised; the kit's handlers answer
them as problem+json from `errors.ERROR_STATUS`. Parts come through `Annotated` dependencies.
(`/healthz`, `/readyz` and `/metrics` are the kit's, installed by `main`.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from aggregator import alerting, animals, events, spaces, timeline
from aggregator.errors import ERROR_STATUS
from aggregator.metrics import Metrics
from aggregator.schemas import (
    AlertOut,
    AnimalIn,
    AnimalOut,
    AnimalPatch,
    BatchOut,
    FrameOut,
    HistoryPoint,
    ObservationBatchIn,
    ObservationIn,
    ObservationResult,
    SpaceOut,
    SummaryOut,
)
from aggregator.shelter import Shelter
from shelter_kit.deps import from_state
from shelter_kit.handlers import domain_problem
from shelter_kit.problems import problem_responses

ShelterDep = Annotated[Shelter, Depends(from_state("shelter"))]
MetricsDep = Annotated[Metrics, Depends(from_state("metrics"))]
StoppingDep = Annotated[asyncio.Event, Depends(from_state("stopping"))]
Json = dict[str, Any]
router = APIRouter(prefix="/v1")


@router.post(
    "/observations",
    status_code=201,
    response_model=ObservationResult,
    responses={200: {"description": "A repeat: the stored result"}, **problem_responses(409, 503)},
)
async def post_observation(body: ObservationIn, sh: ShelterDep, response: Response) -> Json:
    recorded = await spaces.record_observation(sh, body)
    if recorded.duplicate:
        response.status_code = 200
    return recorded.result


@router.post("/observations/batch", response_model=BatchOut, responses=problem_responses(503))
async def post_batch(body: ObservationBatchIn, sh: ShelterDep) -> Json:
    """Each item answers what the single call would have (status, result or problem)."""
    results: list[Json] = []
    for entry in await spaces.record_batch(sh, body.observations):
        done = entry.outcome
        if isinstance(done, spaces.Recorded):
            status = 200 if done.duplicate else 201
            results.append({"status": status, "frame_id": entry.frame_id, "result": done.result})
        else:
            problem = domain_problem(done, ERROR_STATUS)
            results.append({"status": problem["status"], "frame_id": entry.frame_id,
                            "problem": problem})  # fmt: skip
    return {"results": results}


@router.get("/spaces", response_model=list[SpaceOut])
async def list_spaces(sh: ShelterDep) -> list[Json]:
    return await spaces.list_spaces(sh)


@router.get("/spaces/{space_id}", response_model=SpaceOut, responses=problem_responses(404))
async def get_space(space_id: str, sh: ShelterDep) -> Json:
    return await spaces.get_space(sh, space_id)


@router.get(
    "/spaces/{space_id}/history",
    response_model=list[HistoryPoint],
    responses=problem_responses(404, 422),
)
async def space_history(
    space_id: str,
    sh: ShelterDep,
    since: Annotated[float | None, Query(description="Only points after it (epoch s).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Json]:
    """The space's occupant and confidence after each observation, oldest first (a chart's
    timeline): the newest `limit` points after `since`."""
    return await timeline.space_history(sh, space_id, since=since, limit=limit)


@router.get(
    "/spaces/{space_id}/frames",
    response_model=list[FrameOut],
    responses=problem_responses(404, 422),
)
async def space_frames(
    space_id: str, sh: ShelterDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[Json]:
    """The space's recent observations, newest first (at most AGGREGATOR_HISTORY_MAX kept)."""
    return await timeline.space_frames(sh, space_id, limit)


@router.get("/animals", response_model=list[AnimalOut])
async def list_animals(sh: ShelterDep) -> list[Json]:
    return await animals.list_animals(sh)


@router.post("/animals", status_code=201, response_model=AnimalOut)
async def create_animal(body: AnimalIn, sh: ShelterDep) -> Json:
    return await animals.create_animal(sh, body.model_dump())


@router.get("/animals/{animal_id}", response_model=AnimalOut, responses=problem_responses(404))
async def get_animal(animal_id: str, sh: ShelterDep) -> Json:
    return await animals.get_animal(sh, animal_id)


@router.put("/animals/{animal_id}", response_model=AnimalOut, responses=problem_responses(404, 409))
async def put_animal(animal_id: str, body: AnimalIn, sh: ShelterDep) -> Json:
    return await animals.update_animal(sh, animal_id, body.model_dump())


@router.patch(
    "/animals/{animal_id}", response_model=AnimalOut, responses=problem_responses(404, 409)
)
async def patch_animal(animal_id: str, body: AnimalPatch, sh: ShelterDep) -> Json:
    return await animals.update_animal(sh, animal_id, body.model_dump(exclude_unset=True))


@router.delete("/animals/{animal_id}", status_code=204, responses=problem_responses(404))
async def delete_animal(animal_id: str, sh: ShelterDep) -> Response:
    await animals.delete_animal(sh, animal_id)
    return Response(status_code=204)


@router.get("/summary", response_model=SummaryOut)
async def summary(sh: ShelterDep) -> Json:
    return await animals.summary(sh)


@router.get("/alerts", response_model=list[AlertOut])
async def list_alerts(
    sh: ShelterDep,
    status: Literal["active", "acked", "resolved", "open"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Json]:
    """The newest `limit` alerts; `resolved` is the history (kept AGGREGATOR_ALERT_RETENTION_S)."""
    return await alerting.list_alerts(sh, status, limit=limit)


@router.post(
    "/alerts/{alert_id}/ack", response_model=AlertOut, responses=problem_responses(404, 409)
)
async def ack_alert(alert_id: str, sh: ShelterDep) -> Json:
    return await alerting.ack_alert(sh, alert_id)


@router.get("/events", response_class=StreamingResponse, responses=problem_responses(422))
async def event_stream(
    sh: ShelterDep,
    metrics: MetricsDep,
    stopping: StoppingDep,
    request: Request,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """Server-sent events (`space.updated`, `alert.*`, `animal.*`), resumable by event id."""
    cursor = await events.start_cursor(sh, last_event_id_header or last_event_id)

    async def body() -> AsyncIterator[str]:
        metrics.sse_clients.inc()
        try:
            async for chunk in events.stream(
                sh, cursor=cursor, stopping=stopping, disconnected=request.is_disconnected
            ):
                yield chunk
        finally:
            metrics.sse_clients.dec()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
