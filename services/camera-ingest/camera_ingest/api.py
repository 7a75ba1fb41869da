"""Routes only: parse, call one domain function, return. /healthz, /readyz and /metrics are the
kit's (`shelter_kit.ops`, installed by main.py); errors are answered by the kit's handlers.
The archive's images are answered with their real Content-Type, the frame id as ETag (a 304
for a matching If-None-Match) and the capture time in X-Captured-At and Last-Modified."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from camera_ingest.archive import Archive
from camera_ingest.archive_index import ArchivedFrame
from camera_ingest.breaker import CircuitBreaker
from camera_ingest.cameras import Cameras
from camera_ingest.intake import Intake
from camera_ingest.outbox import Outbox
from camera_ingest.schemas import (
    FRAME_ID_PATTERN,
    ID_MAX_LENGTH,
    ID_PATTERN,
    ArchivedFrameView,
    ArchivePage,
    ArchiveQuery,
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
from shelter_kit.context import current_request_id
from shelter_kit.deps import from_state
from shelter_kit.problems import problem_responses

router = APIRouter()

CamerasDep = Annotated[Cameras, Depends(from_state("cameras"))]
OutboxDep = Annotated[Outbox, Depends(from_state("outbox"))]
ArchiveDep = Annotated[Archive, Depends(from_state("archive"))]
IntakeDep = Annotated[Intake, Depends(from_state("intake"))]
BreakersDep = Annotated[dict[str, CircuitBreaker], Depends(from_state("breakers"))]
# The same rule as a camera id in a body: checked before anything reaches Redis.
CameraId = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
FrameId = Annotated[str, Path(pattern=FRAME_ID_PATTERN)]
IdempotencyKey = Annotated[str | None, Header(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
IMAGE_ANSWER = {
    "description": "The image, with its own Content-Type",
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES},
}
IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES},
    }
}


@router.get("/v1/cameras", tags=["cameras"], responses=problem_responses(503))
async def list_cameras(cameras: CamerasDep) -> CameraList:
    return CameraList(cameras=await cameras.all())


@router.post(
    "/v1/cameras",
    status_code=status.HTTP_201_CREATED,
    tags=["cameras"],
    responses=problem_responses(409, 422, 503),
)
async def create_camera(body: CameraIn, cameras: CamerasDep, response: Response) -> Camera:
    camera = await cameras.create(body)
    response.headers["Location"] = f"/v1/cameras/{camera.id}"
    return camera


@router.get("/v1/cameras/{camera_id}", tags=["cameras"], responses=problem_responses(404, 422))
async def get_camera(camera_id: CameraId, cameras: CamerasDep) -> Camera:
    return await cameras.get(camera_id)


@router.put(
    "/v1/cameras/{camera_id}",
    tags=["cameras"],
    responses={201: {"model": Camera, "description": "Created"}, **problem_responses(422, 503)},
)
async def replace_camera(
    camera_id: CameraId, body: CameraSpec, cameras: CamerasDep, response: Response
) -> Camera:
    camera, created = await cameras.replace(camera_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return camera


@router.patch("/v1/cameras/{camera_id}", tags=["cameras"], responses=problem_responses(404, 422))
async def patch_camera(camera_id: CameraId, body: CameraPatch, cameras: CamerasDep) -> Camera:
    return await cameras.patch(camera_id, body)


@router.delete(
    "/v1/cameras/{camera_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["cameras"],
    responses=problem_responses(404, 422),
)
async def delete_camera(camera_id: CameraId, cameras: CamerasDep) -> None:
    await cameras.delete(camera_id)


@router.put(
    "/v1/cameras/{camera_id}/frame",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["frames"],
    openapi_extra=IMAGE_BODY,
    responses=problem_responses(404, 409, 413, 415, 422, 503),
)
async def push_frame(
    camera_id: CameraId,
    request: Request,
    intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    accepted = await intake.push(
        camera_id,
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        idempotency_key=idempotency_key,
        request_id=current_request_id(),
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


@router.get("/v1/frames/archive", tags=["archive"], responses=problem_responses(422, 503))
async def archive_page(query: Annotated[ArchiveQuery, Query()], archive: ArchiveDep) -> ArchivePage:
    """Archived (delivered) frames captured in [since, until), in capture order, a page at a
    time: pass `next_cursor` back as `cursor` until it is null."""
    page = await archive.page(
        camera_id=query.camera_id,
        space_id=query.space_id,
        since=query.since,
        until=query.until,
        cursor=query.cursor,
        limit=query.limit,
    )
    frames = [ArchivedFrameView.from_frame(f) for f in page.frames]
    return ArchivePage(frames=frames, next_cursor=page.next_cursor)


@router.get(
    "/v1/frames/{frame_id}/image",
    tags=["archive"],
    response_class=Response,
    responses={200: IMAGE_ANSWER, **problem_responses(404, 422, 503)},
)
async def frame_image(frame_id: FrameId, archive: ArchiveDep, request: Request) -> Response:
    """The frame's bytes while the archive retains it."""
    frame, data = await archive.image(frame_id)
    return image_response(frame, data, request, cache="private, max-age=86400, immutable")


