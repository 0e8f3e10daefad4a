"""Lesson 09 (the semi-supervised GAN): short runs that write everything, the control, bad
--labels, a bit-identical resume, and D's and G's whole update steps against finite
differences (the lesson's forwards, losses and backward calls, at a small size, float64).

Every forward sequence of a loss is preceded by backend.seed, so D's Gaussian noise repeats
between the evaluations of the finite differences."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import randn, randomize_params
from minigan import backend, train
from minigan.layers import frozen
from minigan.losses import bce_with_lse, feature_matching, softmax_cross_entropy
from minigan.semi import (SemiSupervisedBatches, draw_labelled, init_discriminator,
                          semi_supervised_mnist, update_average)
from test_lessons_03_05 import check_step, float64, grads_of
from test_train import ROOT, checkpoint_arrays, lesson

NAME = "09_semi_supervised.py"
TINY = ["--subset", "300", "--batch-size", "50", "--labels", "20", "--n-samples", "50",
        "--sample-interval", "3"]


def meta_of(path):
    with np.load(path) as f:
        return json.loads(str(f["__meta__"]))


# ----------------------------------------------------------------------------- short runs


def test_short_run_writes_everything_and_resumes_bit_identically(tmp_path):
    """One epoch writes every file; resumed to a second epoch it ends, to the last bit, as a
    2-epoch run never stopped: D, D_avg, G, the optimizers, the test-error curve, the
    predictions and the samples (constant rate: --decay-from 1, so the schedule does not
    depend on --epochs). The metrics do not touch training: the straight run skips them."""
    a, b = tmp_path / "a", tmp_path / "b"
    flags = [*TINY, "--decay-from", "1"]
    proc = lesson(NAME, *flags, "--epochs", "1", "--out", str(b))
    for f in ("checkpoint.npz", "epoch_001.png", "losses.png", "test_error.png", "samples.npz",
              "metrics.json", "predictions.npz", "step_000003.png"):
        assert (b / f).exists(), f
    with np.load(b / "predictions.npz") as f:
        pred, idx = f["test_pred"], f["labelled_idx"]
    assert pred.shape == (10000,) and set(np.unique(pred)) <= set(range(10))
    assert idx.shape == (20,) and len(set(idx)) == 20 and idx.max() < 300
    from minigan.data import load_mnist
    y_train = load_mnist("train")[1][:300]
    np.testing.assert_array_equal(np.bincount(y_train[idx], minlength=10), [2] * 10)
    with np.load(b / "samples.npz") as f:
        images = f["images"]
    assert images.shape == (50, 28, 28) and images.min() >= 0 and images.max() <= 1
    m = json.loads((b / "metrics.json").read_text())
    y_test = load_mnist("test")[1]
    assert m["test_error"] == pytest.approx(float((pred != y_test).mean()))
    assert m["labels"] == 20 and m["supervised_only"] is False
    assert [e for e, _ in m["test_error_curve"]] == [1] and m["test_error_raw"] is not None
    assert "frechet_distance" in m and "parzen_ll" in m            # G's samples measured
    assert "test error" in proc.stdout
    history = meta_of(b / "checkpoint.npz")["history"]
    assert set(history) == {"loss_sup", "loss_unsup", "loss_fm"} and len(history["loss_fm"]) == 6

    lesson(NAME, *flags, "--no-eval", "--epochs", "2", "--out", str(a))
    if hasattr(train, "_signal_at_step"):            # Ctrl-C mid-epoch saves: stop at step 9 of 12
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "lessons", NAME), *flags,
                               "--no-eval", "--epochs", "2", "--out", str(b), "--resume"],
                              capture_output=True, text=True, cwd=ROOT, timeout=600,
                              env={**os.environ, "MINIGAN_SIGNAL_AT_STEP": "9"})
        assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert meta_of(b / "checkpoint.npz")["step"] == 9
    lesson(NAME, *flags, "--no-eval", "--epochs", "2", "--out", str(b), "--resume")
    ca, cb = checkpoint_arrays(a / "checkpoint.npz"), checkpoint_arrays(b / "checkpoint.npz")
    assert ca.keys() == cb.keys() and any(k.startswith("model/D_avg/") for k in ca)
    for k in ca:
        assert np.array_equal(ca[k], cb[k]), k
    ma, mb = meta_of(a / "checkpoint.npz"), meta_of(b / "checkpoint.npz")
    assert ma["extra"] == mb["extra"] and len(ma["extra"]["test_error"]["points"]) == 2
    for f in ("predictions.npz", "samples.npz"):
        with np.load(a / f) as fa, np.load(b / f) as fb:
            assert all(np.array_equal(fa[k], fb[k]) for k in fa.files), f


def test_supervised_only_control(tmp_path):
    lesson(NAME, *TINY, "--supervised-only", "--epochs", "1", "--out", str(tmp_path))
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["supervised_only"] is True and 0 <= m["test_error"] <= 1
    assert "frechet_distance" not in m                             # G never trained
    meta = meta_of(tmp_path / "checkpoint.npz")
    assert set(meta["history"]) == {"loss_sup"} and set(meta["optim_scalars"]) == {"D"}
    assert not any(k.startswith("model/G/") for k in checkpoint_arrays(tmp_path / "checkpoint.npz"))
    assert (tmp_path / "predictions.npz").exists()


@pytest.mark.parametrize("argv,words", [(["--labels", "15"], "multiple of 10"),
                                        (["--labels", "60000"], "larger than the 50000"),
                                        (["--subset", "100", "--labels", "100"],
                                         "digits of each class")])
def test_bad_labels_are_one_line(tmp_path, argv, words):
    proc = lesson(NAME, *argv, "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- the pieces


def test_labelled_draw_and_batches():
    y = np.arange(200) % 10
    idx = draw_labelled(y, 30, seed=0)
    assert len(set(idx)) == 30 and np.array_equal(np.bincount(y[idx]), [3] * 10)
    assert np.array_equal(idx, draw_labelled(y, 30, seed=0))
    assert not np.array_equal(idx, draw_labelled(y, 30, seed=1))
    x = np.arange(200, dtype=np.float32)[:, None]
    data = SemiSupervisedBatches(x[idx], y[idx], x, 40, seed=0)
    batches = list(data)
    assert len(batches) == len(data) == 5
    seen_lab = np.concatenate([b[0][:, 0] for b in batches])
    for k in range(4):                                  # every labelled digit, once per 30
        assert sorted(seen_lab[30 * k:30 * (k + 1)]) == sorted(x[idx, 0])
    for j in (2, 3):                                    # two shuffles of all unlabelled digits
        assert sorted(np.concatenate([b[j][:, 0] for b in batches])) == list(range(200))
    # a checkpoint between two batches: the rest of the epoch comes back the same
    data = SemiSupervisedBatches(x[idx], y[idx], x, 40, seed=3)
    it = iter(data)
    next(it), next(it)
    state = data.state_dict()
    rest = [b[2] for b in it]
    again = SemiSupervisedBatches(x[idx], y[idx], x, 40, seed=99)
    again.load_state_dict(state)
    assert all(np.array_equal(p, q) for p, q in zip(rest, [b[2] for b in again]))


def test_update_average_is_the_bias_corrected_mean():
    backend.seed(0)
    _, D = semi_supervised_mnist(z_dim=2, g_hidden=(3,), d_hidden=(3,), classes=2, side=2)
    _, avg = semi_supervised_mnist(z_dim=2, g_hidden=(3,), d_hidden=(3,), classes=2, side=2)
    decay, history = 0.9, []
    for t in range(1, 5):
        for _, o, k in D.parameters():
            o.params[k][...] = backend.randn(*o.params[k].shape)
        history.append({n: o.params[k].copy() for n, o, k in D.parameters()})
        update_average(avg, D, t, decay)
    weights = np.array([(1 - decay) * decay ** (4 - t) for t in range(1, 5)]) / (1 - decay ** 4)
    for n, o, k in avg.parameters():
        expected = sum(w * h[n] for w, h in zip(weights, history))
        np.testing.assert_allclose(o.params[k], expected, rtol=1e-5, atol=1e-6)


def small_nets(seed):
    """The lesson's networks at a small size (2 x 2 'images', 3 classes), float64, random
    parameters of both signs, D initialised from data as the lesson does."""
    backend.seed(seed)
    G, D = semi_supervised_mnist(z_dim=3, g_hidden=(4,), d_hidden=(5, 4), classes=3, side=2)
    float64(G, D)
    init_discriminator(D, randn(seed, (20, 4), scale=0.5, shift=0.5))
    randomize_params(G, seed + 1)
    return G, D


def d_forward(D, x):
    feats, fc = D.features.forward(x)
    logits, hc = D.head.forward(feats)
    return logits, (fc, hc)


def d_backward(D, dlogits, cache):
    fc, hc = cache
    D.features.backward(D.head.backward(dlogits, hc), fc, input_grad=False)


def test_d_step_gradients():
    """L_D = CE(l(x_lab), y) + 1/2 bce_lse(l(x_unl), 1) + 1/2 bce_lse(l(G(z)), 0), with the
    lesson's three forwards and three backward calls (input_grad=False)."""
    G, D = small_nets(11)
    x_lab, y_lab = randn(1, (6, 4), scale=0.5, shift=0.5), np.arange(6) % 3
    x_unl, z = randn(2, (6, 4), scale=0.5, shift=0.5), np.random.default_rng(3).random((6, 3))
    fake, _ = G.forward(z)

    def d_loss():
        backend.seed(5)                                  # the same noise at every evaluation
        lab, lab_c = d_forward(D, x_lab)
        unl, unl_c = d_forward(D, x_unl)
        fk, fk_c = d_forward(D, fake)
        sup, dlab = softmax_cross_entropy(lab, y_lab)
        real, dunl = bce_with_lse(unl, 1.0)
        fak, dfk = bce_with_lse(fk, 0.0)
        return sup + 0.5 * (real + fak), ((dlab, lab_c), (0.5 * dunl, unl_c), (0.5 * dfk, fk_c))

    D.zero_grad()
    for dlogits, cache in d_loss()[1]:
        d_backward(D, dlogits, cache)
    check_step("semi-supervised D", D, grads_of(D), lambda: d_loss()[0])


