"""Lesson 07 (CycleGAN): the domains, the whole generator and discriminator update steps
against finite differences (the lesson's wiring at a small size, float64), and a short run
with --resume."""
import json
import os

import numpy as np
import pytest

from conftest import biases_before_norm, randomize_params
from minigan import backend
from minigan.data import dilate_invert, load_mnist, unpaired_mnist
from minigan.layers import Parts, frozen
from minigan.losses import l1, mse
from minigan.models import patch_discriminator, resnet_generator
from test_lessons_03_05 import check_step, grads_of
from test_train import lesson

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- the domains


def test_dilate_invert_is_its_definition():
    a = load_mnist("test")[0][:20]
    b = dilate_invert(a)
    want = np.empty_like(a)
    for n in range(len(a)):
        for i in range(28):
            for j in range(28):
                want[n, 0, i, j] = 1 - a[n, 0, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].max()
    np.testing.assert_array_equal(b, want)
    assert (1 - b).sum() > 1.3 * a.sum()               # thicker strokes: more ink


def test_unpaired_halves_are_disjoint():
    x, _ = load_mnist("train+valid")
    x_a, y_a, x_b, y_b = unpaired_mnist(seed=3)
    assert len(x_a) == len(x_b) == len(x) // 2
    # every B image is T of a training image that is not in A: match A's images by content
    key = lambda im: im.tobytes()                      # noqa: E731
    in_a = {key(im) for im in x_a[:, 0]}
    sources_of_b = [i for i in range(len(x)) if key(x[i, 0]) not in in_a]
    assert len(sources_of_b) >= len(x_b) - 10          # (MNIST has a few duplicate images)
    assert not np.array_equal(unpaired_mnist(seed=4)[1][:50], y_a[:50])     # seeded


# ----------------------------------------------------------------------------- step checks


def nets(seed=0, patch=12):
    backend.seed(seed)
    G = Parts(ab=resnet_generator(channels=2, residual_blocks=1),
              ba=resnet_generator(channels=2, residual_blocks=1))
    D = Parts(a=patch_discriminator(channels=2, patch=patch), b=patch_discriminator(channels=2, patch=patch))
    for i, m in enumerate((G, D)):
        m.to_dtype(np.float64)
        randomize_params(m, seed + 1 + i)
    return G, D


def images(seed, n=2):
    """Inputs with every |pixel| in [1.2, 2]: a generator's output is a tanh, inside
    (-1, 1), so |G(.) - x| >= 0.2 and no L1 kink lies within a finite-difference step."""
    rng = np.random.default_rng(seed)
    return rng.uniform(1.2, 2.0, (n, 1, 8, 8)) * rng.choice([-1, 1], (n, 1, 8, 8))


LAM, LAM_IDT = 10.0, 5.0


def generator_losses(G, D, a, b):
    """The lesson's generator step, verbatim in its calls: the total loss, and a function
    that runs the step's backward passes (adding into G's and D's grads)."""
    fake_b, fake_b_cache = G.ab.forward(a)
    fake_a, fake_a_cache = G.ba.forward(b)
    sb, sb_cache = D.b.forward(fake_b)
    gan_ab, dsb = mse(sb, 1.0)
    sa, sa_cache = D.a.forward(fake_a)
    gan_ba, dsa = mse(sa, 1.0)
    rec_a, rec_a_cache = G.ba.forward(fake_b)
    cyc_a, drec_a = l1(rec_a, a)
    rec_b, rec_b_cache = G.ab.forward(fake_a)
    cyc_b, drec_b = l1(rec_b, b)
    same_b, same_b_cache = G.ab.forward(b)
    idt_b, dsame_b = l1(same_b, b)
    same_a, same_a_cache = G.ba.forward(a)
    idt_a, dsame_a = l1(same_a, a)
    margin = min(np.abs(rec_a - a).min(), np.abs(rec_b - b).min(),
                 np.abs(same_b - b).min(), np.abs(same_a - a).min())

    def backward():
        with frozen(D):                                # as the lesson: D's input gradients only
            dfake_b = D.b.backward(dsb, sb_cache)
            dfake_a = D.a.backward(dsa, sa_cache)
        dfake_b += G.ba.backward(LAM * drec_a, rec_a_cache)
        dfake_a += G.ab.backward(LAM * drec_b, rec_b_cache)
        G.ab.backward(LAM_IDT * dsame_b, same_b_cache)
        G.ba.backward(LAM_IDT * dsame_a, same_a_cache)
        G.ab.backward(dfake_b, fake_b_cache)
        G.ba.backward(dfake_a, fake_a_cache)

    total = gan_ab + gan_ba + LAM * (cyc_a + cyc_b) + LAM_IDT * (idt_a + idt_b)
    return total, backward, margin


def test_generator_step_gradients():
    """d/dtheta of the whole generator objective, for every parameter of G and F: the
    cycle's gradient reaches G through F's input gradient, and F's parameters get their
    share from the cycle a -> G -> F as well as from their own direction."""
    G, D = nets(0)
    a, b = images(10), images(11)
    G.zero_grad()
    D.zero_grad()
    _, backward, margin = generator_losses(G, D, a, b)
    assert margin >= 0.2                               # no |.| kink within the FD step
    backward()
    assert not any(np.any(o.grads[k]) for _, o, k in D.parameters())    # D stayed frozen
    # the conv biases in front of an InstanceNorm cancel: analytically zero
    # h = 1e-6, not 1e-5: this objective is strongly curved (InstanceNorm over the 2 x 2
    # maps of the bottleneck), and at 1e-5 the central difference's own truncation error
    # reaches 5e-6 on F's first convolutions; measured, it falls as h^2 between h = 1e-4
    # and 3e-6 (5.8e-4, 5.8e-6, 5.1e-7), the signature of the difference, not of a wrong
    # gradient. Below ~3e-6 it levels off near 4e-7 (the worst entry over G and F at
    # h = 2e-6, 1e-6) and grows again under 1e-6 (1.2e-6 at 5e-7).
    check_step("CycleGAN G", G, grads_of(G), lambda: generator_losses(G, D, a, b)[0],
               extra_zero=instance_normed_biases(G), h=1e-6)


