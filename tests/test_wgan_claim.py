"""Lesson 03's claim, measured: the critic's Wasserstein estimate on held-out data ranks the
checkpoints like the Frechet distance. Here: the rank correlation itself (known values),
the cheap FD helper, and short runs that take the measurement, plot it, write it to
metrics.json and keep it across a resume, without changing the training."""
import json
import math

import numpy as np
import pytest

from minigan import metrics
from minigan.data import load_mnist
from test_train import QUICK, checkpoint_arrays, lesson

# QUICK measures nothing (--no-eval); these runs measure, on 200 images and 200 z
MEASURED = [f for f in QUICK if f != "--no-eval"] + [
    "--no-warmup-schedule", "--n-critic", "2", "--eval-every", "1", "--eval-samples", "200"]


# ----------------------------------------------------------------------------- spearman


def test_spearman_perfect_and_reversed_order():
    a = [0.3, 1.0, 2.5, 7.0, 9.0]
    assert metrics.spearman(a, [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert metrics.spearman(a, [50, 40, 30, 20, 10]) == pytest.approx(-1.0)
    # only the order counts: any increasing transform of either side keeps rho = 1
    assert metrics.spearman(a, np.exp(a)) == pytest.approx(1.0)
    assert metrics.spearman(a, -np.log(a)) == pytest.approx(-1.0)


def test_spearman_without_ties_matches_the_textbook_formula():
    # ranks [1..5] vs [2, 1, 4, 3, 5]: sum d^2 = 4, rho = 1 - 6 * 4 / (5 * 24) = 0.8
    assert metrics.spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)


def test_spearman_with_ties_by_hand():
    # a = [1, 2, 2, 3]: ranks [1, 2.5, 2.5, 4] (the tie shares ranks 2 and 3), centred
    # [-1.5, 0, 0, 1.5]; b's ranks [1, 2, 3, 4], centred [-1.5, -0.5, 0.5, 1.5].
    # sum r's' = 4.5, sum r'^2 = 4.5, sum s'^2 = 5: rho = 4.5 / sqrt(22.5) = 3 / sqrt(10)
    assert metrics._average_ranks([1, 2, 2, 3]) == pytest.approx([1, 2.5, 2.5, 4])
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))
    assert metrics.spearman([5, 5, 5, 1], [2, 2, 2, 1]) == pytest.approx(1.0)


def test_spearman_undefined_and_bad_input():
    assert math.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))       # constant: no order
    assert math.isnan(metrics.spearman([1], [2]))
    with pytest.raises(ValueError):
        metrics.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        metrics.spearman([1, float("nan"), 3], [1, 2, 3])


def test_frechet_distance_to_test_is_evaluates_distance():
    x = load_mnist("valid")[0][:300, 0]
    assert metrics.frechet_distance_to_test(x) == pytest.approx(
        metrics.evaluate(x, parzen_window=False)["frechet_distance"], rel=1e-12)


# ----------------------------------------------------------------------------- lesson runs


def meta(path):
    return json.loads(str(np.load(path / "checkpoint.npz")["__meta__"]))


def assert_same_training(a, b):
    """The two runs' parameters, optimizer state and final samples agree to the bit."""
    ca, cb = checkpoint_arrays(a / "checkpoint.npz"), checkpoint_arrays(b / "checkpoint.npz")
    assert ca.keys() == cb.keys() and len(ca) > 10
    for k in ca:
        assert np.array_equal(ca[k], cb[k]), k
    assert np.array_equal(np.load(a / "samples.npz")["images"], np.load(b / "samples.npz")["images"])


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Two epochs, measured after each."""
    out = tmp_path_factory.mktemp("straight")
    proc = lesson("03_wgan.py", *MEASURED, "--epochs", "2", "--out", str(out))
    return out, proc


def test_short_run_measures_plots_and_writes_the_curves(straight):
    out, proc = straight
    assert (out / "w_vs_fd.png").exists() and (out / "wasserstein.png").exists()
    m = json.loads((out / "metrics.json").read_text())
    assert "frechet_distance" in m and "inception_score" in m          # the usual metrics stay
    assert [e for e, _ in m["w_heldout"]] == [1, 2] == [e for e, _ in m["fd_curve"]]
    assert all(math.isfinite(v) for _, v in m["w_heldout"] + m["fd_curve"])
    assert all(v > 0 for _, v in m["fd_curve"])
    assert m["eval_samples"] == 200 and m["eval_steps"] == [[1, 2], [2, 4]]
    assert m["spearman_w_fd"] in (-1.0, 1.0)                          # two points: +-1
    assert "Spearman rho" in proc.stdout and "W on held-out data" in proc.stdout
    points = meta(out)["extra"]["measured"]["points"]
    assert [p["w_heldout"] for p in points] == [w for _, w in m["w_heldout"]]


def test_resume_keeps_the_curve(straight, tmp_path):
    out, _ = straight
    lesson("03_wgan.py", *MEASURED, "--epochs", "1", "--out", str(tmp_path))
    assert len(meta(tmp_path)["extra"]["measured"]["points"]) == 1
    proc = lesson("03_wgan.py", *MEASURED, "--epochs", "2", "--out", str(tmp_path), "--resume")
    assert "resumed" in proc.stdout
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (out, tmp_path))
    for key in ("w_heldout", "fd_curve", "eval_steps", "spearman_w_fd"):
        assert a[key] == b[key], key                                  # on the CPU: to the bit
    assert_same_training(out, tmp_path)


def test_measuring_does_not_change_the_training(straight, tmp_path):
    out, _ = straight
    lesson("03_wgan.py", *MEASURED, "--epochs", "2", "--eval-every", "0", "--out", str(tmp_path))
    assert not (tmp_path / "w_vs_fd.png").exists()
    assert "w_heldout" not in json.loads((tmp_path / "metrics.json").read_text())
    assert_same_training(out, tmp_path)


@pytest.mark.parametrize("argv,flag", [(["--eval-every", "-1"], "--eval-every"),
                                       (["--eval-samples", "10001"], "--eval-samples"),
                                       (["--eval-samples", "0"], "--eval-samples")])
def test_bad_eval_flags_exit_2(tmp_path, argv, flag):
    proc = lesson("03_wgan.py", *argv, "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and flag in proc.stderr and "Traceback" not in proc.stderr
