"""The quality bars of the issues, checked by training each lesson at its default settings.

These are the long trainings (tens of minutes to an hour each on a 2-core CPU), so they are
marked slow and left out of the default suite:

    python -m pytest -m slow tests/test_quality_slow.py              # every lesson
    python -m pytest -m slow tests/test_quality_slow.py -k 05_acgan  # one
    MINIGAN_DEVICE=gpu python -m pytest -m slow tests/test_quality_slow.py

Each test runs the lesson exactly as a user would (only --out and --device added), then
reads the metrics.json it wrote: the numbers minigan.metrics computes with the shipped
MNIST classifier.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minigan.train import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (lesson, extra flags, bar): min_share/max_share bound every class's share of the samples;
# score is the inception-style score's floor; label the label accuracy's floor.
BARS = [
    ("01_gan", [], dict(min_share=0.05, max_share=0.15, score=8.0)),
    ("02_dcgan", [], dict(min_share=0.06, max_share=0.14, score=9.0)),
    ("03_wgan", [], dict(min_share=0.06, max_share=0.14, score=8.0)),
    ("04_cgan", [], dict(label=0.98)),                      # --arch dcgan, the default
    ("04_cgan", ["--arch", "paper"], dict(label=0.95)),
    ("05_acgan", [], dict(label=0.98)),
]


def train_lesson(lesson, flags, out):
    device = os.environ.get("MINIGAN_DEVICE", "cpu")
    cmd = [sys.executable, os.path.join(ROOT, "lessons", f"{lesson}.py"), *flags,
           "--device", device, "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def falls(points, share=0.1):
    """Mean of the last `share` of a curve's values is below the mean of its first `share`."""
    values = np.array([v for _, v in points])
    k = max(1, int(len(values) * share))
    return values[-k:].mean() < values[:k].mean()


@pytest.mark.slow
@pytest.mark.parametrize("lesson,flags,bar", BARS,
                         ids=["-".join([lesson, *f]).replace("--", "") for lesson, f, _ in BARS])
def test_lesson_meets_its_quality_bar(lesson, flags, bar, tmp_path):
    m = train_lesson(lesson, flags, tmp_path)
    if "min_share" in bar:
        assert m["min_class_share"] >= bar["min_share"], m["class_shares"]
        assert m["max_class_share"] <= bar["max_share"], m["class_shares"]
    if "score" in bar:
        assert m["inception_score"] >= bar["score"]
    if "label" in bar:
        assert m["label_accuracy"] >= bar["label"]
    if lesson == "03_wgan":       # the Wasserstein estimate falls as the samples improve
        _, meta = load_checkpoint(os.path.join(tmp_path, "checkpoint.npz"))
        assert falls(meta["history"]["w_estimate"])


def test_falls_tells_a_falling_curve_from_a_flat_one():
    steps = range(100)
    assert falls([(s, 10.0 - 0.05 * s) for s in steps])
    assert not falls([(s, 1.0) for s in steps])
    assert not falls([(s, 0.05 * s) for s in steps])
