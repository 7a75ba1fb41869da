"""Domain errors of the aggregator. They carry no HTTP; `main.ERROR_STATUS` maps them once.

AggregatorError
├── NotFound                      -> 404
│   ├── SpaceNotFound
│   ├── AnimalNotFound
│   └── AlertNotFound
├── Conflict                      -> 409
│   ├── InvalidTransition         (animal status, or acking a resolved alert)
│   └── FrameConflict             (a known frame id re-sent with a different body)
├── InvalidInput                  -> 422
│   ├── ObservationRejected       (captured_at too far in the future)
│   └── BadEventId                (Last-Event-ID is not a stream id)
└── Unavailable                   -> 503
    ├── StoreUnavailable          (Redis does not answer)
    └── StoreContention           (optimistic retries exhausted)
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base of every error the aggregator raises on purpose."""

    title = "Aggregator error"


class NotFound(AggregatorError):
    title = "Not found"


class SpaceNotFound(NotFound):
    title = "Space not found"


class AnimalNotFound(NotFound):
    title = "Animal not found"


class AlertNotFound(NotFound):
    title = "Alert not found"


class Conflict(AggregatorError):
    title = "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid status transition"


class FrameConflict(Conflict):
    title = "Frame id reused with a different observation"


class InvalidInput(AggregatorError):
    title = "Invalid input"


class ObservationRejected(InvalidInput):
    title = "Observation rejected"


class BadEventId(InvalidInput):
    title = "Bad event id"


class Unavailable(AggregatorError):
    title = "Service unavailable"


class StoreUnavailable(Unavailable):
    title = "Redis unavailable"


class StoreContention(Unavailable):
    title = "Too much contention on one key"
