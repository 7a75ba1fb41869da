"""The deployment's pure parts: spec rules, routing draws under a seed, rendezvous hashing, the
bandit's choice, promote/rollback, the canary's verdict and the bucketed percentiles."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from classifier.errors import NothingToChange
from classifier.stats import LATENCY_BUCKETS_MS, VersionStats, canary_verdict, percentile
from classifier.strategy import (
    BanditRules,
    CanaryRules,
    DeploymentSpec,
    DeploymentState,
    bandit_arm,
    promoted,
    rolled_back,
    route,
    sticky_arm,
)

A, B = "model-a/1", "model-b/1"


def spec(**kwargs: object) -> DeploymentSpec:
    return DeploymentSpec.model_validate({"primary": A, **kwargs})


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"strategy": "single", "candidate": B}, "drop the candidate"),
        ({"strategy": "canary"}, "needs a candidate"),
        ({"strategy": "shadow", "candidate": A}, "must differ"),
        ({"strategy": "ab", "candidate": "../etc/1"}, "not valid"),
        ({"strategy": "canary", "candidate": "model-b"}, "name/version"),
        ({"strategy": "canary", "candidate": B, "weight": 1.5}, "less than or equal"),
        ({"strategy": "fancy", "candidate": B}, "single"),
    ],
)
def test_spec_rules(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        spec(**fields)


def shares(s: DeploymentSpec, n: int, seed: int = 3) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(route(s, camera=None, rng=rng, posteriors={}).answer for _ in range(n))


def test_canary_share_under_a_seed_is_the_weight_and_repeatable() -> None:
    canary = spec(strategy="canary", candidate=B, weight=0.1)
    counts = shares(canary, 2000)
    assert 0.07 * 2000 <= counts[B] <= 0.13 * 2000
    assert shares(canary, 2000) == counts  # the same seed, the same draws


def test_shadow_answers_with_the_primary_and_copies_a_share() -> None:
    shadow = spec(strategy="shadow", candidate=B, weight=0.25)
    rng = random.Random(1)
    routes = [route(shadow, camera=None, rng=rng, posteriors={}) for _ in range(2000)]
    assert {r.answer for r in routes} == {A}
    copied = sum(r.shadow == B for r in routes)
    assert 0.22 * 2000 <= copied <= 0.28 * 2000


def test_sticky_arms_follow_the_weights_and_move_only_what_they_must() -> None:
    cameras = [f"cam-{i}" for i in range(5000)]
    before = {c: sticky_arm(c, [(A, 0.7), (B, 0.3)]) for c in cameras}
    assert before == {c: sticky_arm(c, [(A, 0.7), (B, 0.3)]) for c in cameras}  # sticky
    after = {c: sticky_arm(c, [(A, 0.5), (B, 0.5)]) for c in cameras}
    assert sum(v == B for v in before.values()) == pytest.approx(1500, abs=150)
    assert all(after[c] == B for c in cameras if before[c] == B)  # nobody leaves the grown arm
    moved = sum(before[c] != after[c] for c in cameras)
    assert moved == pytest.approx(0.2 * 5000, abs=150)  # 0.3 -> 0.5: a fifth of the cameras
    assert {sticky_arm(c, [(A, 1.0), (B, 0.0)]) for c in cameras} == {A}


def test_ab_route_uses_the_camera_and_falls_back_to_a_draw_without_one() -> None:
    ab = spec(strategy="ab", candidate=B, weight=0.5)
    rng = random.Random(0)
    for camera in ("kennel-1", "kennel-2", "room-1"):
        answers = {route(ab, camera=camera, rng=rng, posteriors={}).answer for _ in range(20)}
        assert len(answers) == 1
    assert len({route(ab, camera=None, rng=rng, posteriors={}).answer for _ in range(50)}) == 2


@pytest.mark.parametrize("policy", ["thompson", "epsilon_greedy"])
def test_the_bandit_prefers_the_arm_with_more_rewards(policy: str) -> None:
    rules = BanditRules.model_validate({"policy": policy, "epsilon": 0.1})
    rng = random.Random(5)
    posteriors = {A: (1.0 + 45, 1.0 + 5), B: (1.0 + 20, 1.0 + 30)}
    picks = Counter(bandit_arm(rules, [A, B], posteriors, rng) for _ in range(1000))
    assert picks[A] >= 900
    even = Counter(bandit_arm(rules, [A, B], {}, rng) for _ in range(1000))
    if policy == "thompson":  # no evidence: both arms explored
        assert even[B] > 350


def test_promote_and_rollback() -> None:
    canary = DeploymentState(generation=4, rollout=3, spec=spec(strategy="canary", candidate=B))
    promoted_spec, previous = promoted(canary)
    assert (promoted_spec.strategy, promoted_spec.primary, previous) == ("single", B, A)
    assert rolled_back(canary) == (spec(), None)  # the candidate goes, the primary stays
    after = canary.changed(promoted_spec, previous=previous, at=1.0, by="admin")
    assert (after.generation, after.rollout, after.previous_primary) == (5, 5, A)
    back, previous_again = rolled_back(after)
    assert (back.primary, previous_again) == (A, B)
    with pytest.raises(NothingToChange):
        promoted(after)
    with pytest.raises(NothingToChange):
        rolled_back(DeploymentState(spec=spec()))


def test_a_weight_change_keeps_the_rollout() -> None:
    state = DeploymentState(generation=2, rollout=2, spec=spec(strategy="canary", candidate=B))
    wider = state.changed(
        spec(strategy="canary", candidate=B, weight=0.5), previous=None, at=0, by=None
    )
    assert (wider.generation, wider.rollout) == (3, 2)
    ab = wider.changed(spec(strategy="ab", candidate=B), previous=None, at=0, by=None)
    assert (ab.generation, ab.rollout) == (4, 4)


def stats(**fields: int) -> VersionStats:
    return VersionStats.from_fields({k: str(v) for k, v in fields.items()})


def test_the_canary_verdict() -> None:
    rules = CanaryRules(min_samples=100, max_error_rate=0.05, max_p95_latency_ms=100,
                        min_comparisons=20, max_disagreement=0.2)  # fmt: skip
    fast = "lat:1"  # the 1-2 ms bucket
    assert canary_verdict(rules, stats(n=99, err=50)) is None  # too young to judge
    assert "error rate" in (canary_verdict(rules, stats(n=100, err=6, **{fast: 94})) or "")
    assert canary_verdict(rules, stats(n=100, err=5, **{fast: 95})) is None
    slow = f"lat:{LATENCY_BUCKETS_MS.index(500)}"
    assert "p95 latency" in (canary_verdict(rules, stats(n=100, **{slow: 100})) or "")
    assert "disagreement" in (canary_verdict(rules, stats(cmp=20, agree=15)) or "")
    assert canary_verdict(rules, stats(cmp=20, agree=16)) is None
    off = rules.model_copy(update={"auto_rollback": False})
    assert canary_verdict(off, stats(n=100, err=100)) is None


def test_stats_fields_and_percentiles() -> None:
    s = stats(n=10, err=1, cmp=4, agree=3, fb=5, fb_ok=4, **{"cf:cat:dog": 1, "cf:cat:cat": 3})
    assert (s.error_rate, s.agreement, s.posterior) == (0.1, 0.75, (5.0, 2.0))
    assert s.confusion["cat"] == {"cat": 3, "dog": 1, "other": 0}
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    counts[LATENCY_BUCKETS_MS.index(10)] = 100  # all in the 7.5-10 ms bucket
    assert percentile(counts, 0.5) == pytest.approx(8.75)
    assert percentile([0] * len(counts), 0.5) is None