def instance_normed_biases(model):
    """The conv biases directly followed by an InstanceNorm2d: analytically zero gradient."""
    from minigan.layers import InstanceNorm2d
    return biases_before_norm(model, (InstanceNorm2d,))


@pytest.mark.parametrize("patch", [12, 26])
def test_discriminator_step_gradients(patch):
    G, D = nets(1, patch)
    a, b = images(12), images(13)
    fake_b, fake_a = G.ab.forward(a)[0], G.ba.forward(b)[0]

    def d_loss(run_backward=False):
        total = 0.0
        for net, real, fake in ((D.a, a, fake_a), (D.b, b, fake_b)):
            score, cache = net.forward(real)
            loss_real, dscore = mse(score, 1.0)
            if run_backward:
                net.backward(dscore / 2, cache, input_grad=False)
            score, cache = net.forward(fake)
            loss_fake, dscore = mse(score, 0.0)
            if run_backward:
                net.backward(dscore / 2, cache, input_grad=False)
            total += (loss_real + loss_fake) / 2
        return total

    D.zero_grad()
    d_loss(run_backward=True)
    check_step("CycleGAN D", D, grads_of(D), d_loss, extra_zero=instance_normed_biases(D))


def test_lesson_wiring_matches_test():
    """The step checked above is the lesson's own: its backward lines are in the file."""
    source = open(os.path.join(ROOT, "lessons", "07_cyclegan.py")).read()
    for line in ["with frozen(D):",
                 "dfake_b = D.b.backward(dscore_b, cache_b)",
                 "dfake_b += G.ba.backward(lam * drec, rec_cache)",
                 "dfake_a += G.ab.backward(lam * drec, rec_cache)",
                 "G.ab.backward(lam_idt * dsame, same_cache)",
                 "G.ab.backward(dfake_b, fake_b_cache)",
                 "G.ba.backward(dfake_a, fake_a_cache)",
                 "net.backward(dscore / 2, cache, input_grad=False)"]:
        assert line in source, line


# ----------------------------------------------------------------------------- short run

QUICK07 = ["--subset", "48", "--batch-size", "8", "--channels", "2", "--d-channels", "2",
           "--residual-blocks", "1", "--eval-every", "3", "--eval-images", "20", "--pool-size", "4"]


def test_short_run_and_resume(tmp_path):
    out = str(tmp_path)
    lesson("07_cyclegan.py", *QUICK07, "--epochs", "1", "--out", out)
    proc = lesson("07_cyclegan.py", *QUICK07, "--epochs", "2", "--out", out, "--resume")
    assert "resumed at epoch 2, step 0 of" in proc.stdout
    for f in ("checkpoint.npz", "losses.png", "label_preservation.png", "translations.npz",
              "translations_epoch_002.png", "metrics.json"):
        assert (tmp_path / f).exists(), f
    with np.load(tmp_path / "translations.npz") as t:
        assert sorted(t.files) == sorted(["a", "a_to_b", "a_to_b_truth", "b", "b_to_a",
                                          "b_to_a_truth", "labels_a", "labels_b"])
        for k in ("a", "a_to_b", "a_to_b_truth", "b", "b_to_a", "b_to_a_truth"):
            assert t[k].shape == (2000, 28, 28) and 0 <= t[k].min() and t[k].max() <= 1, k
        np.testing.assert_array_equal(t["a_to_b_truth"], dilate_invert(t["a"][:, None])[:, 0])
        np.testing.assert_array_equal(t["b"], dilate_invert(t["b_to_a_truth"][:, None])[:, 0])
        assert t["labels_a"].dtype.kind == "i" and t["labels_b"].shape == (2000,)
    with open(tmp_path / "metrics.json") as f:
        m = json.load(f)
    assert m["epochs"] == 2 and 0 <= m["label_preservation"] <= 1
    assert len(m["curve"]) == 4                        # steps 3, 6 | 9, 12: kept across the resume
    for direction in ("a_to_b", "b_to_a"):
        assert m[direction]["ratio_to_best_pixel_map"] > 0


@pytest.mark.parametrize("flags, message", [
    (["--cycle-weight", "-1"], "--cycle-weight must be 0 or more"),
    (["--pool-size", "-2"], "--pool-size and --eval-every must be 0 or more"),
    (["--batch-size", "100", "--subset", "48"], "larger than the 48 images per domain"),
])
def test_bad_flags_are_one_line(tmp_path, flags, message):
    proc = lesson("07_cyclegan.py", *flags, "--out", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


@pytest.mark.parametrize("patch,side", [(12, 14), (26, 7)])
def test_patch_discriminator_score_map(patch, side):
    """One score per patch: a 14 x 14 map of 12 x 12 patches (stride 2), or 7 x 7 of 26 x 26
    (stride 4). (Locality itself is not testable pixel by pixel: InstanceNorm makes every
    score depend a little on the whole map.)"""
    D = patch_discriminator(channels=4, patch=patch)
    assert D.forward(np.zeros((3, 1, 28, 28), np.float32), train=False)[0].shape == (3, 1, side, side)


def test_patch_discriminator_refuses_other_sizes():
    with pytest.raises(ValueError, match="patch must be 12 or 26"):
        patch_discriminator(patch=16)
