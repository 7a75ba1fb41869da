"""The writes a transaction step returns: plain values, no Redis. `store.Store` queues them in
one MULTI/EXEC (`Store._queue` says what each one is in Redis); domain modules compose them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Put:
    key: str
    value: Json
    ttl_s: int | None = None


@dataclass(frozen=True)
class Delete:
    key: str


@dataclass(frozen=True)
class HashPut:
    """One hash field: a JSON document, or a plain string (an index entry)."""

    key: str
    field: str
    value: Json | str


@dataclass(frozen=True)
class HashDel:
    key: str
    field: str


@dataclass(frozen=True)
class ListPush:
    """Prepend to a list capped at `cap` entries (newest first)."""

    key: str
    value: Json
    cap: int


@dataclass(frozen=True)
class SetAdd:
    key: str
    member: str


@dataclass(frozen=True)
class SetRemove:
    key: str
    member: str


@dataclass(frozen=True)
class ScoredAdd:
    key: str
    member: str
    score: float


@dataclass(frozen=True)
class ScoredRemove:
    key: str
    member: str


@dataclass(frozen=True)
class Emit:
    """Append an event to the capped stream that feeds `GET /v1/events`."""

    type: str
    data: Json


Op = (
    Put
    | Delete
    | HashPut
    | HashDel
    | ListPush
    | SetAdd
    | SetRemove
    | ScoredAdd
    | ScoredRemove
    | Emit
)