@router.get(
    "/v1/cameras/{camera_id}/latest",
    tags=["archive"],
    response_class=Response,
    responses={200: IMAGE_ANSWER, **problem_responses(404, 422, 503)},
)
@router.get(
    "/v1/cameras/{camera_id}/latest.jpg",
    tags=["archive"],
    response_class=Response,
    responses={200: IMAGE_ANSWER, **problem_responses(404, 422, 503)},
    description="An alias of `latest`: the Content-Type is the frame's own (a PNG is a PNG).",
)
async def latest_frame(camera_id: CameraId, archive: ArchiveDep, request: Request) -> Response:
    """The camera's newest delivered frame; 404 `no-frame-yet` until there is one."""
    frame, data = await archive.latest(camera_id)
    return image_response(frame, data, request, cache="no-cache")


def image_response(frame: ArchivedFrame, data: bytes, request: Request, *, cache: str) -> Response:
    headers = {
        "ETag": f'"{frame.frame_id}"',
        "Cache-Control": cache,
        "X-Frame-Id": frame.frame_id,
        "X-Captured-At": frame.captured_at,
        "Last-Modified": format_datetime(
            datetime.fromisoformat(frame.captured_at).astimezone(UTC), usegmt=True
        ),
    }
    tags = request.headers.get("if-none-match", "")
    if headers["ETag"] in (t.strip() for t in tags.split(",")) or tags.strip() == "*":
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, media_type=frame.content_type, headers=headers)


@router.get("/v1/frames/{frame_id}", tags=["frames"], responses=problem_responses(404))
async def get_frame(frame_id: str, outbox: OutboxDep) -> FrameView:
    return FrameView.from_record(await outbox.load(frame_id))


@router.post("/v1/frames/redrive", status_code=status.HTTP_202_ACCEPTED, tags=["frames"])
async def redrive_all(
    outbox: OutboxDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> Redriven:
    return Redriven(redriven=await outbox.redrive_all(limit))


@router.post(
    "/v1/frames/{frame_id}/redrive",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["frames"],
    responses=problem_responses(404, 409),
)
async def redrive(frame_id: str, outbox: OutboxDep) -> Redriven:
    await outbox.redrive(frame_id)
    return Redriven(redriven=[frame_id])


@router.get("/v1/outbox", tags=["outbox"])
async def outbox_state(outbox: OutboxDep, breakers: BreakersDep) -> OutboxView:
    stats = await outbox.stats()
    return OutboxView(
        depth=stats.depth,
        max_depth=outbox.max_depth,
        oldest_age_s=stats.oldest_age_s,
        pending=stats.pending,
        dead=stats.dead,
        breakers={name: b.state for name, b in breakers.items()},
    )
