"""schemathesis (pinned in requirements-dev.txt) against every service's own document and the
gateway's merged one, on the real stack (`make run`'s launcher): seeded, bounded, every check on
(tests/fuzz/schemathesis.toml says the few refusals JSON Schema cannot express), zero failures.

The quick run (a few examples per operation, no stateful phase) is part of `make test`; the full
run (more examples, coverage and stateful phases) is marked `reliability`.

schemathesis is run as its CLI, `st run`, in a child process: its pytest plugin would generate
cases at collection time, before the stack this suite starts is up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.conftest import ADMIN_KEY, SERVICES, Stack

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


def fuzz(stack: Stack, name: str, *, phases: str, examples: int, max_time_s: int) -> None:
    argv = [
        str(ST), "--config-file", str(CONFIG), "run", f"{stack.urls[name]}/openapi.json",
        "--checks", "all", "--phases", phases, "--max-examples", str(examples),
        "--seed", "1", "--workers", "1", "--no-color",
        "--suppress-health-check", "all",
    ]  # fmt: skip
    if name == "gateway":
        argv += ["--header", f"X-API-Key: {ADMIN_KEY}"]
    # --max-time would repeat fuzzing until it is spent: the bound is the examples, and this
    done = subprocess.run(argv, capture_output=True, text=True, timeout=max_time_s)
    report = done.stdout[-12_000:] + done.stderr[-2_000:]
    print(report)
    assert done.returncode == 0, f"schemathesis found failures on {name}:\n{report}"


@pytest.mark.parametrize("name", SERVICES)
def test_quick_fuzz_finds_nothing(stack: Stack, name: str) -> None:
    fuzz(stack, name, phases="examples,fuzzing", examples=2, max_time_s=120)


@pytest.mark.reliability
@pytest.mark.parametrize("name", SERVICES)
def test_full_fuzz_with_the_stateful_phase_finds_nothing(stack: Stack, name: str) -> None:
    fuzz(stack, name, phases="examples,coverage,fuzzing,stateful", examples=10, max_time_s=600)
