"""Every service pins the kit's current version and its image installs the kit from libs/."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import shelter_kit

KIT = Path(__file__).resolve().parents[1]
ROOT = KIT.parents[1]
SERVICES = sorted(p for p in (ROOT / "services").iterdir() if (p / "requirements.txt").exists())


def kit_version() -> str:
    return str(tomllib.loads((KIT / "pyproject.toml").read_text())["project"]["version"])


def test_the_package_says_its_own_version() -> None:
    assert shelter_kit.__version__ == kit_version()


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_each_service_pins_the_kit(service: Path) -> None:
    pins = re.findall(r"^shelter-kit==(\S+)$", (service / "requirements.txt").read_text(), re.M)
    assert pins == [kit_version()]


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_each_image_installs_the_kit_before_the_pins(service: Path) -> None:
    dockerfile = (service / "Dockerfile").read_text()
    kit_at = dockerfile.find("libs/shelter-kit")
    requirements_at = dockerfile.find("pip install -r /tmp/requirements.txt")
    assert kit_at != -1, "the Dockerfile must COPY libs/shelter-kit"
    assert requirements_at != -1
    assert kit_at < requirements_at
