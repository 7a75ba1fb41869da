"""fusion.py directly: evidence, decay, hysteresis, late frames, weak and stale views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fusion import FusionParams, Reading, SpaceState, fuse, softmax, view

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
P = FusionParams()
CAT = {"cat": 0.9, "dog": 0.05, "other": 0.05}
DOG = {"cat": 0.05, "dog": 0.9, "other": 0.05}
NOBODY = {"cat": 0.02, "dog": 0.03, "other": 0.95}


def reading(n: int, probs: dict[str, float], *, at: float | None = None, camera: str = "c1"):
    label = max(probs, key=lambda k: probs[k])
    when = T0 + timedelta(seconds=n if at is None else at)
    return Reading(f"f{n}", camera, when, label, probs)


def run(frames, state: SpaceState | None = None, params: FusionParams = P) -> SpaceState:
    state = state or SpaceState("k1")
    for r in frames:
        state, _ = fuse(state, r, params)
    return state


def settled_cat() -> SpaceState:
    return run(reading(i, CAT) for i in range(10))


def test_a_run_of_agreeing_frames_settles_the_occupant():
    state = run(reading(i, CAT) for i in range(10))
    assert state.occupant == "cat"
    assert state.evidence_count == 10
    assert view(state, T0 + timedelta(seconds=9), P).confidence > 0.99


def test_fewer_frames_than_min_run_do_not_settle():
    params = FusionParams(min_run=5, min_weight=0.0, enter_threshold=0.85)
    assert run((reading(i, CAT) for i in range(4)), params=params).occupant == "unknown"
    assert run((reading(i, CAT) for i in range(5)), params=params).occupant == "cat"


def test_one_contrary_frame_does_not_flip_a_settled_space():
    state = run([reading(10, DOG)], settled_cat())
    assert state.occupant == "cat"
    state = run([reading(11, CAT)], state)
    assert state.occupant == "cat"


def test_a_sustained_change_flips_it():
    state = run((reading(10 + i, DOG) for i in range(12)), settled_cat())
    assert state.occupant == "dog"
    assert state.occupant_since is not None
    assert state.occupant_since > T0 + timedelta(seconds=10)


def test_alternating_frames_never_settle_and_a_contrary_frame_resets_the_run():
    state = run(reading(i, CAT if i % 2 else DOG) for i in range(20))
    assert state.occupant == "unknown"
    eager = FusionParams(min_weight=0.0, enter_threshold=0.85)
    start = run((reading(i, CAT) for i in range(2)), params=eager)
    assert start.run == 2  # one short of min_run=3
    broken = run([reading(3, DOG)], start, params=eager)
    assert broken.run == 0
    assert broken.occupant == "unknown"


def test_other_is_evidence_for_empty():
    assert run(reading(i, NOBODY) for i in range(10)).occupant == "empty"


def test_late_frame_is_counted_but_does_not_move_the_state():
    state = settled_cat()
    late, outcome = fuse(state, reading(99, DOG, at=-30), P)
    assert outcome == "late"
    assert late.scores == state.scores
    assert late.occupant == "cat"
    assert late.evidence_count == state.evidence_count
    assert late.late_count == 1
    assert late.observation_count == state.observation_count + 1  # every frame is counted once
    assert late.cameras["c1"].frame_id == "f9"  # the camera's newest reading stays


def test_slightly_late_frame_is_fused_with_its_age_but_keeps_the_evidence_time():
    state = settled_cat()
    skewed, outcome = fuse(state, reading(99, CAT, at=8.5, camera="c2"), P)
    assert outcome == "late_fused"
    assert skewed.evidence_count == state.evidence_count + 1
    assert skewed.observation_count == state.observation_count + 1
    assert skewed.evidence_at == state.evidence_at
    assert skewed.cameras["c2"].frame_id == "f99"


def test_evidence_decays_with_the_half_life():
    state = run([reading(0, CAT)], params=FusionParams(half_life_s=10))
    state = run([reading(10, DOG)], state, params=FusionParams(half_life_s=10))
    # Cat evidence now counts half: scores are log(.9)/2 + log(.05) vs log(.05)/2 + log(.9).
    expected = softmax(
        {"cat": 0.5 * -0.10536 - 2.99573, "dog": 0.5 * -2.99573 - 0.10536, "empty": 1.5 * -2.99573}
    )
    got = softmax(state.scores)
    assert got == pytest.approx(expected, abs=1e-4)


def test_view_is_unknown_when_stale_or_weak():
    state = settled_cat()
    fresh = view(state, T0 + timedelta(seconds=10), P)
    assert fresh.occupant == "cat"
    assert not fresh.stale
    stale = view(state, T0 + timedelta(seconds=10 + P.stale_after_s), P)
    assert stale.occupant == "unknown"
    assert stale.stale
    assert stale.confidence == 0.0
    eager = FusionParams(min_run=1, min_weight=0.0, enter_threshold=0.85)
    assert view(run([reading(0, CAT)], params=eager), T0, eager).occupant == "cat"
    assert view(run([reading(0, CAT)]), T0, P).occupant == "unknown"  # weight 1 < min_weight


def test_probability_floor_caps_one_frame():
    sure = {"cat": 1.0, "dog": 0.0, "other": 0.0}
    state = run([reading(0, sure)], params=FusionParams(prob_floor=0.01))
    assert state.scores["dog"] == pytest.approx(-4.60517, abs=1e-4)


def test_evidence_is_clamped_so_a_long_settled_space_can_still_change():
    state = run(reading(i, CAT) for i in range(200))
    assert min(state.scores.values()) == -P.max_margin
    changed = run((reading(200 + i, DOG) for i in range(8)), state)
    assert changed.occupant == "dog"
