"""The parts routes need, as `Annotated` dependencies (declared once for every route module).

Each reaches what the lifespan put on `app.state` through `shelter_kit.deps.from_state`, which
answers a 503 problem when a part is not there yet. The two headers the deployment reads:
`X-Camera-Id` (camera-ingest sends it with each predict: the A/B key, logged with the
prediction) and `X-Key-Id` (the gateway forwards the caller's key id: who changed what, in the
history); a value that is not a sane token (<= 128 of `A-Za-z0-9._:@-`) is ignored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from classifier.catalog import Catalog
from classifier.config import Settings
from classifier.control import Control
from classifier.feedback import FeedbackDesk
from classifier.refs import sane_token
from classifier.registry import ModelRegistry
from classifier.serving import Serving
from shelter_kit.deps import from_state

CAMERA_HEADER, KEY_HEADER = "X-Camera-Id", "X-Key-Id"

RegistryDep = Annotated[ModelRegistry, Depends(from_state("registry"))]
SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
ControlDep = Annotated[Control, Depends(from_state("control"))]
ServingDep = Annotated[Serving, Depends(from_state("serving"))]
FeedbackDep = Annotated[FeedbackDesk, Depends(from_state("feedback"))]
CatalogDep = Annotated[Catalog, Depends(from_state("catalog"))]


async def camera_id(
    x_camera_id: Annotated[
        str | None, Header(description="The camera the image is from (A/B stickiness).")
    ] = None,
) -> str | None:
    return sane_token(x_camera_id)


async def key_id(
    x_key_id: Annotated[
        str | None, Header(description="The caller's API key id (the gateway sets it).")
    ] = None,
) -> str | None:
    return sane_token(x_key_id)


CameraDep = Annotated[str | None, Depends(camera_id)]
KeyIdDep = Annotated[str | None, Depends(key_id)]
