"""Add metrics a run's metrics.json lacks, computed from the run's own samples.npz.

    python scripts/rescore_samples.py runs/05_acgan

A metrics.json that lacks a metric minigan.metrics.evaluate computes (say the within-class
diversity) gets it without retraining: the samples are re-measured (no Parzen estimate,
the slow one) and only keys metrics.json does not have yet are written, after checking
that the Frechet distance read from the same samples matches the recorded one.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from minigan import metrics  # noqa: E402


def main(run):
    with np.load(os.path.join(run, "samples.npz")) as f:
        images, labels = f["images"], (f["labels"] if "labels" in f.files else None)
    path = os.path.join(run, "metrics.json")
    with open(path) as f:
        recorded = json.load(f)
    measured = metrics.evaluate(images, labels, parzen_window=False)
    if abs(measured["frechet_distance"] - recorded["frechet_distance"]) > 1e-6 * recorded["frechet_distance"]:
        raise SystemExit(f"error: {run}/samples.npz reads FD {measured['frechet_distance']:.4f}, "
                         f"metrics.json says {recorded['frechet_distance']:.4f}: not the same samples")
    added = {k: v for k, v in measured.items() if k not in recorded}
    recorded.update(added)
    with open(path, "w") as f:
        json.dump(recorded, f, indent=2)
    print(f"{path}: added {sorted(added) or 'nothing'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
