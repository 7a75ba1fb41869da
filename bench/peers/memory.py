"""Peak RSS of one process holding every model under build/models as the classifier does (one
session per model, warmed at the batcher's batch size, then batches of that size and of 1 run),
with THREADS intra-op threads per session (the service's default is 2) and BATCH the largest
batch (the service's `CLASSIFIER_MAX_BATCH_SIZE`, default 2):

    .venv/bin/python -m bench.peers.memory [THREADS [BATCH]]
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "classifier"))

from classifier.model import ModelRuntime, discover  # noqa: E402


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    runtimes = []
    for info in discover(ROOT / "build" / "models"):
        runtime = ModelRuntime(info, intra_op_threads=threads)
        runtime.load(warm_batch=size)
        runtimes.append(runtime)
    for runtime in runtimes:
        batch = np.zeros((size, *runtime.image_shape), np.float32)
        for _ in range(3):
            runtime.predict(batch)
            runtime.predict(batch[:1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1000
    print(f"{threads} thread(s), batch {size}: {len(runtimes)} models, peak RSS {peak} MB")


if __name__ == "__main__":
    main()
