"""The gateway's authorisation matrix (tests/gateway/test_permissions.py: every route x every kind
of caller) run again as part of the reliability suite, so `make test-reliability` covers it: the
module's tests and the gateway fixtures they use, imported here, take this module's marker."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import *  # noqa: F403 - the fixtures the matrix asks for
from tests.gateway.test_permissions import *  # noqa: F403 - the matrix itself

pytestmark = pytest.mark.reliability
