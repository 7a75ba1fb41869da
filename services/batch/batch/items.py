"""A job's items and their outcomes, as plain values, and how each is written down.

An `Item` is what a chunk carries for one input: its index in the job (the idempotency key of its
result), its name (the archive member, the URL, or the frame id), a failure found before any work
(a member that is not an image), and for archived frames the label the primary gave at the time
and the staff's label where there is one. An `Outcome` is what became of it; `Outcome.stored` is
the JSON kept as the item's result, `Result` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    index: int
    name: str
    reason: str | None = None  # failed before any work: a short code ...
    detail: str | None = None  # ... and what happened
    primary: str | None = None  # archived frames: the primary's label at the time
    feedback: str | None = None  # archived frames: the staff's label, where present

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"i": self.index, "n": self.name}
        optional = {"r": self.reason, "d": self.detail, "p": self.primary, "f": self.feedback}
        doc.update({key: value for key, value in optional.items() if value is not None})
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Item:
        return cls(
            index=int(doc["i"]),
            name=str(doc["n"]),
            reason=doc.get("r"),
            detail=doc.get("d"),
            primary=doc.get("p"),
            feedback=doc.get("f"),
        )

    def failed(self, reason: str, detail: str) -> Outcome:
        return Outcome(self, reason=reason, detail=detail)

    def classified(self, label: str, probabilities: dict[str, float]) -> Outcome:
        return Outcome(self, label=label, probabilities=probabilities)


@dataclass(frozen=True)
class Outcome:
    item: Item
    label: str | None = None
    probabilities: dict[str, float] | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.label is not None

    def stored(self) -> str:
        doc: dict[str, Any] = {"item": self.item.name}
        if self.ok:
            doc.update(label=self.label, probabilities=self.probabilities)
        else:
            doc.update(reason=self.reason, detail=self.detail)
        if self.item.primary is not None:
            doc["primary"] = self.item.primary
        if self.item.feedback is not None:
            doc["feedback"] = self.item.feedback
        return json.dumps(doc, separators=(",", ":"))


@dataclass(frozen=True)
class Result:
    """A stored outcome, read back for the download."""

    index: int
    item: str
    label: str | None
    probabilities: dict[str, float]
    reason: str | None
    detail: str | None
    primary: str | None
    feedback: str | None

    @classmethod
    def parse(cls, index: int, raw: str | bytes) -> Result:
        doc = json.loads(raw)
        return cls(
            index=index,
            item=doc["item"],
            label=doc.get("label"),
            probabilities=doc.get("probabilities") or {},
            reason=doc.get("reason"),
            detail=doc.get("detail"),
            primary=doc.get("primary"),
            feedback=doc.get("feedback"),
        )
