"""registry.py directly: the status transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import InvalidTransition
from aggregator.registry import STATUSES, TRANSITIONS, check_transition, new_animal, updated_animal

T0 = datetime(2026, 11, 28, tzinfo=UTC)
ALLOWED = {
    ("intake", "available"),
    ("available", "reserved"),
    ("available", "intake"),
    ("reserved", "available"),
    ("reserved", "adopted"),
    ("adopted", "intake"),
}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transition_table(current: str, new: str):
    if current == new or (current, new) in ALLOWED:
        check_transition(current, new)
    else:
        with pytest.raises(InvalidTransition, match=f"cannot move from {current} to {new}: "):
            check_transition(current, new)
    assert {(a, b) for a, bs in TRANSITIONS.items() for b in bs} == ALLOWED


def test_status_change_time_moves_only_with_the_status():
    rex = new_animal(animal_id="a1", fields={"name": "Rex", "species": "dog"}, now=T0)
    renamed = updated_animal(rex, changes={"name": "Rexy"}, now=T0 + timedelta(seconds=5))
    assert renamed.status_changed_at == T0
    assert renamed.updated_at > T0
    listed = updated_animal(renamed, changes={"status": "available"}, now=T0 + timedelta(seconds=9))
    assert listed.status_changed_at == T0 + timedelta(seconds=9)
