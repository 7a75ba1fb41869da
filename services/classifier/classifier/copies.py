"""The second run of a request, off the response path: the shadow's copy for the candidate, or
the primary's second opinion on a canary's answer (its disagreement is a rollback rule).

`offer` builds the job and hands it to the bounded `ShadowRunner` (a full queue sheds it);
`done` is the runner's callback: the shadow's own outcome and one comparison per image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from classifier.meter import Meter
from classifier.records import Comparison
from classifier.registry import ModelRegistry
from classifier.served import ServedModel
from classifier.shadow import COMPARE, SHADOW, ShadowJob, ShadowRunner
from classifier.strategy import CANDIDATE, DeploymentState, Route

Again = Callable[[ServedModel], Awaitable[list[str]]]  # labels the request again with a version


class Copies:
    def __init__(self, registry: ModelRegistry, runner: ShadowRunner, meter: Meter) -> None:
        self.registry = registry
        self.runner = runner
        self.meter = meter

    def offer(
        self,
        state: DeploymentState,
        route: Route,
        answered_by: ServedModel,
        answered: list[str],
        ids: list[str | None],
        again: Again,
        *,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        """The copy `route` asks for, if any (for a raw tensor, `shape`, only to a version
        that takes it)."""
        if route.shadow is not None:
            target, mode, candidate = route.shadow, SHADOW, route.shadow
        elif route.compare and route.role == CANDIDATE:
            target, mode, candidate = state.spec.primary, COMPARE, answered_by.ref
        else:
            return
        other = self.registry.find(target)
        if other is None or not other.ready:
            self.meter.shed(f"{mode}-not-ready")
            return
        if shape is not None and other.runtime.image_shape != shape:
            self.meter.shed(f"{mode}-other-shape")
            return
        run = lambda: again(other)  # noqa: E731 - the job's one call
        self.runner.offer(ShadowJob(mode, target, candidate, state.rollout, run, answered, ids))

    def done(self, job: ShadowJob, labels: list[str] | None, seconds: float) -> None:
        if job.mode == SHADOW and (served := self.registry.find(job.version)) is not None:
            self.meter.outcome(job.rollout, served, SHADOW, seconds, error=labels is None)
        if labels is None:
            return
        for answered, again, pid in zip(job.answered, labels, job.prediction_ids, strict=True):
            primary, candidate = (answered, again) if job.mode == SHADOW else (again, answered)
            self.meter.comparison(Comparison(job.candidate, job.rollout, primary, candidate, pid))
