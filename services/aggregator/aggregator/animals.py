"""Use cases of the adoption registry: animals kept in one Redis hash, changed transactionally."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aggregator import alerting, spaces
from aggregator.errors import AnimalNotFound
from aggregator.registry import SPECIES, STATUSES, Animal, new_animal, updated_animal
from aggregator.shelter import Shelter
from aggregator.store import Emit, HashDel, HashPut, Op, Reader

Json = dict[str, Any]
Change = Callable[[Animal | None], Animal | None]


async def list_animals(sh: Shelter) -> list[Json]:
    animals = (await sh.store.hash_json(sh.store.key("animals"))).values()
    return sorted(animals, key=lambda a: (a["name"], a["id"]))


async def get_animal(sh: Shelter, animal_id: str) -> Json:
    found = await sh.store.hash_field_json(sh.store.key("animals"), animal_id)
    if found is None:
        raise AnimalNotFound(f"no animal {animal_id!r}")
    return found


async def create_animal(sh: Shelter, fields: Json) -> Json:
    animal_id = uuid.uuid4().hex
    return await _change(
        sh, animal_id, lambda _: new_animal(animal_id=animal_id, fields=fields, now=sh.clock())
    )


async def update_animal(sh: Shelter, animal_id: str, changes: Json) -> Json:
    """PUT (every field) and PATCH (some fields); the status move is validated."""

    def change(animal: Animal | None) -> Animal:
        if animal is None:
            raise AnimalNotFound(f"no animal {animal_id!r}")
        return updated_animal(animal, changes=changes, now=sh.clock())

    return await _change(sh, animal_id, change)


async def delete_animal(sh: Shelter, animal_id: str) -> None:
    def change(animal: Animal | None) -> None:
        if animal is None:
            raise AnimalNotFound(f"no animal {animal_id!r}")

    await _change(sh, animal_id, change)


async def _change(sh: Shelter, animal_id: str, change: Change) -> Json:
    key = sh.store.key("animals")
    touched: set[str] = set()

    async def step(r: Reader) -> tuple[Json, list[Op]]:
        raw = (await r.hash_json(key)).get(animal_id)
        before = None if raw is None else Animal.from_dict(raw)
        after = change(before)
        touched.update(a.space_id for a in (before, after) if a is not None and a.space_id)
        if after is None:
            gone = {"id": animal_id}
            return gone, [HashDel(key, animal_id), Emit("animal.deleted", gone)]
        doc = after.to_dict()
        kind = "animal.created" if before is None else "animal.updated"
        return doc, [HashPut(key, animal_id, doc), Emit(kind, doc)]

    result = await sh.store.transact(step)
    if touched:
        await alerting.evaluate_quietly(sh, scope=touched)
    return result


async def summary(sh: Shelter) -> Json:
    """Animals by species and status; spaces by what they read now."""
    counts = {s: dict.fromkeys(STATUSES, 0) for s in SPECIES}
    for animal in await list_animals(sh):
        counts[animal["species"]][animal["status"]] += 1
    occupied = dict.fromkeys(SPECIES, 0)
    tally = {"empty": 0, "unknown": 0}
    for _, seen in (await spaces.seen_spaces(sh)).values():
        if seen.occupant in occupied:
            occupied[seen.occupant] += 1
        else:
            tally[seen.occupant] += 1
    return {
        "animals": counts,
        "spaces": {
            "occupied": occupied,
            **tally,
            "total": sum(occupied.values()) + sum(tally.values()),
        },
    }
