"""A version's counts in one rollout, as the whole fleet recorded them, and the canary's verdict.
Pure: built from the Redis hash fields `store.py` reads.

Hash fields of `clf:stats:<rollout>:<name/version>`:
`n` requests (answered, or run as a shadow), `err` model errors, `lat:<i>` latency histogram
(bucket i of LATENCY_BUCKETS_MS; i = len for the overflow), `cmp` comparisons with the primary,
`agree`, `cf:<primary label>:<candidate label>` the confusion table, `fb` / `fb_ok` feedback
joined within the reward window (the bandit's evidence).

Why our own percentile (a dozen lines): the fleet's latencies are merged in Redis as bucket
counts; a percentile of merged buckets is a linear interpolation, not worth a dependency.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

from classifier.model import LABELS
from classifier.strategy import CanaryRules, Posterior

LATENCY_BUCKETS_MS = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
                      1000, 2000, 5000, 10000)  # fmt: skip


def latency_field(seconds: float) -> str:
    return f"lat:{bisect.bisect_left(LATENCY_BUCKETS_MS, seconds * 1000)}"


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1) in ms of a bucketed histogram, interpolated within its bucket."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index >= len(LATENCY_BUCKETS_MS):
                return float(LATENCY_BUCKETS_MS[-1])
            low = LATENCY_BUCKETS_MS[index - 1] if index else 0.0
            high = LATENCY_BUCKETS_MS[index]
            return round(low + (high - low) * (rank - seen) / count, 2)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class VersionStats:
    requests: int = 0
    errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    compared: int = 0
    agreed: int = 0
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {p: dict.fromkeys(LABELS, 0) for p in LABELS}
    )
    rewarded: int = 0
    rewards: int = 0

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> VersionStats:
        stats = cls()
        for key, raw in fields.items():
            value = int(raw)
            kind, _, rest = key.partition(":")
            if kind == "lat" and rest.isdigit() and int(rest) < len(stats.latency):
                stats.latency[int(rest)] += value
            elif kind == "cf":
                primary, _, candidate = rest.partition(":")
                if primary in stats.confusion and candidate in stats.confusion[primary]:
                    stats.confusion[primary][candidate] += value
            elif kind in _SCALARS:
                setattr(stats, _SCALARS[kind], value)
        return stats

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors, self.requests)

    @property
    def agreement(self) -> float | None:
        return _ratio(self.agreed, self.compared)

    def p(self, q: float) -> float | None:
        return percentile(self.latency, q)

    @property
    def posterior(self) -> Posterior:
        """Beta(1 + right, 1 + wrong) over the feedback joined within the reward window."""
        return (1.0 + self.rewards, 1.0 + self.rewarded - self.rewards)


_SCALARS = {
    "n": "requests",
    "err": "errors",
    "cmp": "compared",
    "agree": "agreed",
    "fb": "rewarded",
    "fb_ok": "rewards",
}


def canary_verdict(rules: CanaryRules, candidate: VersionStats) -> str | None:
    """Why the canary must roll back, or None while it is within its limits (or too young)."""
    if not rules.auto_rollback:
        return None
    n = candidate.requests
    if n >= rules.min_samples:
        rate = candidate.errors / n
        if rate > rules.max_error_rate:
            return f"error rate {rate:.1%} over {n} requests > {rules.max_error_rate:.1%}"
        p95 = candidate.p(0.95) or 0.0
        if p95 > rules.max_p95_latency_ms:
            return f"p95 latency {p95:.0f} ms over {n} requests > {rules.max_p95_latency_ms:g} ms"
    if candidate.compared >= rules.min_comparisons:
        disagreement = 1 - candidate.agreed / candidate.compared
        if disagreement > rules.max_disagreement:
            return (
                f"disagreement with the primary {disagreement:.1%} over {candidate.compared}"
                f" comparisons > {rules.max_disagreement:.1%}"
            )
    return None
