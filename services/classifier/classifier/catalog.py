"""Registry changes with their rules: an upload is validated, stored and loaded before it is
listed as ready; a version is deleted only when it came from an upload and the deployment does
not use it (primary, candidate, or the previous primary a rollback returns to)."""

from __future__ import annotations

import asyncio

from classifier.control import Control
from classifier.errors import (
    ModelNotFound,
    NotConfigured,
    VersionBuiltIn,
    VersionExists,
    VersionInUse,
)
from classifier.model import ModelInfo
from classifier.modelstore import ModelStore
from classifier.refs import ref
from classifier.registry import ModelRegistry
from classifier.served import BUILD, ServedModel
from classifier.strategy import DeploymentState
from classifier.uploads import UploadMetadata, validate_upload

PREVIOUS = "previous-primary"


def roles(state: DeploymentState, version: str) -> list[str]:
    found = [role] if (role := state.spec.role_of(version)) else []
    return [*found, PREVIOUS] if state.previous_primary == version else found


class Catalog:
    def __init__(
        self, registry: ModelRegistry, models: ModelStore | None, control: Control
    ) -> None:
        self.registry = registry
        self.models = models
        self.control = control

    def models_required(self) -> ModelStore:
        if self.models is None:
            raise NotConfigured("uploads need a model store: set CLASSIFIER_STORE_DIR")
        return self.models

    async def upload(
        self, name: str, version: str, data: bytes, meta: UploadMetadata, *, by: str | None
    ) -> tuple[ServedModel, bool]:
        """(the version, whether it is new). Nothing is stored unless every check passed."""
        models = self.models_required()
        key = ref(name, version)
        known = self.registry.find(key)
        if known is not None and known.source == BUILD:
            raise VersionExists(f"{key} is built into the image (the model directory)")
        record = await asyncio.to_thread(validate_upload, name, version, data, meta, by=by)
        created = await asyncio.to_thread(models.save, record, data)
        info = ModelInfo.from_metadata(record, models.blob(record["sha256"]), where="upload")
        return await self.registry.add(info), created

    async def delete(self, name: str, version: str) -> None:
        key = ref(name, version)
        served = self.registry.find(key)
        if served is None:
            raise ModelNotFound(f"no version {key}")
        if served.source == BUILD:
            raise VersionBuiltIn(f"{key} is built into the image; it cannot be deleted")
        used = roles(await self.control.fresh(), key)
        if used:
            raise VersionInUse(f"{key} is the deployment's {' and '.join(used)}: change it first")
        await asyncio.to_thread(self.models_required().delete, name, version)
        await self.registry.remove(key)
