"""The models this process serves: discovered at start-up, loaded and warmed in the background.

The `ModelRegistry` finds deployments (`deployment.py`) by name and version and says whether all
of them are ready. Loading happens on a plain thread, so the event loop answers /healthz and
/v2/health/live while ONNX Runtime loads. Readiness is each runtime's one flag; a request checks
it once, in `serving`, before its body is read.
"""

from __future__ import annotations

import logging
import threading

from classifier.batching import MicroBatcher
from classifier.config import Settings
from classifier.deployment import Deployment
from classifier.errors import ModelError, ModelNotFound, ModelNotReady
from classifier.metrics import InferenceMetrics
from classifier.model import ModelInfo, ModelRuntime, discover

logger = logging.getLogger(__name__)


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


class ModelRegistry:
    """Every deployment under the model directory, keyed by (name, version)."""

    def __init__(self, settings: Settings, metrics: InferenceMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._deployments: dict[tuple[str, str], Deployment] = {}
        self._thread: threading.Thread | None = None
        self._discover_error: str | None = None

    def discover(self) -> None:
        """Read every model's metadata (cheap); sessions are created later, by `start`."""
        try:
            infos = discover(self._settings.model_dir)
        except ModelError as exc:  # a bad metadata.json: stay up, not ready, and say why
            self._discover_error = str(exc)
            logger.error("model discovery failed: %s", exc)
            return
        for info in infos:
            self._deployments[(info.name, info.version)] = self._deploy(info)
        logger.info(
            "found %d model version(s) under %s", len(self._deployments), self._settings.model_dir
        )

    def _deploy(self, info: ModelInfo) -> Deployment:
        s = self._settings
        runtime = ModelRuntime(
            info,
            intra_op_threads=s.intra_op_threads,
            inter_op_threads=s.inter_op_threads,
            other_threshold=s.other_threshold,
        )
        batcher = MicroBatcher(
            runtime.predict,
            max_batch_size=s.max_batch_size,
            max_wait_ms=s.max_wait_ms,
            max_queue=s.max_queue,
            workers=s.inference_workers,
            metrics=self._metrics,
            labels=(info.name, info.version),
        )
        return Deployment(info, runtime, batcher, self._metrics)

    def start(self) -> None:
        """Start the batchers, and load + warm every model on a background thread."""
        for deployment in self._deployments.values():
            deployment.batcher.start()
        self._thread = threading.Thread(target=self._load_all, name="model-loader", daemon=True)
        self._thread.start()

    def _load_all(self) -> None:
        for deployment in self._deployments.values():
            try:
                deployment.load()
            except Exception as exc:  # a broken model must not take the process down
                deployment.error = repr(exc)
                logger.exception("model %s/%s failed to load", *deployment.labels)

    async def stop(self) -> None:
        for deployment in self._deployments.values():
            await deployment.batcher.stop()

    @property
    def ready(self) -> bool:
        return bool(self._deployments) and all(d.ready for d in self._deployments.values())

    def not_ready_reason(self) -> str | None:
        """None when every model is loaded and warmed, else why not (a readiness check)."""
        if not self._deployments:
            return self._discover_error or f"no model found under {self._settings.model_dir}"
        waiting = [d for d in self._deployments.values() if not d.ready]
        return "; ".join(f"{_name(d)}: {d.error or 'loading'}" for d in waiting) or None

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._deployments})

    def versions(self, name: str) -> list[Deployment]:
        """Every version of `name`, oldest first; ModelNotFound when there is none."""
        found = [d for (n, _), d in self._deployments.items() if n == name]
        if not found:
            raise ModelNotFound(f"no model named {name!r} (known: {', '.join(self.names())})")
        return sorted(found, key=lambda d: _version_key(d.info.version))

    def serving(self, name: str | None = None, version: str | None = None) -> Deployment:
        """The named version (or the newest of the default model), ready to serve.

        ModelNotFound when there is no such model or version, ModelNotReady while it loads (or
        when it failed to). The one readiness check of a request.
        """
        name = name or self.default_name()
        if version is None:
            deployment = self.versions(name)[-1]
        elif (found := self._deployments.get((name, version))) is not None:
            deployment = found
        else:
            self.versions(name)  # raises for an unknown name
            raise ModelNotFound(f"model {name!r} has no version {version!r}")
        if not deployment.ready:
            reason = f": {deployment.error}" if deployment.error else " (loading)"
            raise ModelNotReady(f"model {_name(deployment)} is not ready{reason}")
        return deployment

    def default_name(self) -> str:
        if self._settings.default_model:
            return self._settings.default_model
        names = self.names()
        if not names:
            raise ModelNotFound(f"no model found under {self._settings.model_dir}")
        return names[0]


def _name(deployment: Deployment) -> str:
    return f"{deployment.info.name}/{deployment.info.version}"
