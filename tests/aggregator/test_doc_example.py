"""docs/aggregation.md's worked fusion example, recomputed with the real fusion code.

The numbers are read from the doc's table and sentences, so the doc cannot drift from the code:
change either and this fails until the other agrees.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fusion import (
    FusionParams,
    Reading,
    SpaceState,
    decay_factor,
    fuse,
    softmax,
    view,
)
from tests.servers import ROOT

DOC = (ROOT / "docs" / "aggregation.md").read_text(encoding="utf-8")
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
P = FusionParams()  # the example uses the defaults
PROBS = {
    "cat": {"cat": 0.9, "dog": 0.05, "other": 0.05},
    "dog": {"cat": 0.05, "dog": 0.9, "other": 0.05},
}
MINUS, TIMES = "\u2212", "\u00d7"  # the typography of the doc: minus sign, multiplication sign
NUMBER = re.compile(rf"[-{MINUS}]?\d+(?:\.\d+)?")


def numbers(cell: str) -> list[float]:
    return [float(n.replace(MINUS, "-")) for n in NUMBER.findall(cell)]


def example_rows() -> list[list[str]]:
    section = DOC.split("### Worked example", 1)[1]
    table = next(block for block in section.split("\n\n") if block.startswith("| t |"))
    rows = [line.strip().strip("|").split("|") for line in table.splitlines()]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # past the header and rule


def replay() -> dict[int, SpaceState]:
    """Fuse the table's frames in order; the state after each second."""
    states: dict[int, SpaceState] = {}
    state = SpaceState("k1")
    t = 0
    for when, frame, *_ in example_rows():
        times = [int(n) for n in re.findall(r"\d+", when)]
        count = int(frame.split(TIMES)[1]) if TIMES in frame else times[-1] - times[0] + 1
        for _ in range(count):
            label = frame.split()[0]
            reading = Reading(f"f{t}", "cam", T0 + timedelta(seconds=t), label, PROBS[label])
            state, outcome = fuse(state, reading, P)
            assert outcome == "fused"
            states[t] = state
            t += 1
    return states


STATES = replay()


def test_the_table_has_the_rows_it_had() -> None:
    assert len(example_rows()) == 12  # t = 7-9 share one row
    assert max(STATES) == 13


@pytest.mark.parametrize("row", example_rows(), ids=lambda row: f"t={row[0]}")
def test_each_row_of_the_table(row: list[str]) -> None:
    when, _, scores, weight, p_cat, run, occupant = row
    state = STATES[int(re.findall(r"\d+", when)[-1])]
    if "..." not in scores:
        assert [state.scores[c] for c in ("cat", "dog", "empty")] == pytest.approx(
            numbers(scores), abs=0.006
        )
    if weight:
        assert state.weight == pytest.approx(numbers(weight)[0], abs=0.006)
    if p_cat:
        posterior = softmax(state.scores)
        shown = numbers(p_cat)
        assert posterior["cat"] == pytest.approx(shown[0], abs=0.0006)
        if "P(dog)" in p_cat:
            assert posterior["dog"] == pytest.approx(shown[-1], abs=0.0006)
        if "leave" in p_cat:
            assert shown[1] == P.leave_threshold
    if "enter" in run:
        assert int(numbers(run)[0]) == P.min_run
    elif run[0].isdigit():
        assert state.run == int(numbers(run)[0])
    else:  # a dash: no run, the occupant is settled
        assert state.run == 0
    assert state.occupant == occupant.split()[0].strip("*")


def test_the_sentences_under_the_table() -> None:
    decay = re.search(r"k = 0\.5\^\(1/60\) = (\d\.\d+)", DOC)
    assert decay is not None
    assert decay_factor(1, P.half_life_s) == pytest.approx(float(decay[1]), abs=0.00006)
    silent = re.search(r"60 s later `P\(dog\)` has decayed to (\d\.\d+)", DOC)
    assert silent is not None
    later = view(STATES[13], T0 + timedelta(seconds=13 + 60), P)
    assert later.occupant == "dog"
    assert later.posterior["dog"] == pytest.approx(float(silent[1]), abs=0.0006)
    stale = view(STATES[13], T0 + timedelta(seconds=13 + P.stale_after_s + 1), P)
    assert (stale.occupant, stale.stale) == ("unknown", True)
