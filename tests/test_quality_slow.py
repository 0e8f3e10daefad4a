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

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (lesson, extra flags, bar), the bars of the defaults issue: min_share/max_share bound every
# class's share of the samples; score is the inception-style score's floor, fd the Frechet
# distance's ceiling, label the label accuracy's floor; spearman (lesson 03) the rank
# correlation between the critic's held-out W estimate and the Frechet distance over the
# run's checkpoints (at least 10 of them).
BARS = [
    ("01_gan", [], dict(min_share=0.05, max_share=0.15, score=8.0)),
    ("02_dcgan", [], dict(min_share=0.06, max_share=0.14, score=9.0, fd=15.0)),
    ("03_wgan", [], dict(spearman=0.9)),
    ("04_cgan", [], dict(label=0.99, fd=10.0, min_share=0.09, max_share=0.11)),  # --arch dcgan
    ("05_acgan", [], dict(label=0.99, fd=8.0)),
    ("06_wgan_gp", [], dict(min_share=0.06, max_share=0.14, score=7.5, fd=20.0)),
    # lesson 07: each direction's pixel error <= 0.4 x the best per-pixel map's, and
    # minigan's classifier reads >= 98% of the B -> A translations as their source digit
    ("07_cyclegan", [], dict(label_preservation=0.98, ratio_to_best_pixel_map=0.4)),
]


def train_lesson(lesson, flags, out):
    device = os.environ.get("MINIGAN_DEVICE", "cpu")
    cmd = [sys.executable, os.path.join(ROOT, "lessons", f"{lesson}.py"), *flags,
           "--device", device, "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


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
    if "fd" in bar:
        assert m["frechet_distance"] <= bar["fd"]
    if "label_preservation" in bar:
        assert m["label_preservation"] >= bar["label_preservation"]
        for direction in ("a_to_b", "b_to_a"):
            assert m[direction]["ratio_to_best_pixel_map"] <= bar["ratio_to_best_pixel_map"], direction
    if "spearman" in bar:
        assert len(m["w_heldout"]) >= 10 and m["spearman_w_fd"] >= bar["spearman"], m["spearman_w_fd"]
