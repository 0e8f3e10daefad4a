"""Lesson 08's measurements: the probe's logistic regression, the 4 x 4 max-pooling, the
attributes, guided backpropagation, the walks, and the lesson end to end on tiny
checkpoints (made here with lessons 02 and 04), on the CPU and on the CuPy stand-in."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from minigan import backend, gradcheck, probe, train
from minigan import layers as L
from minigan.layers.activations import guided, piecewise_linear_layers
from minigan.models import dcgan_mnist, dcgan_mnist_deep, dcgan_mnist_fc, dcgan_mnist_keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
TINY = ["--subset", "256", "--epochs", "1", "--batch-size", "64", "--no-eval", "--n-samples", "50"]


# ----------------------------------------------------------------------------- the probe


def test_logistic_gradient_matches_finite_differences():
    """logistic_objective's dJ/dW and dJ/db against central differences of J, in float64."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 5)), rng.integers(0, 3, 12)
    layer = L.Dense(5, 3).to_dtype(np.float64)
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape)
    layer.zero_grad()
    probe.logistic_objective(layer, X, y, 0.3)
    analytic = {k: g.copy() for k, g in layer.grads.items()}

    def J():
        value = probe.logistic_objective(layer, X, y, 0.3)
        layer.zero_grad()
        return value
    for key in ("W", "b"):
        numeric = gradcheck.numerical_gradient(J, layer.params[key])
        assert gradcheck.rel_error(analytic[key], numeric) < 1e-6, key


def known_solution(K, lam):
    """One example per class, x_n = e_n (X = I_K): by symmetry W = a I + c (1 - I), and
    stationarity gives a = (1 - p) / (K lam), c = -(1 - p) / (K (K - 1) lam) with p the
    probability of the right class, p = e^s / (e^s + K - 1), s = a - c; so s solves
    s (e^s + K - 1) lam = 1 (bisection)."""
    lo, hi = 0.0, 50.0
    for _ in range(200):
        s = (lo + hi) / 2
        lo, hi = (s, hi) if s * (math.exp(s) + K - 1) * lam < 1 else (lo, s)
    p = math.exp(s) / (math.exp(s) + K - 1)
    return (1 - p) / (K * lam), -(1 - p) / (K * (K - 1) * lam)


@pytest.mark.parametrize("lam", [0.01, 0.1])
def test_logistic_solution_is_the_known_one(lam):
    K = 10
    X, y = np.eye(K, dtype=np.float32), np.arange(K)
    layer = probe.fit_logistic(X, y, lam, steps=1000, lr=0.1, classes=K)
    W = layer.params["W"].astype(np.float64)
    a, c = known_solution(K, lam)
    off = ~np.eye(K, dtype=bool)
    assert np.abs(np.diag(W) - a).max() < 1e-4 * abs(a), (np.diag(W)[:3], a)
    assert np.abs(W[off] - c).max() < 1e-4 * abs(a), (W[off][:3], c)
    # db is 0 up to rounding, which Adam's normalised step turns into a drift common to
    # every class: a constant added to all logits, which softmax ignores
    assert np.ptp(layer.params["b"]) < 1e-5


