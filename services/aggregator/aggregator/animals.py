"""Use cases of the adoption registry: animals kept in one Redis hash, changed transactionally,
with an index of the animals placed in each space (what alert evaluation reads)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aggregator import alerting, cautions, spaces
from aggregator.errors import AnimalNotFound
from aggregator.registry import SPECIES, STATUSES, Animal, new_animal, updated_animal
from aggregator.shelter import Shelter
from aggregator.store import Reader
from aggregator.writes import Emit, HashDel, HashPut, Op, SetAdd, SetRemove

Json = dict[str, Any]
Change = Callable[[Animal | None], Animal | None]


async def list_animals(sh: Shelter) -> list[Json]:
    """Every animal by name, each with its `warnings` (`cautions.py`)."""
    animals = (await sh.store.hash_json(sh.store.key("animals"))).values()
    return await warned(sh, sorted(animals, key=lambda a: (a["name"], a["id"])))


async def get_animal(sh: Shelter, animal_id: str) -> Json:
    found = await sh.store.hash_field_json(sh.store.key("animals"), animal_id)
    if found is None:
        raise AnimalNotFound(f"no animal {animal_id!r}")
    return (await warned(sh, [found]))[0]


async def warned(sh: Shelter, docs: list[Json]) -> list[Json]:
    """The animals with the warnings about their spaces as the aggregator knows them now."""
    wanted = sorted({d["space_id"] for d in docs if d.get("space_id")})
    now, states = sh.clock(), await spaces.load_states(sh, wanted)
    listed = await sh.store.hash_json(sh.store.key("camhealth", "cameras"))
    feeds = cautions.Feeds(states=states, ingest=listed)
    return [
        {**d, "warnings": cautions.about(Animal.from_dict(d), feeds, now, sh.fusion)} for d in docs
    ]


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
    """One animal's change, its space index (`animals:in:{space}`) and event, then the alerts
    of every space it left or entered."""
    key = sh.store.key
    touched: set[str] = set()

    async def step(r: Reader) -> tuple[Json, list[Op]]:
        raw = (await r.hash_json(key("animals"), [animal_id])).get(animal_id)
        before = None if raw is None else Animal.from_dict(raw)
        after = change(before)
        was = before.space_id if before is not None else None
        goes = after.space_id if after is not None else None
        touched.update(s for s in (was, goes) if s)
        ops: list[Op] = []
        if was != goes:
            ops += [SetRemove(key("animals", "in", was), animal_id)] if was else []
            ops += [SetAdd(key("animals", "in", goes), animal_id)] if goes else []
        if after is None:
            gone = {"id": animal_id}
            return gone, [*ops, HashDel(key("animals"), animal_id), Emit("animal.deleted", gone)]
        doc = after.to_dict()
        kind = "animal.created" if before is None else "animal.updated"
        return doc, [*ops, HashPut(key("animals"), animal_id, doc), Emit(kind, doc)]

    result = await sh.store.transact(step)
    if touched:
        await alerting.evaluate_quietly(sh, scope=touched)
    return result if "name" not in result else (await warned(sh, [result]))[0]


async def summary(sh: Shelter) -> Json:
    """Animals by species and status; spaces by what they read now."""
    counts = {s: dict.fromkeys(STATUSES, 0) for s in SPECIES}
    for animal in (await sh.store.hash_json(sh.store.key("animals"))).values():
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
