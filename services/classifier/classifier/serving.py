"""The data plane through the deployment: route, answer, record, copy. No FastAPI here.

One request: `Control.plan` picks who answers (from memory); the version answers (a version
not ready on this replica hands the request to the primary); a model error of the CANDIDATE is
counted against it and the primary answers instead, so a failing canary never fails a caller;
then, off the response path, the outcome and the prediction go to the `Meter` (metrics and the
fleet's counts), and a shadow copy (or a canary's second opinion from the primary) to `Copies`.

A request that names its model (`?model=`, a /v2 URL with a real model name) is `explicit`:
answered by that version and counted, outside any rollout. /v2 through the alias `deployed` is
routed like /v1 when the routed version takes the request's tensor shape (else the primary
answers); its predictions carry no ids, so they are counted and compared but not logged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from classifier.control import Control
from classifier.copies import Copies
from classifier.errors import ClassifierError, ImageError
from classifier.meter import Meter
from classifier.model import PROBABILITIES, Prediction, decide
from classifier.records import PredictionRecord
from classifier.registry import ModelRegistry
from classifier.served import ServedModel
from classifier.strategy import CANDIDATE, PRIMARY, DeploymentState, Route

EXPLICIT = "explicit"
DEPLOYED = "deployed"  # the /v2 model name that means "whatever the deployment routes to"
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    prediction: Prediction
    served: ServedModel
    role: str
    strategy: str
    prediction_id: str


@dataclass(frozen=True)
class Call:
    """One request's routing: who answers, in which role, under which state and route."""

    served: ServedModel
    role: str
    state: DeploymentState | None  # None: explicit
    route: Route | None  # None: no copies (explicit, or fallen back to the primary)
    camera: str | None

    @property
    def rollout(self) -> int | None:
        return None if self.state is None else self.state.rollout

    @property
    def strategy(self) -> str:
        return EXPLICIT if self.state is None else str(self.state.spec.strategy)

    def fallback(self, primary: ServedModel) -> Call:
        return replace(self, served=primary, role=PRIMARY, route=None)


class Serving:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        control: Control,
        meter: Meter,
        copies: Copies,
        max_pixels: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry, self.control, self.meter, self.copies = registry, control, meter, copies
        self.max_pixels, self.clock = max_pixels, clock

    def choose(self, camera: str | None, model: str | None, version: str | None) -> Call:
        """The named version, else the deployment's choice (ready on this replica)."""
        if model is not None or version is not None:
            return Call(self.registry.serving(model, version), EXPLICIT, None, None, camera)
        state, planned = self.control.plan(camera)
        found = self.registry.find(planned.answer)
        if found is not None and found.ready:
            return Call(found, planned.role, state, planned, camera)
        primary = self.registry.find(state.spec.primary)
        served = primary if primary is not None and primary.ready else self.registry.serving()
        return Call(served, PRIMARY, state, None, camera)

    async def classify(self, call: Call, images: Sequence[bytes]) -> list[Answer | ClassifierError]:
        """Every image of one request, in order; an image that cannot be read fails only itself."""
        outcomes = await asyncio.gather(
            *(self._one(call, data) for data in images), return_exceptions=True
        )
        for outcome in outcomes:
            if not isinstance(outcome, ClassifierError | Answer):
                raise outcome
        return [o for o in outcomes if isinstance(o, ClassifierError | Answer)]

    async def _one(self, call: Call, data: bytes) -> Answer:
        try:
            prediction, tensor = await self._classify(call, data)
        except ImageError:
            raise  # the image's fault: no other version would read it either
        except Exception:
            if call.role != CANDIDATE or call.state is None:
                raise
            call = call.fallback(self.registry.ready_version(call.state.spec.primary))
            prediction, tensor = await self._classify(call, data)
        answer = Answer(prediction, call.served, call.role, call.strategy, str(uuid.uuid4()))
        self._log(call, answer)
        if call.state is not None and call.route is not None:

            async def again(other: ServedModel) -> list[str]:
                if other.same_input(call.served):
                    return [(await other.predict(tensor)).label]
                return [(await other.classify(data, max_pixels=self.max_pixels))[0].label]

            ids: list[str | None] = [answer.prediction_id]
            self.copies.offer(call.state, call.route, call.served, [prediction.label], ids, again)
        return answer

    def _log(self, call: Call, answer: Answer) -> None:
        p = answer.prediction
        self.meter.record(
            PredictionRecord(
                prediction_id=answer.prediction_id,
                version=call.served.ref,
                rollout=call.rollout,
                role=call.role,
                strategy=call.strategy,
                label=p.label,
                probabilities=p.probabilities,
                camera=call.camera,
                at=self.clock(),
            )
        )

    async def infer(
        self, call: Call, inputs: dict[str, np.ndarray]
    ) -> tuple[Call, dict[str, np.ndarray]]:
        """The raw graph (/v2). A routed version that does not take this tensor shape hands
        the request to the primary."""
        shape = next(iter(inputs.values())).shape[1:] if len(inputs) == 1 else None
        if call.state is not None and shape != call.served.runtime.image_shape:
            primary = self.registry.find(call.state.spec.primary)
            if primary is not None and primary.ready and primary is not call.served:
                call = call.fallback(primary)
        outputs = await self._timed(call, call.served.infer(inputs))
        if call.state is not None and call.route is not None and PROBABILITIES in outputs:

            async def again(other: ServedModel) -> list[str]:
                return _labels(other, (await other.infer(inputs))[PROBABILITIES])

            labels = _labels(call.served, outputs[PROBABILITIES])
            ids: list[str | None] = [None] * len(labels)
            self.copies.offer(call.state, call.route, call.served, labels, ids, again, shape=shape)
        return call, outputs

    async def _classify(self, call: Call, data: bytes) -> tuple[Prediction, np.ndarray]:
        return await self._timed(call, call.served.classify(data, max_pixels=self.max_pixels))

    async def _timed(self, call: Call, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            result = await work
        except ImageError:
            raise
        except Exception:
            seconds = time.perf_counter() - started
            self.meter.outcome(call.rollout, call.served, call.role, seconds, error=True)
            raise
        seconds = time.perf_counter() - started
        self.meter.outcome(call.rollout, call.served, call.role, seconds, error=False)
        return result


def _labels(served: ServedModel, probabilities: np.ndarray) -> list[str]:
    return [p.label for p in decide(probabilities, served.runtime.other_threshold)]
