"""The parts routes need, as `Annotated` dependencies (declared once for api.py and api_v2.py).

Each reaches what the lifespan put on `app.state` through `shelter_kit.deps.from_state`, which
answers a 503 problem when a part is not there yet.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Annotated

from fastapi import Depends

from classifier.config import Settings
from classifier.registry import ModelRegistry
from shelter_kit.deps import from_state

RegistryDep = Annotated[ModelRegistry, Depends(from_state("registry"))]
SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
PoolDep = Annotated[Executor, Depends(from_state("pool"))]
"""The threads that decode and preprocess images, off the event loop."""
