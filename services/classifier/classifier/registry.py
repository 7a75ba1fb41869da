"""The model versions this process serves: the model directory's (`build`) and the store's
(`upload`), loaded and warmed in the background.

Loading happens on threads, so the event loop answers /healthz and /v2/health/live while ONNX
Runtime loads. Readiness: every version found at start is loaded and warmed. A version added
later (an upload, here or on another replica) is listed as `loading` until it is warm, without
taking the process out of rotation; traffic reaches it only once it is ready.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from classifier.batching import MicroBatcher
from classifier.config import Settings
from classifier.errors import ModelError, ModelNotFound, ModelNotReady
from classifier.metrics import InferenceMetrics
from classifier.model import ModelInfo, ModelRuntime, discover
from classifier.modelstore import ModelStore
from classifier.refs import ref, split_ref
from classifier.served import BUILD, UPLOAD, ServedModel
from classifier.tasks import cancel_and_wait

logger = logging.getLogger(__name__)


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


class ModelRegistry:
    """Every served version, keyed by `name/version`."""

    def __init__(
        self, settings: Settings, metrics: InferenceMetrics, store: ModelStore | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.store = store
        self._served: dict[str, ServedModel] = {}
        self._at_start: set[str] = set()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._discover_error: str | None = None
        self._loading: set[asyncio.Task[object]] = set()

    def discover(self) -> None:
        """Read every version's metadata (cheap); sessions are created later, by `start`."""
        try:
            infos = discover(self._settings.model_dir)
        except ModelError as exc:  # a bad metadata.json: stay up, not ready, and say why
            self._discover_error = str(exc)
            logger.error("model discovery failed: %s", exc)
            infos = []
        for info in infos:
            self._served[ref(info.name, info.version)] = self._serve(info, BUILD)
        for key, info in (self.store.versions() if self.store else {}).items():
            self._served.setdefault(key, self._serve(info, UPLOAD))
        self._at_start = set(self._served)
        logger.info("found %d model version(s)", len(self._served))

    def _serve(self, info: ModelInfo, source: str) -> ServedModel:
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
        return ServedModel(info, runtime, batcher, self._metrics, source=source)

    def start(self) -> None:
        """Start the batchers, and load + warm every version on a background thread."""
        for served in self._served.values():
            served.batcher.start()
        targets = list(self._served.values())
        self._thread = threading.Thread(
            target=_load_all, args=(targets, self._closing), name="model-loader", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._closing.set()  # the loader finishes the session it is opening, then stops
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        await cancel_and_wait(list(self._loading))
        for served in self._served.values():
            await served.batcher.stop()

    async def add(self, info: ModelInfo) -> ServedModel:
        """Register an uploaded version and load it (returns once it is warm, or failed)."""
        key = ref(info.name, info.version)
        if key in self._served:
            return self._served[key]
        served = self._serve(info, UPLOAD)
        served.batcher.start()
        self._served[key] = served
        await asyncio.to_thread(_load, served)
        return served

    async def remove(self, key: str) -> None:
        served = self._served.pop(key, None)
        if served is not None:
            await served.batcher.stop()

    def rescan(self) -> None:
        """Pick up versions another replica stored or deleted (loaded in the background)."""
        if self.store is None:
            return
        stored = self.store.versions()
        for key, info in stored.items():
            if key not in self._served:
                self._background(self.add(info), f"load {key}")
        for key in [k for k, s in self._served.items() if s.source == UPLOAD and k not in stored]:
            self._background(self.remove(key), f"unload {key}")

    def _background(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task: asyncio.Task[object] = asyncio.create_task(work, name=name)
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)

    @property
    def ready(self) -> bool:
        return bool(self._served) and self.not_ready_reason() is None

    def not_ready_reason(self) -> str | None:
        """None when every version found at start is loaded and warmed, else why not."""
        if not self._served:
            return self._discover_error or f"no model found under {self._settings.model_dir}"
        waiting = [self._served[k] for k in sorted(self._at_start) if k in self._served]
        return "; ".join(f"{s.ref}: {s.error or 'loading'}" for s in waiting if not s.ready) or None

    def all(self) -> list[ServedModel]:
        return [self._served[k] for k in sorted(self._served)]

    def find(self, key: str) -> ServedModel | None:
        return self._served.get(key)

    def names(self) -> list[str]:
        return sorted({s.info.name for s in self._served.values()})

    def versions(self, name: str) -> list[ServedModel]:
        """Every version of `name`, oldest first; ModelNotFound when there is none."""
        found = [s for s in self._served.values() if s.info.name == name]
        if not found:
            raise ModelNotFound(f"no model named {name!r} (known: {', '.join(self.names())})")
        return sorted(found, key=lambda s: _version_key(s.info.version))

    def serving(self, name: str | None = None, version: str | None = None) -> ServedModel:
        """The named version (or the newest of the default model), ready to serve.

        ModelNotFound when there is no such model or version, ModelNotReady while it loads (or
        when it failed to).
        """
        name = name or self.default_name()
        if version is None:
            served = self.versions(name)[-1]
        elif (found := self._served.get(f"{name}/{version}")) is not None:
            served = found
        else:
            self.versions(name)  # raises for an unknown name
            raise ModelNotFound(f"model {name!r} has no version {version!r}")
        if not served.ready:
            reason = f": {served.error}" if served.error else " (loading)"
            raise ModelNotReady(f"model {served.ref} is not ready{reason}")
        return served

    def ready_version(self, key: str) -> ServedModel:
        """`name/version`, ready (ModelNotFound / ModelNotReady otherwise)."""
        return self.serving(*split_ref(key))

    def default_name(self) -> str:
        if self._settings.default_model:
            return self._settings.default_model
        names = self.names()
        if not names:
            raise ModelNotFound(f"no model found under {self._settings.model_dir}")
        return names[0]

    def default_ref(self) -> str:
        """The newest version of the default model: the primary when no deployment was set."""
        return self.versions(self.default_name())[-1].ref


def _load_all(targets: list[ServedModel], closing: threading.Event) -> None:
    for served in targets:
        if closing.is_set():
            return
        _load(served)


def _load(served: ServedModel) -> None:
    try:
        served.load()
    except Exception as exc:  # a broken model must not take the process down
        served.error = repr(exc)
        logger.exception("model %s failed to load", served.ref)
