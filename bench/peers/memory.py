"""Peak RSS of one process holding every model under build/models as the classifier does
(main session warmed at batch 4, then batches of 4 and 1 run), with wide sessions for every
model, for the first (default) model only, or none:

    .venv/bin/python -m bench.peers.memory {narrow,wide,wide-default}
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
    mode = sys.argv[1] if len(sys.argv) > 1 else "wide"
    infos = discover(ROOT / "build" / "models")
    runtimes = []
    for index, info in enumerate(infos):
        wide = mode == "wide" or (mode == "wide-default" and index == 0)
        runtime = ModelRuntime(info, wide_threads=2 if wide else 0)
        runtime.load(warm_batch=4)
        runtime.load_wide()
        runtimes.append(runtime)
    for runtime in runtimes:
        batch = np.zeros((4, *runtime.image_shape), np.float32)
        for _ in range(3):
            runtime.predict(batch)
            runtime.predict(batch[:1], wide=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1000
    print(f"{mode}: {len(runtimes)} models, peak RSS {peak} MB")


if __name__ == "__main__":
    main()
