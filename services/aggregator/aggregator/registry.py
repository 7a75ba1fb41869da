"""Adoption registry rules: the animal record and its allowed status transitions. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from aggregator.errors import InvalidTransition

SPECIES = ("cat", "dog")
STATUSES = ("intake", "available", "reserved", "adopted")

# An adopted animal may come back (returned), and then goes through intake again.
TRANSITIONS: dict[str, frozenset[str]] = {
    "intake": frozenset({"available"}),
    "available": frozenset({"reserved", "intake"}),
    "reserved": frozenset({"available", "adopted"}),
    "adopted": frozenset({"intake"}),
}


@dataclass(frozen=True)
class Animal:
    id: str
    name: str
    species: str
    status: str
    space_id: str | None
    notes: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_at", "updated_at", "status_changed_at"):
            data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Animal:
        return cls(
            id=data["id"],
            name=data["name"],
            species=data["species"],
            status=data["status"],
            space_id=data["space_id"],
            notes=data["notes"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            status_changed_at=datetime.fromisoformat(data["status_changed_at"]),
        )


# Why a refused move is refused, in the words staff use (the 409's detail quotes it).
WHY_NOT: dict[str, str] = {
    "intake": "an animal in intake must be made available first",
    "available": "an available animal must be reserved before it is adopted",
    "reserved": "a reserved animal goes back to available before intake",
    "adopted": "an adopted animal that comes back goes through intake again",
}


def check_transition(current: str, new: str, *, name: str = "The animal") -> None:
    """Raise InvalidTransition unless `current -> new` is allowed (staying put always is)."""
    if new != current and new not in TRANSITIONS[current]:
        allowed = " or ".join(sorted(TRANSITIONS[current])) or "nothing"
        raise InvalidTransition(
            f"{name} cannot move from {current} to {new}: {WHY_NOT[current]} "
            f"(from {current} it can move to {allowed})."
        )


def new_animal(*, animal_id: str, fields: dict[str, Any], now: datetime) -> Animal:
    return Animal(
        id=animal_id,
        name=fields["name"],
        species=fields["species"],
        status=fields.get("status") or "intake",
        space_id=fields.get("space_id"),
        notes=fields.get("notes") or "",
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )


def updated_animal(animal: Animal, *, changes: dict[str, Any], now: datetime) -> Animal:
    """Apply a partial change (PATCH; PUT passes every field), validating the status move."""
    status = changes.get("status", animal.status)
    check_transition(animal.status, status, name=animal.name)
    allowed = {k: v for k, v in changes.items() if k in ("name", "species", "space_id", "notes")}
    if allowed.get("notes", "") is None:
        allowed["notes"] = ""
    changed_at = now if status != animal.status else animal.status_changed_at
    return replace(animal, **allowed, status=status, updated_at=now, status_changed_at=changed_at)
