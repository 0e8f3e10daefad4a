"""Lessons 03 (WGAN), 04 (CGAN) and 05 (ACGAN): short runs, and every update step checked
end to end against finite differences.

The step checks build the lessons' own networks (minigan.models, at small sizes) in
float64, compute each D loss and G loss the way the lesson's step does (same forwards,
same losses, same backward calls), and compare the analytic parameter gradients with
central differences of that scalar loss. backend.seed is reset before every forward
sequence, so dropout masks repeat. Which gradients are analytically zero (a bias that a
BatchNorm cancels, the critic's last bias in WGAN) the tests know, and check to rounding
relative to the step's largest gradient: never an exact 0.0, which depends on the BLAS.
"""
import json
import os

import numpy as np
import pytest

from conftest import (GRAD_ERRORS, GRAD_TOL, assert_zero_pattern, biases_before_batchnorm,
                      randn, randomize_params)
from minigan import backend
from minigan.conditioning import one_hot
from minigan.gradcheck import compare, numerical_gradient
from minigan.losses import bce_with_logits, mean, softmax_cross_entropy
from minigan.models import acgan_mnist, cgan_dcgan, cgan_mlp, dcgan_mnist, mlp_gan
from test_train import QUICK, lesson


# ----------------------------------------------------------------------------- short runs


def assert_critic_clipped(path, c):
    """Every critic parameter (BatchNorm's gamma and beta too) lies in [-c, c]."""
    with np.load(path) as f:
        critic = {k: f[k] for k in f.files if k.startswith("model/D/") and "running" not in k}
    assert len(critic) >= 6
    for k, v in critic.items():
        assert np.abs(v).max() <= c, k
    assert any(np.isclose(np.abs(v).max(), c) for v in critic.values())     # it did clip


