"""What a space's tile says beside its occupant, from the fusion state directly (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from aggregator import explain
from aggregator.fusion import FusionParams, Reading, SpaceState, fuse, view
from aggregator.registry import Animal, new_animal
from tests.aggregator.conftest import CAT, DOG, NOBODY, T0

PARAMS = FusionParams()


def fed(*frames: tuple[str, float, dict[str, float]]) -> SpaceState:
    """The state after (camera, seconds after T0, probabilities) frames, in order."""
    state = SpaceState(space_id="kennel-3")
    for i, (camera, at, probs) in enumerate(frames):
        label = max(probs, key=lambda c: probs[c])
        reading = Reading(f"f{i}", camera, T0 + timedelta(seconds=at), label, probs)
        state, _ = fuse(state, reading, PARAMS)
    return state


def why(state: SpaceState, at: float) -> explain.Reason | None:
    now = T0 + timedelta(seconds=at)
    return explain.reason(state, view(state, now, PARAMS), now, PARAMS)


def pet(species: str, status: str = "available", name: str = "Bella") -> Animal:
    fields = {"name": name, "species": species, "status": status, "space_id": "kennel-3"}
    return new_animal(animal_id=f"id-{name}", fields=fields, now=T0)


def test_a_settled_space_has_no_reason():
    state = fed(*[("cam-1", i, DOG) for i in range(5)])
    assert view(state, T0 + timedelta(seconds=4), PARAMS).occupant == "dog"
    assert why(state, 4) is None


def test_never_fused_is_no_frames():
    reason = why(SpaceState(space_id="kennel-9"), 0)
    assert reason is not None
    assert reason.code == "no_frames"


def test_two_agreeing_frames_are_too_few_and_say_how_many():
    reason = why(fed(("cam-1", 0, DOG), ("cam-1", 1, DOG)), 1)
    assert reason == explain.Reason(
        "too_few_frames", "Not enough agreeing frames yet (1 of 3, a dog so far)."
    )


def test_weak_evidence_without_a_candidate_gives_the_best_guess():
    unsure = {"cat": 0.5, "dog": 0.3, "other": 0.2}
    reason = why(fed(*[("cam-1", i, unsure) for i in range(4)]), 3)
    assert reason is not None
    assert reason.code == "too_few_frames"
    assert "best guess a cat" in reason.text
    assert "90% needed" in reason.text


def test_old_evidence_is_stale():
    state = fed(*[("cam-1", i, CAT) for i in range(5)])
    reason = why(state, 4 + PARAMS.stale_after_s + 1)
    assert reason is not None
    assert reason.code == "stale"
    assert "2 minutes old" in reason.text


def test_cameras_seeing_different_occupants_disagree():
    frames = [("cam-1", i, CAT) for i in range(4)] + [("cam-2", 4 + i, NOBODY) for i in range(6)]
    state = fed(*frames)
    reason = why(state, 9)
    assert reason is not None
    assert reason.code == "cameras_disagree"
    assert reason.text == "The cameras disagree: cam-1 sees a cat, cam-2 sees nobody."
    # once cam-1's frame is older than stale_after_s it no longer counts as recent
    assert explain.recent_cameras(state, T0 + timedelta(seconds=3 + 121), PARAMS) == ["cam-2"]


def test_area_is_the_id_without_its_last_part():
    assert explain.area("kennel-3") == "kennel"
    assert explain.area("room-a") == "room"
    assert explain.area("north-kennel-12") == "north-kennel"
    assert explain.area("lobby") == "lobby"
    assert explain.area("-x") == "-x"


@pytest.mark.parametrize(
    ("occupant", "animals", "expected"),
    [
        ("cat", [pet("dog")], True),
        ("empty", [pet("dog")], True),
        ("dog", [pet("dog")], False),
        ("unknown", [pet("dog")], False),
        ("cat", [], False),
        ("cat", [pet("dog"), pet("cat", name="Tom")], False),
        ("dog", [pet("dog", status="adopted")], True),  # adopted, still seen
        ("empty", [pet("dog", status="adopted")], False),
        ("cat", [pet("dog", status="adopted"), pet("cat", name="Tom")], False),
    ],
)
def test_mismatch_rule(occupant: str, animals: list[Animal], expected: bool):
    assert explain.mismatch(occupant, animals) is expected


def test_the_tile_shows_a_present_animal_before_an_adopted_one():
    gone, here = pet("dog", status="adopted", name="Aaron"), pet("cat", name="Tom")
    assert explain.placed([gone, here]) == [here, gone]
    assert explain.placed([replace(here, name="Zed"), here])[0].name == "Tom"


def test_durations_read_as_words():
    assert explain.duration(1) == "1 second"
    assert explain.duration(59) == "59 seconds"
    assert explain.duration(300) == "5 minutes"
    assert explain.duration(3600 + 600) == "1 hour 10 minutes"
    assert explain.duration(7200) == "2 hours"
    assert explain.duration(3 * 86400) == "3 days"
