"""Camera health rules: which camera conditions hold now, given camera-ingest's statuses. Pure.

Two kinds, keyed like every alert (`kind:space_id:camera_id`):

- `camera_offline`: the camera has been offline for longer than `offline_after_s`. It stops
  holding when the camera is online again, or is gone from ingest's list.
- `frames_dead`: the camera's `frames_dead` count grew since the aggregator last saw it. It holds
  until no new dead frame has arrived for `offline_after_s` (measured on the aggregator's clock,
  from when it saw the count grow), or the camera is gone. An ack only marks it seen, as for
  every alert. A camera seen for the first time sets the baseline and raises nothing.

`Seen` is what the aggregator remembers per camera between polls (the store keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.alerts import Condition

KINDS = ("camera_offline", "frames_dead")


@dataclass(frozen=True)
class CameraHealth:
    id: str
    space_id: str
    online: bool = True
    offline_since: datetime | None = None
    last_error: str | None = None
    frames_dead: int = 0
    last_dead_reason: str | None = None
    last_dead_at: datetime | None = None


@dataclass(frozen=True)
class Seen:
    frames_dead: int
    grew_at: datetime | None = None  # when the aggregator last saw the count grow


def evaluate(
    *,
    cameras: Sequence[CameraHealth],
    seen: Mapping[str, Seen],
    now: datetime,
    offline_after_s: float,
) -> tuple[dict[str, Condition], dict[str, Seen]]:
    """The camera conditions that hold at `now`, and what to remember for the next poll."""
    found: list[Condition] = []
    remembered: dict[str, Seen] = {}
    for cam in cameras:
        offline = _offline(cam, now, offline_after_s)
        if offline is not None:
            found.append(offline)
        remembered[cam.id] = _next_seen(seen.get(cam.id), cam, now)
        grew_at = remembered[cam.id].grew_at
        if grew_at is not None and (now - grew_at).total_seconds() <= offline_after_s:
            found.append(_dead(cam))
    return {c.key: c for c in found}, remembered


def _offline(cam: CameraHealth, now: datetime, after_s: float) -> Condition | None:
    if cam.online or cam.offline_since is None:
        return None
    down_s = (now - cam.offline_since).total_seconds()
    if down_s <= after_s:
        return None
    why = f" (last error: {cam.last_error})" if cam.last_error else ""
    msg = (
        f"Camera {cam.id} of {cam.space_id} has been offline since {moment(cam.offline_since)}{why}"
    )
    return _condition("camera_offline", cam, msg)


def _next_seen(before: Seen | None, cam: CameraHealth, now: datetime) -> Seen:
    if before is None:  # first sight: the baseline, whatever the count
        return Seen(cam.frames_dead)
    grew = cam.frames_dead > before.frames_dead
    return Seen(cam.frames_dead, now if grew else before.grew_at)


def _dead(cam: CameraHealth) -> Condition:
    when = f" the last at {moment(cam.last_dead_at)}" if cam.last_dead_at else ""
    why = f" (last reason: {cam.last_dead_reason})" if cam.last_dead_reason else ""
    msg = (
        f"Camera {cam.id} of {cam.space_id} has frames that could not be delivered: "
        f"{cam.frames_dead} in all,{when}{why}"
    )
    return _condition("frames_dead", cam, msg)


def moment(at: datetime) -> str:
    """`1 Dec 14:02 UTC`: a date and a time of day, for a person reading the alert."""
    utc = at.astimezone(UTC)
    return f"{utc.day} {utc:%b %H:%M} UTC"


def _condition(kind: str, cam: CameraHealth, message: str) -> Condition:
    return Condition(f"{kind}:{cam.space_id}:{cam.id}", kind, cam.space_id, cam.id, message)
