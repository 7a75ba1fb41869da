"""The fuzz suite runs on the hostile suite's stack (one `make run` launcher, free ports)."""

from tests.hostile.conftest import stack  # noqa: F401 - the fixture, shared