def test_row_space_fit_is_the_fit_on_the_features():
    """The probe fits A on P = X V and uses W = V A: the same optimum as fitting W on X
    (4 digits, 30 features: rank 4), reached here by many steps on X itself."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((4, 30)).astype(np.float32), np.array([0, 1, 2, 1])
    P, V = probe.row_space(X)
    assert P.shape == (4, 4) and V.shape == (30, 4)
    np.testing.assert_allclose(P @ V.T, X, atol=1e-5)
    np.testing.assert_allclose(V.T @ V, np.eye(4), atol=1e-5)
    A = probe.fit_logistic(P, y, 0.1, steps=2000, lr=0.05, classes=3)
    W = probe.fit_logistic(X, y, 0.1, steps=2000, lr=0.05, classes=3)
    np.testing.assert_allclose(V @ A.params["W"], W.params["W"], atol=2e-4)
    assert abs(probe.logistic_objective(W, X, y, 0.1) - probe.logistic_objective(A, P, y, 0.1)) < 1e-5


def test_probe_keeps_the_strength_with_the_lowest_validation_error():
    """Validation labels that agree with one strength's predictions: that one is kept, and
    the test predictions are its own."""
    rng = np.random.default_rng(2)
    (xt, xv, xs), yt = rng.standard_normal((3, 60, 8)).astype(np.float32), rng.integers(0, 10, 60)
    lams = (0.01, 3.0)
    first = probe.probe(xt, yt, xv, np.zeros(60, int), xs, lams=lams, steps=100)
    valid_pred = {lam: probe.predict(first["models"][lam], xv) for lam in lams}
    assert (valid_pred[lams[0]] != valid_pred[lams[1]]).any()
    for i, lam in enumerate(lams):
        r = probe.probe(xt, yt, xv, valid_pred[lam], xs, lams=lams, steps=100)
        assert r["lam"] == lam and r["valid_errors"][i] == 0 and r["valid_errors"][1 - i] > 0
        assert np.array_equal(r["test_pred"], probe.predict(first["models"][lam], xs))


def test_balanced_subsets():
    labels = np.random.default_rng(3).integers(0, 10, 5000)
    a = probe.balanced_subset(labels, 100, seed=0, index=0)
    assert len(np.unique(a)) == 100 and np.array_equal(np.bincount(labels[a], minlength=10), [10] * 10)
    assert np.array_equal(a, probe.balanced_subset(labels, 100, seed=0, index=0))
    assert not np.array_equal(a, probe.balanced_subset(labels, 100, seed=0, index=1))
    with pytest.raises(ValueError):
        probe.balanced_subset(labels, 105, seed=0, index=0)


def pool_by_loop(x, grid):
    """Adaptive max-pooling from its definition, one output cell at a time."""
    n, c, h, w = x.shape
    out = np.empty((n, c, grid, grid), x.dtype)
    for i in range(grid):
        for j in range(grid):
            r0, r1 = math.floor(i * h / grid), math.ceil((i + 1) * h / grid)
            c0, c1 = math.floor(j * w / grid), math.ceil((j + 1) * w / grid)
            for a in range(n):
                for b in range(c):
                    out[a, b, i, j] = max(x[a, b, r, s] for r in range(r0, r1) for s in range(c0, c1))
    return out


@pytest.mark.parametrize("size", [14, 7, 8, 4, 5])
def test_max_pool_to_4x4_matches_a_loop(size):
    x = np.random.default_rng(size).standard_normal((2, 3, size, size)).astype(np.float32)
    assert np.array_equal(probe.adaptive_max_pool(x, 4), pool_by_loop(x, 4))
    if size % 4 == 0:                          # plain non-overlapping windows
        k = size // 4
        assert np.array_equal(probe.adaptive_max_pool(x, 4), x.reshape(2, 3, 4, k, 4, k).max(axis=(3, 5)))
    assert probe.pool_bins(14, 4) == [(0, 4), (3, 7), (7, 11), (10, 14)]


def test_hidden_features_of_lesson_02s_d():
    """conv 1 (64 x 14 x 14) and conv 2 (128 x 7 x 7) pooled to 4 x 4, the dense layer's
    1,024 as they are: 4,096 features; the last block is the dense layer's activation."""
    backend.seed(0)
    _, D = dcgan_mnist_fc()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 28, 28)).astype(np.float32)
    f = probe.hidden_features(D, x)
    assert f.shape == (3, 64 * 16 + 128 * 16 + 1024)
    h = x
    for layer in D.layers[:9]:                 # up to the dense layer's LeakyReLU
        h, _ = layer.forward(h, train=False)
    np.testing.assert_allclose(f[:, -1024:], h, rtol=1e-6)
    h1, _ = L.Sequential(*D.layers[:2]).forward(x, train=False)
    np.testing.assert_allclose(f[:, :1024], pool_by_loop(h1, 4).reshape(3, -1), rtol=1e-6)


