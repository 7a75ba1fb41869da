"""Routes only: parse, call one domain function, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from camera_ingest.cameras import Cameras
from camera_ingest.errors import FrameTooLarge
from camera_ingest.intake import Intake
from camera_ingest.outbox import Outbox
from camera_ingest.schemas import (
    Camera,
    CameraIn,
    CameraList,
    CameraPatch,
    CameraSpec,
    FrameAccepted,
    FrameList,
    FrameStatus,
    FrameView,
    OutboxView,
    Redriven,
)
from camera_ingest.telemetry import request_id_var

router = APIRouter()


def _cameras(request: Request) -> Cameras:
    return request.app.state.cameras  # type: ignore[no-any-return]


def _outbox(request: Request) -> Outbox:
    return request.app.state.outbox  # type: ignore[no-any-return]


def _intake(request: Request) -> Intake:
    return request.app.state.intake  # type: ignore[no-any-return]


CamerasDep = Annotated[Cameras, Depends(_cameras)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
IntakeDep = Annotated[Intake, Depends(_intake)]
IdempotencyKey = Annotated[str | None, Header(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(outbox: OutboxDep) -> dict[str, str]:
    await outbox.ping()
    return {"status": "ready"}


@router.get("/metrics", tags=["ops"])
async def metrics(request: Request) -> Response:
    await request.app.state.refresh_metrics()
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/cameras", tags=["cameras"])
async def list_cameras(cameras: CamerasDep) -> CameraList:
    return CameraList(cameras=await cameras.all())


@router.post("/v1/cameras", status_code=status.HTTP_201_CREATED, tags=["cameras"])
async def create_camera(body: CameraIn, cameras: CamerasDep, response: Response) -> Camera:
    camera = await cameras.create(body)
    response.headers["Location"] = f"/v1/cameras/{camera.id}"
    return camera


@router.get("/v1/cameras/{camera_id}", tags=["cameras"])
async def get_camera(camera_id: str, cameras: CamerasDep) -> Camera:
    return await cameras.get(camera_id)


@router.put("/v1/cameras/{camera_id}", tags=["cameras"])
async def replace_camera(
    camera_id: str, body: CameraSpec, cameras: CamerasDep, response: Response
) -> Camera:
    camera, created = await cameras.replace(camera_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return camera


@router.patch("/v1/cameras/{camera_id}", tags=["cameras"])
async def patch_camera(camera_id: str, body: CameraPatch, cameras: CamerasDep) -> Camera:
    return await cameras.patch(camera_id, body)


@router.delete("/v1/cameras/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["cameras"])
async def delete_camera(camera_id: str, cameras: CamerasDep) -> None:
    await cameras.delete(camera_id)


@router.put(
    "/v1/cameras/{camera_id}/frame",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["frames"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "image/webp")
            },
        }
    },
)
async def push_frame(
    camera_id: str, request: Request, intake: IntakeDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    async def read_body(limit: int) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FrameTooLarge(f"frame is {declared} bytes, the limit is {limit}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise FrameTooLarge(f"frame is over the limit of {limit} bytes")
        return bytes(body)

    accepted = await intake.push(
        camera_id,
        read_body,
        content_type=request.headers.get("content-type"),
        idempotency_key=idempotency_key,
        request_id=request_id_var.get(),
    )
    body = FrameAccepted(
        frame_id=accepted.frame_id, camera_id=camera_id, duplicate=accepted.duplicate
    )
    return JSONResponse(
        body.model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/frames/{accepted.frame_id}"},
    )


@router.get("/v1/frames", tags=["frames"])
async def list_frames(
    outbox: OutboxDep,
    status: FrameStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FrameList:
    records = await outbox.records(status, limit)
    return FrameList(frames=[FrameView.from_record(r) for r in records])


@router.get("/v1/frames/{frame_id}", tags=["frames"])
async def get_frame(frame_id: str, outbox: OutboxDep) -> FrameView:
    return FrameView.from_record(await outbox.load(frame_id))


@router.post("/v1/frames/redrive", status_code=status.HTTP_202_ACCEPTED, tags=["frames"])
async def redrive_all(
    outbox: OutboxDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> Redriven:
    return Redriven(redriven=await outbox.redrive_all(limit))


@router.post("/v1/frames/{frame_id}/redrive", status_code=status.HTTP_202_ACCEPTED, tags=["frames"])
async def redrive(frame_id: str, outbox: OutboxDep) -> Redriven:
    await outbox.redrive(frame_id)
    return Redriven(redriven=[frame_id])


@router.get("/v1/outbox", tags=["outbox"])
async def outbox_state(request: Request, outbox: OutboxDep) -> OutboxView:
    stats = await outbox.stats()
    breakers = {name: b.state for name, b in request.app.state.breakers.items()}
    return OutboxView(
        depth=stats.depth,
        max_depth=outbox.max_depth,
        oldest_age_s=stats.oldest_age_s,
        pending=stats.pending,
        dead=stats.dead,
        breakers=breakers,
    )
