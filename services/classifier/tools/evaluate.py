"""Measure a built model on a labelled folder, through the code that serves it.

    .venv/bin/python services/classifier/tools/evaluate.py --model-dir build/models \\
        --data ../shared/data/pets-eval [--model NAME --version V] [--record FILE] \\
        [--compare NAME[/VERSION]]

Any built model (``--model efficientnet-lite2-pets``); without ``--model``, the first one found
(the service's default). DATA holds ``cat/``, ``dog/`` and ``none/`` (any may be missing). Every
image goes through ``classifier.preprocess`` at the model's own input size (``model_input``, the
service's rule) and ``classifier.model.ModelRuntime`` exactly as served. Prints the confusion
matrix, then as its LAST line one JSON object:

- ``accuracy``: three-way (a ``none`` photo is right when labelled ``other``);
- ``cat_vs_dog_accuracy``: on cat and dog photos, is P(cat) vs P(dog) the right way round;
- ``animals_as_other``: cat and dog photos labelled ``other``;
- ``none_as_other``: photos without a cat or dog (``none/``) labelled ``other``;
- ``per_class``: recall of each true class under the served (three-way) label;
- ``agreement`` (with ``--compare``): how often the other model (e.g. the int8 copy) gives the
  same served label, and the same cat-vs-dog ordering, on the same photos (the same tensors
  when both take the same input size).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # services/classifier
from tools.model_input import input_size, tensor_for

from classifier.model import ModelInfo, ModelRuntime, Prediction, discover

TRUE_CLASSES = ("cat", "dog", "none")
SERVED_LABEL = {"cat": "cat", "dog": "dog", "none": "other"}
MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def labelled_files(data: Path) -> list[tuple[Path, str]]:
    files = []
    for truth in TRUE_CLASSES:
        folder = data / truth
        if folder.is_dir():
            files += [
                (p, truth) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not files:
        raise SystemExit(f"no images under {data}/{{cat,dog,none}}/")
    return files


def choose(model_dir: Path, name: str | None, version: str | None) -> ModelInfo:
    infos = [
        i
        for i in discover(model_dir)
        if (name is None or i.name == name) and (version is None or i.version == version)
    ]
    if not infos:
        raise SystemExit(
            f"no model {name or '*'}/{version or '*'} under {model_dir}: run `make model`"
        )
    return infos[0]


def summarise(truths: list[str], preds: list[Prediction], info: ModelInfo) -> dict[str, Any]:
    pairs = list(zip(truths, preds, strict=True))
    animals = [(t, p) for t, p in pairs if t != "none"]
    nones = [p for t, p in pairs if t == "none"]

    def rate(hits: int, total: int) -> float | None:
        return round(hits / total, 4) if total else None

    binary = sum(
        (p.probabilities["dog"] > p.probabilities["cat"]) == (t == "dog") for t, p in animals
    )
    per_class = {
        c: rate(sum(p.label == SERVED_LABEL[c] for t, p in pairs if t == c), truths.count(c))
        for c in TRUE_CLASSES
        if c in truths
    }
    return {
        "n": len(pairs),
        "accuracy": rate(sum(p.label == SERVED_LABEL[t] for t, p in pairs), len(pairs)),
        "cat_vs_dog_accuracy": rate(binary, len(animals)),
        "animals_as_other": rate(sum(p.label == "other" for _, p in animals), len(animals)),
        "none_as_other": rate(sum(p.label == "other" for p in nones), len(nones)),
        "per_class": per_class,
        "model": info.name,
        "version": info.version,
    }


def confusion(truths: list[str], preds: list[Prediction]) -> str:
    labels = ("cat", "dog", "other")
    lines = ["true \\ predicted " + "".join(f"{label:>8}" for label in labels)]
    for truth in TRUE_CLASSES:
        row = [
            sum(t == truth and p.label == label for t, p in zip(truths, preds, strict=True))
            for label in labels
        ]
        if any(row):
            lines.append(f"{truth:<17}" + "".join(f"{n:>8}" for n in row))
    return "\n".join(lines)


def agreement(
    truths: list[str], preds: list[Prediction], others: list[Prediction], other: ModelInfo
) -> dict[str, Any]:
    """Served labels (every photo) and cat-vs-dog ordering (cat and dog photos) in common."""

    def dog(p: Prediction) -> bool:
        return p.probabilities["dog"] > p.probabilities["cat"]

    pairs = list(zip(preds, others, strict=True))
    animals = [(a, b) for t, a, b in zip(truths, preds, others, strict=True) if t != "none"]
    diff = max(
        abs(a.probabilities[k] - b.probabilities[k]) for a, b in pairs for k in a.probabilities
    )
    return {
        "with": f"{other.name}/{other.version}",
        "labels": round(sum(a.label == b.label for a, b in pairs) / len(pairs), 4),
        "cat_vs_dog": round(sum(dog(a) == dog(b) for a, b in animals) / max(len(animals), 1), 4),
        "max_probability_difference": round(diff, 4),
    }


def evaluate(
    runtimes: list[ModelRuntime], files: list[tuple[Path, str]], workers: int
) -> list[list[Prediction]]:
    """Each runtime's predictions (one list per runtime), every image preprocessed once per size."""

    def one(path: Path) -> list[Prediction]:
        data = path.read_bytes()
        tensors: dict[tuple[tuple[int, int], int], np.ndarray] = {}
        for r in runtimes:
            key = input_size(r.info)
            if key not in tensors:
                tensors[key] = tensor_for(r.info, data, max_pixels=MAX_PIXELS)
        return [r.predict(tensors[input_size(r.info)][None])[0] for r in runtimes]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, [p for p, _ in files]))
    return [[row[i] for row in rows] for i in range(len(runtimes))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("build/models"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model")
    parser.add_argument("--version")
    parser.add_argument("--other-threshold", type=float, help="override the metadata default")
    parser.add_argument("--workers", type=int, default=2, help="threads, each one ORT thread")
    parser.add_argument("--record", type=Path, help="merge the summary into this JSON file")
    parser.add_argument("--compare", metavar="NAME[/VERSION]", help="agreement with this model")
    args = parser.parse_args(argv)
    infos = [choose(args.model_dir, args.model, args.version)]
    if args.compare:
        name, _, version = args.compare.partition("/")
        infos.append(choose(args.model_dir, name, version or None))
    runtimes = [ModelRuntime(i, other_threshold=args.other_threshold) for i in infos]
    for runtime in runtimes:
        runtime.load()
    info, runtime = infos[0], runtimes[0]
    files = labelled_files(args.data)
    preds, *others = evaluate(runtimes, files, args.workers)
    truths = [t for _, t in files]
    summary = summarise(truths, preds, info)
    if others:
        summary["agreement"] = agreement(truths, preds, others[0], infos[1])
    summary["data"] = args.data.resolve().name
    summary["other_threshold"] = runtime.other_threshold
    print(f"{info.name}/{info.version} on {args.data} ({len(files)} images)")
    print(confusion(truths, preds))
    if args.record:  # one entry per data set, merged into the file
        record = json.loads(args.record.read_text()) if args.record.is_file() else {}
        record[summary["data"]] = summary
        args.record.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