@pytest.mark.parametrize("name,extra", [
    ("03_wgan.py", ["--no-warmup-schedule", "--n-critic", "2"]),
    ("03_wgan.py", ["--arch", "dcgan", "--no-warmup-schedule", "--n-critic", "2"]),
    ("03_wgan.py", []),                                  # the 100-step warm-up: no G step yet
    ("04_cgan.py", []),                                  # --arch dcgan, the default
    ("04_cgan.py", ["--no-mismatch"]),                  # carpedm20's D loss
    ("04_cgan.py", ["--arch", "paper"]),
    ("04_cgan.py", ["--arch", "paper", "--optimizer", "adam"]),
    ("05_acgan.py", []),
])
def test_short_run_writes_everything(tmp_path, name, extra):
    proc = lesson(name, *QUICK, *extra, "--epochs", "1", "--out", str(tmp_path))
    expected = ["checkpoint.npz", "epoch_001.png", "losses.png", "samples.npz", "metrics.json"]
    warmup = name == "03_wgan.py" and not extra
    if name == "03_wgan.py" and not warmup:
        expected += ["wasserstein.png", "step_000002.png"]
    for f in expected:
        assert (tmp_path / f).exists(), f
    with np.load(tmp_path / "samples.npz") as f:
        images = f["images"]
        labels = f["labels"] if "labels" in f.files else None
    assert images.shape == (50, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0
    if name == "03_wgan.py":
        assert labels is None
    else:                                                 # conditional: 5 of each digit
        np.testing.assert_array_equal(labels, np.arange(50) % 10)
    meta = json.loads(str(np.load(tmp_path / "checkpoint.npz")["__meta__"]))
    history = meta["history"]
    if name == "04_cgan.py":
        assert meta["args"]["arch"] == ("paper" if "paper" in extra else "dcgan")
    if name == "03_wgan.py":
        assert ("w_estimate" in history) != warmup
        if not warmup:                                    # 4 batches, a G step after every 2
            assert len(history["w_estimate"]) == 2
        assert_critic_clipped(tmp_path / "checkpoint.npz", 0.01)
    if name == "05_acgan.py":
        assert {"acc_real", "acc_fake", "d_loss", "g_loss"} <= set(history)
        assert "acc_real" in proc.stdout


def test_cgan_mlp_is_the_paper_arch(tmp_path):
    """--arch mlp, the name --arch paper had before, still trains the paper's MLPs."""
    lesson("04_cgan.py", *QUICK, "--arch", "mlp", "--epochs", "1", "--out", str(tmp_path))
    with np.load(tmp_path / "checkpoint.npz") as f:
        meta = json.loads(str(f["__meta__"]))
        saved = {k for k in f.files if k.startswith("model/")}
    assert meta["args"]["arch"] == "paper" and meta["args"]["optimizer"] == "sgd"
    assert meta["args"]["sample_dropout"] is True         # G samples with its dropout on
    G, D = cgan_mlp()                                     # the lesson's nets, default sizes
    assert saved == ({f"model/{name}/{k}" for name in ("G", "best_G") for k in G.state_dict()} |
                     {f"model/D/{k}" for k in D.state_dict()})


def test_cgan_unknown_arch_lists_the_choices():
    proc = lesson("04_cgan.py", "--arch", "resnet", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--arch" in proc.stderr and "'dcgan'" in proc.stderr and "'paper'" in proc.stderr


def test_cgan_bad_flags(tmp_path):
    proc = lesson("03_wgan.py", "--clip", "-1", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--clip" in proc.stderr and "Traceback" not in proc.stderr
    help_text = " ".join(lesson("04_cgan.py", "--help").stdout.split())
    assert "default: 7 for --arch dcgan, 100 for --arch paper" in help_text
    assert "default: adam for --arch dcgan, sgd for --arch paper" in help_text
    assert "default: False for --arch dcgan, True for --arch paper" in help_text
    proc = lesson("04_cgan.py", "--optimizer", "sgd", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--arch paper" in proc.stderr and "Traceback" not in proc.stderr
    proc = lesson("04_cgan.py", "--sample-dropout", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--arch paper" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- step checks


def grads_of(model):
    return {n: o.grads[k].copy() for n, o, k in model.parameters()}


def check_step(name, model, analytic, loss, extra_zero=(), h=1e-5):
    """Compare ``analytic`` ({param: gradient}) with central differences of ``loss()``.
    The biases that feed a BatchNorm, and those named in ``extra_zero``, have analytically
    zero gradients and must be zero to rounding; every other must be clearly non-zero
    (conftest.assert_zero_pattern: both relative to the largest gradient, no exact 0.0)."""
    numeric = {n: numerical_gradient(loss, o.params[k], h) for n, o, k in model.parameters()}
    assert set(analytic) == set(numeric)
    errs = compare({k: (analytic[k], numeric[k]) for k in analytic})
    worst = max(errs.values())
    GRAD_ERRORS[f"step: {name}"] = max(GRAD_ERRORS[f"step: {name}"], worst)
    assert worst <= GRAD_TOL, (name, {k: v for k, v in errs.items() if v > GRAD_TOL})
    assert_zero_pattern(name, analytic, biases_before_batchnorm(model) + list(extra_zero))


def float64(*models):
    for m in models:
        m.to_dtype(np.float64)


# ---- lesson 03: critic loss mean D(G(z)) - mean D(x); G loss -mean D(G(z'))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_wgan_step_gradients(arch):
    backend.seed(3)
    if arch == "mlp":
        G, D = mlp_gan(z_dim=3, side=4, g_hidden=(4, 5), d_hidden=(5, 4))
        real = np.tanh(randn(1, (6, 1, 4, 4), scale=2))
    else:
        G, D = dcgan_mnist(z_dim=3, g_channels=2, d_channels=1)
        real = np.tanh(randn(1, (6, 1, 28, 28), scale=2))
    float64(G, D)
    randomize_params(G, 4)                       # away from DCGAN's tiny init, all signs
    randomize_params(D, 5)
    z, z2 = randn(2, (6, 3)), randn(5, (6, 3))

    def critic_loss():
        fake, _ = G.forward(z)
        score_real, real_cache = D.forward(real)
        score_fake, fake_cache = D.forward(fake)
        mean_real, dreal = mean(score_real)
        mean_fake, dfake = mean(score_fake)
        return mean_fake - mean_real, (dreal, real_cache, dfake, fake_cache)

    D.zero_grad()
    _, (dreal, real_cache, dfake, fake_cache) = critic_loss()
    D.backward(-dreal, real_cache, input_grad=False)   # exactly the lesson's two backward calls
    D.backward(dfake, fake_cache, input_grad=False)
    # the critic's last bias adds the same constant to both means: it cancels in L_D
    last_bias = [n for n, _, _ in D.parameters()][-1]
    check_step(f"WGAN {arch} critic", D, grads_of(D), lambda: critic_loss()[0],
               extra_zero=[last_bias])

    def g_loss():
        fake, g_cache = G.forward(z2)
        score, cache = D.forward(fake)
        m, dm = mean(score)
        return -m, (dm, cache, g_cache)

    G.zero_grad()
    _, (dm, cache, g_cache) = g_loss()
    G.backward(D.backward(-dm, cache), g_cache)
    check_step(f"WGAN {arch} G", G, grads_of(G), lambda: g_loss()[0])


# ---- lesson 04: BCE(D(x|y), 1) + BCE(D(G(z|y)|y), 0); G: BCE(D(G(z|y)|y), 1)


def cgan_nets(arch):
    backend.seed(7)
    if arch == "paper":
        G, D = cgan_mlp(z_dim=3, classes=3, side=3, g_z=4, g_y=3, g_joint=5,
                        d_x=(4, 3), d_y=(2, 2), d_joint=(3, 2), dropout=(0.2, 0.5))
        side = 3
    else:
        G, D = cgan_dcgan(z_dim=3, classes=3, side=8, g_fc=4, g_ch=2, d_ch=2, d_fc=4)
        side = 8
    float64(G, D)
    randomize_params(G, 8)
    randomize_params(D, 9)
    n = 6
    labels = np.array([0, 1, 2, 2, 1, 0])
    real = 0.5 + 0.5 * np.tanh(randn(10, (n, 1, side, side), scale=2))
    z = np.random.default_rng(11).uniform(-1, 1, (n, 3))
    return G, D, real, z, one_hot(labels, 3)


@pytest.mark.parametrize("arch", ["paper", "dcgan"])
def test_cgan_step_gradients(arch):
    G, D, real, z, y = cgan_nets(arch)

    def d_loss():
        backend.seed(12)                         # the same dropout masks every time
        fake, _ = G.forward(z, y)
        logit_real, real_cache = D.forward(real, y)
        logit_fake, fake_cache = D.forward(fake, y)
        loss_real, dreal = bce_with_logits(logit_real, 1.0)
        loss_fake, dfake = bce_with_logits(logit_fake, 0.0)
        return loss_real + loss_fake, (dreal, real_cache, dfake, fake_cache)

    D.zero_grad()
    _, (dreal, real_cache, dfake, fake_cache) = d_loss()
    D.backward(dreal, real_cache, input_grad=False)
    D.backward(dfake, fake_cache, input_grad=False)
    check_step(f"CGAN {arch} D", D, grads_of(D), lambda: d_loss()[0])

    def g_loss():
        backend.seed(13)
        fake, g_cache = G.forward(z, y)
        logit, cache = D.forward(fake, y)
        loss, dlogit = bce_with_logits(logit, 1.0)
        return loss, (dlogit, cache, g_cache)

    G.zero_grad()
    _, (dlogit, cache, g_cache) = g_loss()
    G.backward(D.backward(dlogit, cache), g_cache)
    check_step(f"CGAN {arch} G", G, grads_of(G), lambda: g_loss()[0])


def test_cgan_mismatch_step_gradients():
    """04 --mismatch: D's loss BCE(D(x|y), 1) + (BCE(D(x|y'), 0) + BCE(D(G(z|y)|y), 0)) / 2,
    with y' a wrong label for every real image, wired as the lesson wires it."""
    G, D, real, z, y = cgan_nets("dcgan")
    wrong = one_hot((y.argmax(axis=1) + np.array([1, 2, 1, 2, 1, 2])) % 3, 3)
    assert not (wrong.argmax(axis=1) == y.argmax(axis=1)).any()

    def d_loss():
        backend.seed(12)
        fake, _ = G.forward(z, y)
        logit_real, real_cache = D.forward(real, y)
        logit_fake, fake_cache = D.forward(fake, y)
        logit_wrong, wrong_cache = D.forward(real, wrong)
        loss_real, dreal = bce_with_logits(logit_real, 1.0)
        loss_fake, dfake = bce_with_logits(logit_fake, 0.0)
        loss_wrong, dwrong = bce_with_logits(logit_wrong, 0.0)
        return (loss_real + (loss_fake + loss_wrong) / 2,
                (dreal, real_cache, dfake / 2, fake_cache, dwrong / 2, wrong_cache))

    D.zero_grad()
    _, (dreal, real_cache, dfake, fake_cache, dwrong, wrong_cache) = d_loss()
    D.backward(dreal, real_cache, input_grad=False)
    D.backward(dwrong, wrong_cache, input_grad=False)
    D.backward(dfake, fake_cache, input_grad=False)
    check_step("CGAN dcgan D (mismatch)", D, grads_of(D), lambda: d_loss()[0])
    source = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "lessons", "04_cgan.py")).read()
    for line in ["D.backward(dlogit_wrong / 2, wrong_cache, input_grad=False)",
                 "loss_fake, dlogit_fake = (loss_fake + loss_wrong) / 2, dlogit_fake / 2",
                 "wrong = (labels + backend.randint(CLASSES - 1, len(x)) + 1) % CLASSES"]:
        assert line in source, line


# ---- lesson 05: two heads on one trunk; G input z * embed(c)


def test_acgan_step_gradients():
    backend.seed(21)
    G, D = acgan_mnist(z_dim=3, classes=3, side=8, g_ch=2, d_ch=(2, 2, 2, 2), dropout=0.25)
    float64(G, D)
    randomize_params(G, 22)
    randomize_params(D, 23)
    n = 6
    real = np.tanh(randn(24, (n, 1, 8, 8), scale=2))
    labels = np.array([0, 1, 2, 0, 1, 2])
    gen_labels = np.array([2, 2, 1, 0, 0, 1])
    z = randn(25, (n, 3))

    # the lesson's wiring, verbatim
    def generator_forward(z, labels):
        e, e_cache = G.embed.forward(labels)
        images, net_cache = G.net.forward(z * e)
        return images, (z, e_cache, net_cache)

    def generator_backward(dimages, cache):
        z, e_cache, net_cache = cache
        dh = G.net.backward(dimages, net_cache)
        G.embed.backward(dh * z, e_cache)

    def discriminator_forward(images):
        feats, trunk_cache = D.trunk.forward(images)
        source, source_cache = D.source.forward(feats)
        classes, classes_cache = D.classes.forward(feats)
        return source, classes, (trunk_cache, source_cache, classes_cache)

    def discriminator_backward(dsource, dclasses, cache, input_grad=True):
        trunk_cache, source_cache, classes_cache = cache
        dfeats = D.source.backward(dsource, source_cache) + D.classes.backward(dclasses, classes_cache)
        return D.trunk.backward(dfeats, trunk_cache, input_grad=input_grad)

    def d_loss():
        backend.seed(26)
        fake, _ = generator_forward(z, gen_labels)
        s_real, c_real, real_cache = discriminator_forward(real)
        s_fake, c_fake, fake_cache = discriminator_forward(fake)
        l1, ds_real = bce_with_logits(s_real, 1.0)
        l2, ds_fake = bce_with_logits(s_fake, 0.0)
        l3, dc_real = softmax_cross_entropy(c_real, labels)
        l4, dc_fake = softmax_cross_entropy(c_fake, gen_labels)
        return l1 + l2 + l3 + l4, (ds_real, dc_real, real_cache, ds_fake, dc_fake, fake_cache)

    D.zero_grad()
    _, (ds_real, dc_real, real_cache, ds_fake, dc_fake, fake_cache) = d_loss()
    discriminator_backward(ds_real, dc_real, real_cache, input_grad=False)
    discriminator_backward(ds_fake, dc_fake, fake_cache, input_grad=False)
    check_step("ACGAN D", D, grads_of(D), lambda: d_loss()[0])

    def g_loss():
        backend.seed(27)
        fake, g_cache = generator_forward(z, gen_labels)
        s, c, cache = discriminator_forward(fake)
        ls, ds = bce_with_logits(s, 1.0)
        lc, dc = softmax_cross_entropy(c, gen_labels)
        return ls + lc, (ds, dc, cache, g_cache)

    G.zero_grad()
    _, (ds, dc, cache, g_cache) = g_loss()
    generator_backward(discriminator_backward(ds, dc, cache), g_cache)
    check_step("ACGAN G", G, grads_of(G), lambda: g_loss()[0])
    assert "embed.W" in dict((n, 0) for n, _, _ in G.parameters())


def test_acgan_lesson_wiring_matches_test():
    """The wiring checked above must be the lesson's own: the same lines are in the file."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = open(os.path.join(root, "lessons", "05_acgan.py")).read()
    for line in ["images, net_cache = G.net.forward(z * e, train)",
                 "G.embed.backward(dh * z, e_cache)",
                 "dfeats = D.source.backward(dsource, source_cache) + D.classes.backward(dclasses, classes_cache)",
                 "return D.trunk.backward(dfeats, trunk_cache, input_grad=input_grad)",
                 "discriminator_backward(dsource_real, dclasses_real, real_cache, input_grad=False)"]:
        assert line in source, line
