"""The deployment: which versions serve in which role, and where each request goes. Pure: no I/O;
the random draws come from the caller's `random.Random` (seeded in tests), the time from the caller.

Strategies (the `weight` means what the strategy needs):

| strategy | who answers                                   | `weight`                          |
|----------|-----------------------------------------------|-----------------------------------|
| single   | the primary                                   | -                                 |
| shadow   | the primary; a copy goes to the candidate     | share of requests copied          |
| canary   | the candidate on a random share, else primary | share answered by the candidate   |
| ab       | sticky per camera id (weighted rendezvous)    | share of cameras on the candidate |
| bandit   | Thompson sampling (or epsilon-greedy) on the  | -                                 |
|          | feedback's Beta posteriors                    |                                   |

Why our own lines for the hashing and the sampling (about 20): rendezvous hashing with weights is
one formula (`-w / ln h`), and Thompson sampling is `random.betavariate`; a library for either
would not make the seeded draw any easier to test.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from classifier.errors import NothingToChange
from classifier.refs import check_ref

Ref = Annotated[str, AfterValidator(check_ref)]
Posterior = tuple[float, float]  # Beta(alpha, beta) of an arm's reward (prediction was right)
PRIMARY, CANDIDATE = "primary", "candidate"


class Strategy(StrEnum):
    SINGLE = "single"
    SHADOW = "shadow"
    CANARY = "canary"
    AB = "ab"
    BANDIT = "bandit"


class CanaryRules(BaseModel):
    """When a canary rolls itself back (judged on the whole fleet's counts, every sync)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_rollback: bool = True
    min_samples: int = Field(
        100, ge=1, description="Candidate requests before errors/latency count."
    )
    max_error_rate: float = Field(0.05, ge=0, le=1)
    max_p95_latency_ms: float = Field(1000.0, gt=0)
    min_comparisons: int = Field(50, ge=1, description="Comparisons before disagreement counts.")
    max_disagreement: float = Field(0.2, ge=0, le=1)
    compare_fraction: float = Field(
        0.25, ge=0, le=1, description="Share of canary requests the primary also answers, off path."
    )


class BanditRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Literal["thompson", "epsilon_greedy"] = "thompson"
    epsilon: float = Field(0.1, ge=0, le=1, description="epsilon_greedy: share of random draws.")
    reward_window_s: float = Field(
        3600.0, gt=0, description="Feedback later than this after its prediction is no reward."
    )


class DeploymentSpec(BaseModel):
    """What an admin PUTs: the strategy and the versions in it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy = Strategy.SINGLE
    primary: Ref = Field(examples=["efficientnet-lite0-pets/1"])
    candidate: Ref | None = Field(None, examples=["efficientnet-lite2-pets/1"])
    weight: float = Field(0.1, ge=0, le=1, description="See the strategy table in the docs.")
    canary: CanaryRules = Field(default_factory=CanaryRules)
    bandit: BanditRules = Field(default_factory=BanditRules)

    @model_validator(mode="after")
    def _roles(self) -> DeploymentSpec:
        if self.strategy is Strategy.SINGLE and self.candidate is not None:
            raise ValueError("single serves the primary alone: drop the candidate")
        if self.strategy is not Strategy.SINGLE and self.candidate is None:
            raise ValueError(f"{self.strategy} needs a candidate")
        if self.candidate == self.primary:
            raise ValueError("the candidate must differ from the primary")
        return self

    def versions(self) -> list[str]:
        return [self.primary] if self.candidate is None else [self.primary, self.candidate]

    def role_of(self, version: str) -> str | None:
        return {self.primary: PRIMARY, self.candidate: CANDIDATE}.get(version)

    def same_rollout(self, other: DeploymentSpec) -> bool:
        """Same strategy and versions: a weight or rule change keeps the rollout's counts."""
        return (self.strategy, self.primary, self.candidate) == (
            other.strategy,
            other.primary,
            other.candidate,
        )


class DeploymentState(BaseModel):
    """What Redis holds: the spec, its generation (+1 per change) and its rollout (the generation
    at which strategy or versions last changed: the key of the rollout's counts)."""

    generation: int = 0
    rollout: int = 0
    spec: DeploymentSpec
    previous_primary: Ref | None = None
    updated_at: float | None = None
    updated_by: str | None = None

    def changed(
        self, spec: DeploymentSpec, *, previous: str | None, at: float, by: str | None
    ) -> DeploymentState:
        generation = self.generation + 1
        rollout = self.rollout if spec.same_rollout(self.spec) else generation
        return DeploymentState(
            generation=generation,
            rollout=rollout,
            spec=spec,
            previous_primary=previous,
            updated_at=at,
            updated_by=by,
        )


@dataclass(frozen=True)
class Route:
    """Where one request goes: who answers, in which role; a version to copy it to (shadow);
    whether the primary should also answer it off path (canary disagreement)."""

    answer: str
    role: str
    shadow: str | None = None
    compare: bool = False


def route(
    spec: DeploymentSpec,
    *,
    camera: str | None,
    rng: random.Random,
    posteriors: Mapping[str, Posterior],
) -> Route:
    primary, candidate = spec.primary, spec.candidate
    if candidate is None or spec.strategy is Strategy.SINGLE:
        return Route(primary, PRIMARY)
    if spec.strategy is Strategy.SHADOW:
        return Route(primary, PRIMARY, shadow=candidate if rng.random() < spec.weight else None)
    if spec.strategy is Strategy.CANARY:
        if rng.random() < spec.weight:
            return Route(candidate, CANDIDATE, compare=rng.random() < spec.canary.compare_fraction)
        return Route(primary, PRIMARY)
    if spec.strategy is Strategy.AB:
        if camera is None:  # not sticky without a key: a weighted draw
            chosen = candidate if rng.random() < spec.weight else primary
        else:
            chosen = sticky_arm(camera, [(primary, 1 - spec.weight), (candidate, spec.weight)])
    else:
        chosen = bandit_arm(spec.bandit, [primary, candidate], posteriors, rng)
    return Route(chosen, PRIMARY if chosen == primary else CANDIDATE)


def unit_hash(*parts: str) -> float:
    """A hash of `parts` in (0, 1), the same in every process (not Python's salted hash)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2**64


def sticky_arm(key: str, arms: Sequence[tuple[str, float]]) -> str:
    """Weighted rendezvous (HRW) hashing: the arm with the highest `-w / ln h(arm, key)`. Each
    arm wins with probability w / sum(w), and raising one arm's weight only moves keys TO it."""
    best, best_score = arms[0][0], -math.inf
    for arm, weight in arms:
        if weight <= 0:
            continue
        score = -weight / math.log(unit_hash(arm, key))
        if score > best_score:
            best, best_score = arm, score
    return best


def bandit_arm(
    rules: BanditRules,
    arms: Sequence[str],
    posteriors: Mapping[str, Posterior],
    rng: random.Random,
) -> str:
    """Thompson: the arm whose draw from its Beta posterior is highest. Epsilon-greedy: a random
    arm with probability epsilon, else the best posterior mean (the first arm on a tie)."""
    prior = (1.0, 1.0)
    if rules.policy == "thompson":
        return max(arms, key=lambda arm: rng.betavariate(*posteriors.get(arm, prior)))
    if rng.random() < rules.epsilon:
        return rng.choice(list(arms))
    return max(arms, key=lambda arm: _mean(posteriors.get(arm, prior)))


def _mean(posterior: Posterior) -> float:
    alpha, beta = posterior
    return alpha / (alpha + beta)


def promoted(state: DeploymentState) -> tuple[DeploymentSpec, str]:
    """The candidate alone, as the primary; the old primary is remembered for a rollback."""
    if state.spec.candidate is None:
        raise NothingToChange(f"{state.spec.strategy} deployment has no candidate to promote")
    return DeploymentSpec(primary=state.spec.candidate), state.spec.primary


def rolled_back(state: DeploymentState) -> tuple[DeploymentSpec, str | None]:
    """With a candidate: the primary alone (the rollout is abandoned). Without one: the previous
    primary alone (undoes a promote; a second rollback undoes the first)."""
    spec = state.spec
    if spec.candidate is not None:
        return DeploymentSpec(primary=spec.primary), state.previous_primary
    if state.previous_primary is not None:
        return DeploymentSpec(primary=state.previous_primary), spec.primary
    raise NothingToChange("no candidate and no previous primary to roll back to")