@pytest.mark.parametrize("make,features,tap", [
    (dcgan_mnist_fc, 64 * 16 + 128 * 16 + 1024, 4), (dcgan_mnist, 64 * 16 + 128 * 16, 4),
    (dcgan_mnist_deep, (32 + 64 + 128) * 16, 7), (dcgan_mnist_keras, (16 + 32 + 64 + 128) * 16, 12)])
def test_every_lesson_02_arch_gives_features_and_saliency(make, features, tap):
    """Each of lesson 02's D: its hidden layers' features, the activation after its last
    convolution, and a last layer the control can replace with a 10-way one."""
    backend.seed(0)
    _, D = make()
    x = np.random.default_rng(11).uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    assert probe.hidden_features(D, x).shape == (2, features)
    assert probe.last_conv_tap(D) == tap
    assert probe.guided_saliency(D, x)["saliency"].shape == x.shape
    assert isinstance(D.layers[-1], L.Dense) and D.layers[-1].out_features == 1


# ----------------------------------------------------------------------------- attributes


def test_ink_mass_and_slant_of_known_images():
    bar = np.zeros((1, 28, 28))
    bar[0, 4:24, 13:15] = 1                    # upright, 20 x 2
    diag = np.zeros((1, 28, 28))
    diag[0, np.arange(28), 27 - np.arange(28)] = 1    # bottom left to top right
    assert probe.ink_mass(bar)[0] == 40 and probe.ink_mass(0.5 * bar)[0] == 20
    assert abs(probe.slant(bar)[0]) < 1e-12
    assert abs(probe.slant(diag)[0] - 1) < 1e-12               # leans right
    assert abs(probe.slant(diag[:, :, ::-1])[0] + 1) < 1e-12   # its mirror leans left
    sheared = np.zeros((1, 28, 28))
    rows = np.arange(4, 24)
    sheared[0, rows, 14 + (14 - rows) // 2] = 1            # half a column per row
    assert 0.4 < probe.slant(sheared)[0] < 0.6
    # scaling the intensity changes the ink, not the slant
    assert abs(probe.slant(0.3 * diag)[0] - 1) < 1e-12


def test_concept_vector_and_arithmetic_stats():
    codes = np.arange(6, dtype=float)[:, None] * np.ones((1, 2))
    v, high, low = probe.concept_vector(codes, np.array([5, 1, 4, 0, 3, 2.0]), k=2)
    assert set(high) == {0, 2} and set(low) == {1, 3}
    np.testing.assert_allclose(v, [(0 + 2) / 2 - (1 + 3) / 2] * 2)
    before = np.zeros((4, 28, 28))
    after = before.copy()
    after[:3, 10, 10] = 1                      # three of four images gain ink
    p = np.eye(10)[[0, 1, 2, 3]]
    stats = probe.arithmetic_stats(before, after, p, np.eye(10)[[0, 1, 5, 3]], "ink")
    assert stats["moved"] == 0.75 and stats["kept"] == 0.75 and stats["move"] == 0.75


def test_matched_pixel_step_moves_the_attribute_as_far_as_asked():
    """Bisection on the scale: the mean ink gain hits the target, clipping included; a
    target beyond what clipping allows returns the largest scale."""
    rng = np.random.default_rng(0)
    before = rng.uniform(0, 1, (50, 28, 28)) * (rng.uniform(0, 1, (50, 28, 28)) < 0.2)
    difference = np.zeros((28, 28))
    difference[5:20, 12:16] = 0.5                         # a bar of ink, 60 pixels
    gain = lambda images: (images.sum(axis=(1, 2)) - before.sum(axis=(1, 2))).mean()
    scale, after = probe.matched_pixel_step(before, difference, "ink", 20.0)
    assert abs(gain(after) - 20.0) < 1e-6 and 0 < scale < 8
    np.testing.assert_array_equal(after, np.clip(before + scale * difference, 0, 1))
    assert gain(np.clip(before + 0.5 * difference, 0, 1)) < 20.0 < gain(np.clip(before + difference, 0, 1))
    scale, after = probe.matched_pixel_step(before, difference, "ink", 1e3)   # > 60 pixels of ink
    assert scale == 8.0 and np.array_equal(after, np.clip(before + 8 * difference, 0, 1))


# ----------------------------------------------------------------------------- guided


def positive_net():
    """Every weight and bias positive: on a positive input every ReLU / LeakyReLU input is
    positive, and with a positive upstream gradient every gradient is too."""
    rng = np.random.default_rng(4)
    net = L.Sequential(L.Conv2d(1, 2, 3), L.LeakyReLU(0.2), L.Flatten(), L.Dense(2 * 4 * 4, 5),
                       L.ReLU(), L.Dense(5, 3), L.LeakyReLU(0.2))
    net.to_dtype(np.float64)
    for _, owner, key in net.parameters():
        owner.params[key][...] = rng.uniform(0.1, 1.0, owner.params[key].shape)
    return net


def test_guided_backprop_is_the_true_gradient_on_an_all_positive_input():
    net = positive_net()
    x = np.random.default_rng(5).uniform(0.1, 1.0, (2, 1, 6, 6))
    R = np.random.default_rng(6).uniform(0.1, 1.0, (2, 3))     # positive upstream gradient
    y, cache = net.forward(x)
    with L.frozen(net), guided(net):
        g_guided = net.backward(R, cache)
    with L.frozen(net):
        g_true = net.backward(R, cache)
    y0 = y.copy()
    numeric = gradcheck.numerical_gradient(lambda: float(((net.forward(x)[0] - y0) * R).sum()), x)
    assert gradcheck.rel_error(g_guided, numeric) < 1e-6
    np.testing.assert_array_equal(g_guided, g_true)


def test_guided_backprop_blocks_negative_gradients_and_inputs():
    x = np.array([1.0, -1.0, 2.0, -2.0])
    dy = np.array([1.0, 1.0, -1.0, -1.0])
    relu, leaky = L.ReLU(), L.LeakyReLU(0.2)
    np.testing.assert_array_equal(relu.backward(dy, x), [1, 0, -1, 0])
    np.testing.assert_array_equal(leaky.backward(dy, x), [1, 0.2, -1, -0.2])
    with guided(L.Sequential(relu, leaky)):
        np.testing.assert_array_equal(relu.backward(dy, x), [1, 0, 0, 0])
        np.testing.assert_array_equal(leaky.backward(dy, x), [1, 0, 0, 0])
    assert not relu.guided and not leaky.guided                 # the block restores them
    # in a whole network with mixed signs, the guided map differs from the true gradient
    net = positive_net()
    net.layers[3].params["W"][:, :2] *= -1
    x = np.random.default_rng(7).uniform(0.1, 1.0, (2, 1, 6, 6))
    R = np.random.default_rng(8).standard_normal((2, 3))
    _, cache = net.forward(x)
    with L.frozen(net):
        g_true = net.backward(R, cache)
        with guided(net):
            g_guided = net.backward(R, cache)
    assert np.abs(g_true - g_guided).max() > 1e-3 * np.abs(g_true).max()


def test_guided_finds_every_activation_and_restores_after_an_error():
    inner = L.Sequential(L.Dense(2, 2), L.ReLU())
    model = L.Parts(a=L.Sequential(inner, L.LeakyReLU()), b=L.ReLU())
    assert len(piecewise_linear_layers(model)) == 3
    with pytest.raises(RuntimeError):
        with guided(model):
            assert all(layer.guided for layer in piecewise_linear_layers(model))
            raise RuntimeError
    assert not any(layer.guided for layer in piecewise_linear_layers(model))


def test_guided_saliency_of_a_strong_feature():
    backend.seed(0)
    _, D = dcgan_mnist_fc()
    x = np.random.default_rng(9).uniform(-1, 1, (3, 1, 28, 28)).astype(np.float32)
    g = probe.guided_saliency(D, x, rank=0)
    sal, channel, (r, c) = g["saliency"], g["channel"], g["peak"].T
    assert sal.shape == x.shape and channel.shape == (3,) and np.abs(sal).sum(axis=(1, 2, 3)).min() > 0
    h, _ = L.Sequential(*D.layers[:5]).forward(x, train=False)         # conv 2's LeakyReLU
    assert g["map_size"] == (7, 7)
    assert np.array_equal(channel, h.reshape(3, 128, -1).max(axis=2).argmax(axis=1))
    np.testing.assert_array_equal(h[np.arange(3), channel, r, c], h.reshape(3, 128, -1).max(axis=(1, 2)))
    # the saliency of a unit of the 7 x 7 map lies inside its 10 x 10 receptive field
    rows, cols = np.nonzero(np.abs(sal[0, 0]) > 0)
    assert rows.max() - rows.min() < 10 and cols.max() - cols.min() < 10
    share = probe.stroke_share(np.ones((1, 1, 28, 28)), (np.arange(784) < 196).reshape(1, 28, 28))
    assert share[0] == 0.25


# ----------------------------------------------------------------------------- walks


def test_lerp_and_slerp_endpoints_and_norms():
    rng = np.random.default_rng(10)
    z0, z1 = rng.standard_normal((2, 100))
    t = np.linspace(0, 1, 11)
    for f in (probe.lerp, probe.slerp):
        path = f(z0, z1, t)
        np.testing.assert_allclose(path[0], z0, atol=1e-12)
        np.testing.assert_allclose(path[-1], z1, atol=1e-12)
    e0, e1 = np.eye(3)[:2] * 2                 # orthogonal, equal norms
    np.testing.assert_allclose(np.linalg.norm(probe.slerp(e0, e1, t), axis=1), 2)
    assert abs(np.linalg.norm(probe.lerp(e0, e1, [0.5])[0]) - 2 / math.sqrt(2)) < 1e-12
    mid = np.linalg.norm(probe.lerp(z0, z1, [0.5])[0]) / math.sqrt(100)
    assert 0.6 < mid < 0.8                     # the straight line's midpoint: ~ 1 / sqrt(2)
    np.testing.assert_allclose(probe.slerp(z0, 3 * z0, t), probe.lerp(z0, 3 * z0, t))


def test_walk_stats():
    probs = np.full((1, 4, 10), 0.01)
    probs[0, [0, 1, 2, 3], [3, 3, 5, 5]] = [0.91, 0.5, 0.95, 0.99]
    feats = np.array([[[0.0], [1.0], [2.0], [6.0]]])             # steps 1, 1, 4: mean 2
    s = probe.walk_stats(probs, feats)
    assert s["label_changes"][0] == 1 and s["confident"][0] == 0.75 and s["max_step_ratio"][0] == 2


# ----------------------------------------------------------------------------- the lesson


def run(args, standin=False, check=True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop(backend.TEST_CUPY, None)
    if standin:
        env[backend.TEST_CUPY] = "cupy_standin"
        env["PYTHONPATH"] = TESTS + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


LESSON = os.path.join(ROOT, "lessons", "08_latent_space.py")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny checkpoints of lessons 02 and 04 (their default networks, 4 steps each), and
    the digit lesson 02's untrained G draws most often (the one its exemplars can come from),
    as a string (--digit's form)."""
    base = tmp_path_factory.mktemp("tiny")
    for name in ("02_dcgan", "04_cgan"):
        run([os.path.join(ROOT, "lessons", f"{name}.py"), *TINY, "--out", base / name])
    from minigan.metrics import features_and_probs
    with np.load(base / "02_dcgan" / "samples.npz") as f:
        counts = np.bincount(features_and_probs(f["images"])[1].argmax(1), minlength=10)
    return base, str(int(counts.argmax()))


def small(base, digit, out):
    return [LESSON, "--dcgan", base / "02_dcgan" / "checkpoint.npz",
            "--cgan", base / "04_cgan" / "checkpoint.npz", "--out", out, "--subsets", "2",
            "--eval-digits", "100", "--std-digits", "100", "--probe-steps", "20", "--control-epochs", "1",
            "--walks", "2", "--walk-steps", "3", "--digit", digit, "--confidence", "0",
            "--exemplars", "20", "--arith-z", "20", "--saliency-digits", "20"]


@pytest.fixture(scope="module")
def lesson_run(tiny, tmp_path_factory):
    base, digit = tiny
    out = tmp_path_factory.mktemp("lesson08")
    proc = run(small(base, digit, out))
    return out, proc


def test_lesson_runs_end_to_end(lesson_run):
    out, proc = lesson_run
    for name in ("walk_linear.png", "walk_slerp.png", "saliency.png", "arith_dcgan_ink.png",
                 "arith_dcgan_slant.png", "arith_cgan_ink.png", "arith_cgan_slant.png", "probe.npz"):
        assert (out / name).exists(), name
    with np.load(out / "probe.npz") as f:
        assert f["labelled_idx_100"].shape == (2, 100) and f["labelled_idx_1000"].shape == (2, 1000)
        assert f["test_pred_100"].shape == (2, 100) and f["test_pred_1000"].shape == (2, 100)
        assert f["labelled_idx_1000"].max() < 50000
        labels = np.load(os.path.join(ROOT, "minigan", "data", "mnist.npz"))["y_train"]
        assert (np.bincount(labels[f["labelled_idx_100"][1]], minlength=10) == 10).all()
    with np.load(out / "walks.npz") as f:                # 2 walks of 3 frames, both ends kept
        assert f["linear"].shape == f["slerp"].shape == (2, 3, 28, 28)
        assert np.allclose(f["linear"][:, [0, -1]], f["slerp"][:, [0, -1]], atol=1e-5)
    with open(out / "metrics.json") as f:
        m = json.load(f)
    for key in ("probe_trained_1000_mean", "probe_init_100_std", "probe_pixels_1000_mean",
                "probe_supervised_100_mean", "walk_slerp_label_changes", "walk_linear_max_step_ratio",
                "arith_cgan_slant_z_k3_kept", "arith_dcgan_ink_pixel_k10_moved",
                "arith_cgan_ink_matched_k3_kept", "arith_dcgan_slant_matched_k1_scale",
                "guided_stroke_share_trained", "guided_stroke_share_init"):
        assert np.isfinite(m[key]), key
    assert m["probe_trained_features"] == 4096 and m["probe_pixels_features"] == 784
    assert 0.6 < m["walk_linear_norm_min"] < 0.85 and m["walk_slerp_norm_min"] > 0.85
    assert "probe test error" in proc.stdout and "saliency on strokes" in proc.stdout


def test_lesson_on_the_gpu_standin_gives_the_cpu_numbers(tiny, lesson_run, tmp_path):
    base, digit = tiny
    cpu, _ = lesson_run
    run(small(base, digit, tmp_path) + ["--device", "gpu"], standin=True)
    with np.load(cpu / "probe.npz") as a, np.load(tmp_path / "probe.npz") as b:
        assert a.files == b.files
        for key in a.files:
            agree = (a[key] == b[key]).mean()
            assert agree >= (1.0 if key.startswith("labelled") else 0.99), (key, agree)
    with open(cpu / "metrics.json") as f, open(tmp_path / "metrics.json") as g:
        m_cpu, m_gpu = json.load(f), json.load(g)
    for key in ("walk_linear_max_step_ratio", "walk_slerp_confident", "guided_stroke_share_trained",
                "guided_stroke_share_init", "arith_dcgan_slant_z_k3_move", "arith_cgan_ink_z_k10_move",
                "arith_cgan_ink_pixel_k1_kept"):
        assert abs(m_cpu[key] - m_gpu[key]) < 1e-4, key
    assert m_gpu["device"] == "gpu"


def test_arithmetic_draws_cycle_through_the_listed_digits(tiny, tmp_path):
    """--digit A,B: draw 1 takes its exemplars from A, draw 2 from B. The tiny untrained G
    draws almost only A, so draw 2 must fail for want of B's, naming B; draw 1 alone runs."""
    base, digit = tiny
    with np.load(base / "02_dcgan" / "samples.npz") as f:
        from minigan.metrics import features_and_probs
        counts = np.bincount(features_and_probs(f["images"])[1].argmax(1), minlength=10)
    rare = int(counts.argmin())
    assert counts[rare] == 0 and str(rare) != digit
    flags = small(base, f"{digit},{rare}", tmp_path) + ["--sections", "arith"]
    one_line_error(run(flags + ["--arith-repeats", "2"], check=False), f"as a {rare} with", "--digit")
    run(flags + ["--arith-repeats", "1"])
    with open(tmp_path / "metrics.json") as f:
        m = json.load(f)
    assert m["arith_digits"] == [int(digit)]
    assert m[f"arith_cgan_slant_pixel_k3_kept_digit{digit}"] == m["arith_cgan_slant_pixel_k3_kept"]


def test_mean_by_digit_groups_the_draws_by_their_exemplars_digit():
    assert probe.mean_by_digit([0.2, 0.5, 0.4, 0.9], [3, 1, 3, 0]) == {0: 0.9, 1: 0.5, 3: pytest.approx(0.3)}


@pytest.mark.parametrize("value", ["12", "1,x", "", "all,3"])
def test_bad_digit_list_is_refused_by_argparse(tmp_path, value):
    proc = run([LESSON, "--digit", value, "--out", tmp_path], check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and "argument --digit: must be 'all' or digits" in last, proc.stderr


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_checkpoint_is_one_line_naming_the_command(tmp_path):
    proc = run([LESSON, "--dcgan", tmp_path / "none.npz", "--out", tmp_path], check=False)
    one_line_error(proc, "python lessons/02_dcgan.py")
    proc = run([LESSON, "--dcgan", tmp_path / "none.npz", "--cgan", tmp_path / "none.npz",
                "--sections", "arith", "--out", tmp_path], check=False)
    one_line_error(proc, "02_dcgan")


def fake_checkpoint(path, lesson, arch):
    """A checkpoint file with the run's metadata and no parameters (the refusals read only
    the metadata)."""
    train.save_checkpoint(str(path), {}, {"lesson": lesson, "args": {"arch": arch, "latent_dim": 100,
                                                                   "seed": 0}})
    return path


def test_checkpoint_of_another_lesson_or_arch_is_one_line(tmp_path):
    dcgan = fake_checkpoint(tmp_path / "02.npz", "02_dcgan", "fc")
    cgan = fake_checkpoint(tmp_path / "04.npz", "04_cgan", "dcgan")
    paper = fake_checkpoint(tmp_path / "paper.npz", "04_cgan", "paper")
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a checkpoint")
    cases = [(["--dcgan", cgan], ("--dcgan", "04_cgan", "02_dcgan")),
             (["--dcgan", fake_checkpoint(tmp_path / "w.npz", "03_wgan", "mlp")], ("03_wgan",)),
             (["--dcgan", fake_checkpoint(tmp_path / "x.npz", "02_dcgan", "resnet")], ("--arch resnet",)),
             (["--dcgan", dcgan, "--cgan", paper, "--sections", "arith"], ("--cgan", "--arch paper")),
             (["--dcgan", dcgan, "--cgan", dcgan, "--sections", "arith"], ("--cgan", "02_dcgan")),
             (["--dcgan", garbage], ("--dcgan", "not a readable")),
             (["--dcgan", dcgan, "--sections", "probe"], ("--dcgan", "no entry"))]  # no weights
    for flags, words in cases:
        one_line_error(run([LESSON, *flags, "--out", tmp_path], check=False), *words)


@pytest.mark.parametrize("flags", [["--epochs", "3"], ["--sections", "probe,dance"], ["--lr", "0.1"]])
def test_bad_flags_are_one_line(tmp_path, flags):
    one_line_error(run([LESSON, *flags, "--out", tmp_path], check=False))
