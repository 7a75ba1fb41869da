"""Routes only: parse, call one domain function, return. /healthz, /readyz and /metrics are the
kit's (`shelter_kit.ops`, installed by main.py); errors are answered by the kit's handlers.

POST /v1/batch/jobs takes either a JSON body (`JobIn`: URLs or archived frames) or an archive as
the body itself (zip or tar; `?target=name/version`), and answers 202 with the job and its
Location. Every route is meant for the admin role (the gateway decides)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from batch import progress, results
from batch.config import Settings
from batch.intake import ARCHIVE_TYPES, JSON, Intake, body_kind
from batch.jobs import Jobs, now_ms
from batch.schemas import TARGET_DOC, JobIn, JobList, JobState, JobView, Target
from shelter_kit.bodies import read_bounded
from shelter_kit.deps import from_state
from shelter_kit.problems import problem_responses

router = APIRouter(prefix="/v1/batch", tags=["batch"])

JobsDep = Annotated[Jobs, Depends(from_state("jobs"))]
IntakeDep = Annotated[Intake, Depends(from_state("intake"))]
SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
StoppingDep = Annotated[asyncio.Event, Depends(from_state("stopping"))]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="as POST answered it")]
JOB_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"$ref": "#/components/schemas/JobIn"}},
            **{t: {"schema": {"type": "string", "format": "binary"}} for t in ARCHIVE_TYPES},
        },
    }
}


def _location(job_id: str) -> str:
    return f"/v1/batch/jobs/{job_id}"


async def _job_in(request: Request, limit: int) -> JobIn:
    length = request.headers.get("content-length")
    body = await read_bounded(request.stream(), limit=limit, content_length=length)
    try:
        return JobIn.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=JOB_BODY,
    responses={
        202: {"model": JobView, "description": "The job, queued"},
        **problem_responses(413, 415, 422, 503),
    },
)
async def create_job(
    request: Request,
    intake: IntakeDep,
    settings: SettingsDep,
    target: Annotated[Target | None, Query(description=TARGET_DOC + " (archive uploads)")] = None,
) -> JSONResponse:
    """A job over an uploaded archive (the body), a list of image URLs, or archived frames."""
    content_type = request.headers.get("content-type")
    if body_kind(content_type) == "archive":
        length = request.headers.get("content-length")
        job = await intake.upload(request.stream(), content_length=length, target=target)
    else:
        job = await intake.submit(await _job_in(request, settings.max_json_bytes))
    body = progress.view(job, now_ms())
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": _location(job.job_id)},
    )


@router.get("/jobs", responses=problem_responses(503))
async def list_jobs(
    jobs: JobsDep,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    now, found = now_ms(), await jobs.listing(limit=limit, state=state)
    return JobList(jobs=[progress.view(job, now) for job in found])


@router.get("/jobs/{job_id}", responses=problem_responses(404, 503))
async def get_job(job_id: JobId, jobs: JobsDep) -> JobView:
    return progress.view(await jobs.load(job_id), now_ms())


@router.post("/jobs/{job_id}/cancel", responses=problem_responses(404, 409, 503))
async def cancel_job(job_id: JobId, jobs: JobsDep) -> JobView:
    return progress.view(await jobs.cancel(job_id), now_ms())


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(404)},
)
async def job_events(
    job_id: JobId, request: Request, jobs: JobsDep, settings: SettingsDep, stopping: StoppingDep
) -> StreamingResponse:
    """Server-sent events: `progress` while the job runs, then `end`, and the stream closes."""
    await jobs.load(job_id)  # a 404 now, not an event stream that says so
    stream = progress.events(
        lambda: jobs.load(job_id),
        interval_s=settings.sse_interval_s,
        disconnected=request.is_disconnected,
        stopping=stopping,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.get(
    "/jobs/{job_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
        **problem_responses(404, 422),
    },
)
async def job_results(
    job_id: JobId, jobs: JobsDep, format: results.Format = "jsonl"
) -> StreamingResponse:
    """Every stored result in item order, streamed (a running job: the ones so far)."""
    job = await jobs.load(job_id)
    headers = {"Content-Disposition": f'attachment; filename="{job_id}.{format}"'}
    return StreamingResponse(
        results.stream(jobs, job, format), media_type=results.MEDIA_TYPES[format], headers=headers
    )