def test_g_step_gradients():
    """L_G = feature_matching(D.features(G(z)), D.features(x_unl2)), back through the frozen
    D's features into G (BatchNorm in training mode)."""
    G, D = small_nets(21)
    x_unl2, z = randn(4, (6, 4), scale=0.5, shift=0.5), np.random.default_rng(6).random((6, 3))

    def g_loss():
        backend.seed(7)
        fake, g_cache = G.forward(z)
        real_feats, _ = D.features.forward(x_unl2)
        fake_feats, f_cache = D.features.forward(fake)
        loss, dfeats = feature_matching(fake_feats, real_feats)
        return loss, (dfeats, f_cache, g_cache)

    G.zero_grad()
    D.zero_grad()
    _, (dfeats, f_cache, g_cache) = g_loss()
    with frozen(D):
        G.backward(D.features.backward(dfeats, f_cache), g_cache)
    assert all(not np.any(o.grads[k]) for _, o, k in D.parameters())     # D untouched
    check_step("semi-supervised G (feature matching)", G, grads_of(G), lambda: g_loss()[0])


def test_lesson_networks_are_the_authors():
    G, D = semi_supervised_mnist()
    assert [type(l).__name__ for l in G] == ["Dense", "BatchNorm1d", "Softplus",
                                             "Dense", "BatchNorm1d", "Softplus",
                                             "WeightNormDense", "Sigmoid"]
    widths = [l.out_features for l in D.features if type(l).__name__ == "WeightNormDense"]
    sigmas = [l.sigma for l in [*D.features, *D.head] if type(l).__name__ == "GaussianNoise"]
    assert widths == [1000, 500, 250, 250, 250] and sigmas == [0.3] + [0.5] * 5
    assert D.head[1].out_features == 10 and D.head[1].train_g
    assert not any(l.train_g for l in D.features if type(l).__name__ == "WeightNormDense")
