"""Bootstrap: every part from the settings, started and stopped in order. No FastAPI here;
main.py's lifespan calls `build`, `Parts.start` and `Parts.stop`, and puts `Parts.state()` on
app.state for the routes' `Annotated` dependencies."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from classifier.catalog import Catalog
from classifier.config import Settings
from classifier.control import Control
from classifier.copies import Copies
from classifier.feedback import FeedbackDesk
from classifier.meter import Meter
from classifier.metrics import DeploymentMetrics, InferenceMetrics
from classifier.modelstore import ModelStore
from classifier.recorder import Recorder
from classifier.records import Event
from classifier.registry import ModelRegistry
from classifier.serving import Serving
from classifier.shadow import ShadowRunner
from classifier.store import DeploymentStore, Redis, connect
from classifier.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass
class Parts:
    settings: Settings
    registry: ModelRegistry
    models: ModelStore | None
    redis: Redis | None
    control: Control
    recorder: Recorder | None
    shadow: ShadowRunner
    serving: Serving
    feedback: FeedbackDesk
    catalog: Catalog
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {
            "parts": self,
            "registry": self.registry,
            "control": self.control,
            "serving": self.serving,
            "feedback": self.feedback,
            "catalog": self.catalog,
        }

    async def start(self) -> None:
        self.registry.start()  # loads on a background thread: live at once, ready once warmed
        if self.recorder is not None:
            self.recorder.start()
        self.shadow.start()
        await self.control.sync()  # the stored deployment applies before the first request
        interval = self.settings.sync_interval_s
        self.tasks.append(asyncio.create_task(self.control.run(interval), name="deployment-sync"))

    async def stop(self) -> None:
        await cancel_and_wait(self.tasks)
        await self.shadow.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        await self.registry.stop()
        if self.redis is not None:
            await self.redis.aclose()


def build(s: Settings, inference: InferenceMetrics, deployment: DeploymentMetrics) -> Parts:
    models = ModelStore(s.store_dir) if s.store_dir is not None else None
    registry = ModelRegistry(s, inference, models)
    registry.discover()
    redis = connect(s.redis_url) if s.redis_url else None
    store = None
    if redis is not None:
        store = DeploymentStore(
            redis, retention_s=s.prediction_retention_s, max_predictions=s.prediction_log_max
        )
    recorder = None
    if store is not None:
        write = functools.partial(_write, store)
        recorder = Recorder(
            write, size=s.record_queue, on_shed=deployment.shed.labels("record").inc
        )
    control = Control(
        registry=registry,
        store=store,
        metrics=deployment,
        cache=models.deployment_cache if models is not None else None,
        seed=s.routing_seed,
    )
    meter = Meter(deployment, recorder)
    shadow = ShadowRunner(
        size=s.shadow_queue,
        workers=s.shadow_workers,
        timeout_s=s.shadow_timeout_s,
        on_done=lambda job, labels, secs: copies.done(job, labels, secs),  # bound below
        on_shed=meter.shed,
    )
    copies = Copies(registry, shadow, meter)
    serving = Serving(
        registry=registry,
        control=control,
        meter=meter,
        copies=copies,
        max_pixels=s.max_pixels,
    )
    feedback = FeedbackDesk(store=store, recorder=recorder, control=control, metrics=deployment)
    return Parts(
        settings=s,
        registry=registry,
        models=models,
        redis=redis,
        control=control,
        recorder=recorder,
        shadow=shadow,
        serving=serving,
        feedback=feedback,
        catalog=Catalog(registry, models, control),
    )


async def _write(store: DeploymentStore, events: list[Event]) -> None:
    await store.write(events, now=time.time())
