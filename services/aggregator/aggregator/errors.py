"""Domain errors of the aggregator, and ERROR_STATUS, the one map from them to HTTP statuses.

The exceptions carry no HTTP; the map sits here, beside the tree, because both `main` (the
handlers, through `shelter_kit.install`) and `api` (the per-item problems of a batch) need it.
The kit names each problem after the class: `SpaceNotFound` is `.../problems/space-not-found`,
titled "Space not found".

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
│   ├── BatchTooLarge             (more observations than `batch_max`)
│   └── BadEventId                (Last-Event-ID is not a stream id)
└── Unavailable                   -> 503
    ├── StoreContention           (optimistic retries exhausted)
    └── IngestUnavailable         (camera-ingest's camera list unreachable; never reaches HTTP)
shelter_kit StoreUnavailable      -> 503  (Redis does not answer; re-exported here)
"""

from __future__ import annotations

from shelter_kit.errors import StoreUnavailable as StoreUnavailable  # re-exported


class AggregatorError(Exception):
    """Base of every error the aggregator raises on purpose."""


class NotFound(AggregatorError):
    pass


class SpaceNotFound(NotFound):
    pass


class AnimalNotFound(NotFound):
    pass


class AlertNotFound(NotFound):
    pass


class Conflict(AggregatorError):
    pass


class InvalidTransition(Conflict):
    pass


class FrameConflict(Conflict):
    pass


class InvalidInput(AggregatorError):
    pass


class ObservationRejected(InvalidInput):
    pass


class BatchTooLarge(InvalidInput):
    pass


class BadEventId(InvalidInput):
    pass


class Unavailable(AggregatorError):
    pass


class StoreContention(Unavailable):
    pass


class IngestUnavailable(Unavailable):
    pass


ERROR_STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unavailable: 503,
    StoreUnavailable: 503,
}
