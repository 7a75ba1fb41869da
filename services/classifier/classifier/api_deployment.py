"""The deployment's routes (GET/PUT /v1/deployment, promote, rollback, history) and feedback.

Changes are stored in Redis and applied by every replica within CLASSIFIER_SYNC_INTERVAL_S;
the caller's key id (`X-Key-Id`, set by the gateway) goes into the history. Without Redis a
change is a 503 (`store-unavailable`, or `not-configured` when no CLASSIFIER_REDIS_URL is set).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from classifier.dashboard import describe
from classifier.deps import ControlDep, FeedbackDep, KeyIdDep, RegistryDep
from classifier.schemas_deployment import (
    DeploymentView,
    FeedbackRequest,
    FeedbackResponse,
    History,
    HistoryEntry,
)
from classifier.strategy import DeploymentSpec
from shelter_kit.problems import problem_responses

router = APIRouter(tags=["deployment"])
CHANGE_ERRORS = problem_responses(409, 422, 503)


@router.get("/v1/deployment")
async def get_deployment(control: ControlDep, registry: RegistryDep) -> DeploymentView:
    """The deployment in force on this replica and the fleet's live comparison."""
    return describe(control, registry)


@router.put("/v1/deployment", responses=CHANGE_ERRORS)
async def put_deployment(
    spec: DeploymentSpec, control: ControlDep, registry: RegistryDep, key: KeyIdDep
) -> DeploymentView:
    """Set the strategy and its versions (admin). The same spec again changes nothing."""
    await control.put(spec, by=key)
    return describe(control, registry)


@router.post("/v1/deployment/promote", responses=CHANGE_ERRORS)
async def promote(control: ControlDep, registry: RegistryDep, key: KeyIdDep) -> DeploymentView:
    """The candidate becomes the primary, alone (admin)."""
    await control.promote(by=key)
    return describe(control, registry)


@router.post("/v1/deployment/rollback", responses=CHANGE_ERRORS)
async def rollback(control: ControlDep, registry: RegistryDep, key: KeyIdDep) -> DeploymentView:
    """Drop the candidate (the primary alone); with none, return to the previous primary."""
    await control.rollback(by=key)
    return describe(control, registry)


@router.get("/v1/deployment/history", responses=problem_responses(503))
async def history(
    control: ControlDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> History:
    """Every change, newest first: when, by which key id, from what to what, and why."""
    entries = await control.history(limit)
    return History(entries=[HistoryEntry.model_validate(e) for e in entries])


@router.post(
    "/v1/feedback",
    tags=["feedback"],
    status_code=201,
    responses={
        200: {"description": "The same feedback was recorded before"},
        **problem_responses(404, 409, 422, 503),
    },
)
async def feedback(
    body: FeedbackRequest, desk: FeedbackDep, response: Response, key: KeyIdDep
) -> FeedbackResponse:
    """What a prediction should have been (staff); once per prediction id."""
    result = await desk.give(body.prediction_id, body.label, by=key)
    response.status_code = 200 if result.duplicate else 201
    name, version = result.prediction.version.split("/", 1)
    return FeedbackResponse(
        prediction_id=body.prediction_id,
        label=result.label,
        predicted=result.prediction.label,
        model=name,
        version=version,
        correct=result.correct,
        rewarded=result.rewarded,
        duplicate=result.duplicate,
    )
