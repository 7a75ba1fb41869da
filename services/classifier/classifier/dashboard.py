"""GET /v1/deployment's body, from the state and the fleet's counts this replica last synced."""

from __future__ import annotations

from datetime import UTC, datetime

from classifier.control import Control
from classifier.registry import ModelRegistry
from classifier.schemas_deployment import (
    ComparisonView,
    DeploymentView,
    FeedbackView,
    LatencyView,
    PosteriorView,
    StoreView,
    VersionView,
)
from classifier.stats import VersionStats, canary_verdict
from classifier.strategy import CANDIDATE, DeploymentSpec, Strategy


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def target_share(spec: DeploymentSpec, role: str) -> float | None:
    if spec.strategy in (Strategy.CANARY, Strategy.AB):
        return spec.weight if role == CANDIDATE else 1 - spec.weight
    if spec.strategy is Strategy.BANDIT:
        return None
    return 0.0 if role == CANDIDATE else 1.0  # single, shadow: the primary answers all


def describe(control: Control, registry: ModelRegistry) -> DeploymentView:
    state, snap = control.current(), control.snapshot
    spec = state.spec
    answered = sum(snap.stats.get(v, VersionStats()).requests for v in spec.versions())
    rows = []
    for version in spec.versions():
        role = spec.role_of(version) or ""
        s = snap.stats.get(version, VersionStats())
        n, right = snap.totals.get(version, (0, 0))
        served = registry.find(version)
        alpha, beta = s.posterior
        shadowed = spec.strategy is Strategy.SHADOW and role == CANDIDATE
        rows.append(
            VersionView(
                version=version,
                model=version.split("/", 1)[0],
                model_version=version.split("/", 1)[1],
                role=role,
                status=served.status if served is not None else "missing",
                target_share=target_share(spec, role),
                share=None if shadowed or not answered else round(s.requests / answered, 4),
                requests=s.requests,
                errors=s.errors,
                error_rate=s.error_rate,
                latency=LatencyView(p50_ms=s.p(0.5), p95_ms=s.p(0.95)),
                compared=s.compared,
                agreement=s.agreement,
                feedback=FeedbackView(
                    count=n, correct=right, accuracy=round(right / n, 4) if n else None
                ),
                posterior=PosteriorView(
                    alpha=alpha, beta=beta, mean=round(alpha / (alpha + beta), 4)
                )
                if spec.strategy is Strategy.BANDIT
                else None,
            )
        )
    comparison, verdict = None, None
    if spec.candidate is not None:
        c = snap.stats.get(spec.candidate, VersionStats())
        comparison = ComparisonView(
            primary=spec.primary,
            candidate=spec.candidate,
            compared=c.compared,
            agreed=c.agreed,
            agreement=c.agreement,
            confusion=c.confusion,
            disagreements=snap.disagreements,
        )
        if spec.strategy is Strategy.CANARY:
            verdict = canary_verdict(spec.canary, c)
    st = control.store_status
    return DeploymentView(
        generation=state.generation,
        rollout=state.rollout,
        strategy=str(spec.strategy),
        spec=spec,
        previous_primary=state.previous_primary,
        updated_at=_time(state.updated_at),
        updated_by=state.updated_by,
        store=StoreView(status=st.status, detail=st.detail, last_sync_at=_time(st.last_sync_at)),
        versions=rows,
        comparison=comparison,
        verdict=verdict,
    )
