"""minigan.metrics on real MNIST images (where the answers are known) and on noise."""
import subprocess
import sys

import numpy as np
import pytest

from minigan import backend, metrics
from minigan.data import load_mnist


@pytest.fixture(scope="module")
def cpu():
    backend.use("cpu")


def test_classifier_reaches_99_percent(cpu):
    features, head = metrics.load_classifier()
    assert metrics.accuracy(features, head, "test") >= 0.99


def test_real_images_score_like_real_images(cpu):
    x, y = load_mnist("valid")
    m = metrics.evaluate(x[:, 0], y, parzen_window=False)
    assert m["inception_score"] > 9.5
    assert 0.08 < m["min_class_share"] and m["max_class_share"] < 0.12
    assert m["label_accuracy"] > 0.99
    # valid vs test: the same distribution; half the classes alone is ~250, noisy digits ~200
    assert m["frechet_distance"] < 10
    half = metrics.evaluate(x[y < 5][:, 0], parzen_window=False)
    assert half["frechet_distance"] > 20 * m["frechet_distance"]


def test_noise_scores_badly(cpu):
    noise = np.random.default_rng(0).uniform(0, 1, (2000, 28, 28)).astype(np.float32)
    m = metrics.evaluate(noise, parzen_window=False)
    assert m["inception_score"] < 3
    assert m["frechet_distance"] > 100
    assert m["max_class_share"] > 0.3


def test_one_digit_only_shows_as_mode_collapse(cpu):
    x, y = load_mnist("test")
    m = metrics.evaluate(x[y == 3][:, 0], parzen_window=False)
    assert m["class_shares"][3] > 0.95 and m["inception_score"] < 1.5


def test_frechet_distance_formula():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2 + 1
    # N(0, I) vs N(1, 4I): |mu|^2 = 3, Tr = 3 + 12 - 2 * Tr(sqrt(4I)) = 15 - 12 = 3
    assert metrics.frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
    assert abs(metrics.frechet_distance(a, a)) < 1e-6


def test_parzen_log_density_matches_direct_formula():
    rng = np.random.default_rng(1)
    samples, queries = rng.uniform(0, 1, (7, 5)), rng.uniform(0, 1, (4, 5))
    sigma = 0.3
    got = metrics._parzen_log_density(queries, samples, [sigma], chunk=3)[0]
    dens = np.exp(-((queries[:, None] - samples[None]) ** 2).sum(-1) / (2 * sigma ** 2))
    want = np.log(dens.mean(1) / (2 * np.pi * sigma ** 2) ** 2.5)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_parzen_prefers_real_digits():
    x = load_mnist("train")[0][:1000, 0]
    real = metrics.parzen(x)
    blurred = metrics.parzen(np.clip(x + np.random.default_rng(0).normal(0, 0.3, x.shape), 0, 1))
    assert real["parzen_sigma"] in np.logspace(-1, 0, 10)
    assert real["parzen_ll"] > blurred["parzen_ll"]


def test_finer_sigma_grid_holds_the_papers_and_can_only_do_better_on_validation():
    """sigma_grid(91) steps 10x finer in log than the paper's 10 widths and contains them, so
    the width it picks scores at least as well on the validation split."""
    fine = metrics.sigma_grid(91)
    assert np.allclose(fine[::10], metrics.PAPER_SIGMAS, rtol=1e-12)
    x = load_mnist("train")[0][:300, 0]
    paper_ll, _ = metrics.parzen_validation(x)
    fine_ll, fine_sigma = metrics.parzen_validation(x, fine)
    assert fine_ll >= paper_ll and fine_sigma in fine


def test_cli_rejects_a_grid_without_widths(tmp_path):
    good = tmp_path / "s.npz"
    np.savez(good, images=np.zeros((3, 28, 28)))
    proc = subprocess.run([sys.executable, "-m", "minigan.metrics", str(good), "--parzen-sigmas", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--parzen-sigmas" in proc.stderr


def test_cli_rejects_bad_file(tmp_path):
    bad = tmp_path / "s.npz"
    np.savez(bad, images=np.zeros((3, 5, 5)))
    proc = subprocess.run([sys.executable, "-m", "minigan.metrics", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "(N, 28, 28)" in proc.stderr


def test_within_class_spread():
    """0 for one image per class; the RMS distance to the class mean otherwise."""
    from minigan.metrics import within_class_spread
    rng = np.random.default_rng(0)
    protos = rng.uniform(size=(3, 28, 28))
    labels = np.repeat(np.arange(3), 4)
    assert within_class_spread(np.repeat(protos, 4, axis=0), labels) < 1e-12
    # class c: images mean_c +- d_c on every pixel (two of each), so the spread is d_c
    d = np.array([0.1, 0.2, 0.3])
    signs = np.tile([1.0, -1.0, 1.0, -1.0], 3)[:, None, None]
    images = np.repeat(protos, 4, axis=0) * 0.4 + 0.3 + signs * np.repeat(d, 4)[:, None, None]
    np.testing.assert_allclose(within_class_spread(images, labels), d.mean(), rtol=1e-12)


def test_mean_pairwise_distance_against_a_loop():
    from minigan.metrics import mean_pairwise_distance
    f = np.random.default_rng(1).normal(size=(7, 5))
    want = np.mean([np.linalg.norm(f[i] - f[j]) for i in range(7) for j in range(7) if i != j])
    np.testing.assert_allclose(mean_pairwise_distance(f), want, rtol=1e-10)


def test_within_class_diversity():
    """1 for data as varied as the reference, 0 for one image per label, and it follows a
    scaling of the spread within one class only."""
    from minigan.metrics import within_class_diversity
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)
    feats = rng.normal(size=(300, 8)) + 5 * labels[:, None]
    np.testing.assert_allclose(within_class_diversity(feats, labels, feats, labels), 1.0, rtol=1e-12)
    protos = np.repeat(feats[::30], 30, axis=0)                       # one point per label
    assert max(within_class_diversity(protos, labels, feats, labels)) < 1e-6
    shrunk = feats.copy()
    shrunk[labels == 3] = 5 * 3 + 0.5 * (feats[labels == 3] - 5 * 3)  # class 3 half as spread
    got = within_class_diversity(shrunk, labels, feats, labels)
    np.testing.assert_allclose(got[3], 0.5, rtol=1e-9)               # (Gram-matrix rounding)
    np.testing.assert_allclose(np.delete(got, 3), 1.0, rtol=1e-9)
    with pytest.raises(ValueError, match="class 9"):
        within_class_diversity(feats[:271], labels[:271], feats, labels)


def test_best_pixel_map_learns_any_colour_map_but_not_a_neighbourhood():
    """An inversion is a per-pixel map: the table reproduces it (error ~ the bin width).
    A dilation needs each pixel's neighbours: the table cannot, and the ratio of a perfect
    translation to it is 0."""
    x = load_mnist("test")[0][:200, 0]
    inverted = 1 - x
    assert metrics.translation_errors(x, inverted, inverted)["pixel_error_best_pixel_map"] < 1 / 64
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    dilated = np.max([padded[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)], axis=0)
    errors = metrics.translation_errors(x, 1 - dilated, 1 - dilated)
    assert errors["pixel_error_best_pixel_map"] > 0.05           # strokes get thicker
    assert errors["ratio_to_best_pixel_map"] == 0 and errors["ratio_to_identity"] == 0
    plain = metrics.translation_errors(x, 1 - x, 1 - dilated)   # inverting only
    assert plain["ratio_to_best_pixel_map"] >= 0.99             # no better than the table
    assert plain["ratio_to_identity"] < 0.5                     # though far better than nothing


def test_sigmoid_bias_from_marginals():
    """sigmoid(b) is the mean image; pixels that are always 0 (or 1) stay finite."""
    from minigan.init import sigmoid_bias_from_marginals
    x = np.zeros((4, 1, 2, 2))
    x[:, 0, 0, 0] = [0, 1, 1, 1]                          # mean 0.75
    x[:, 0, 0, 1] = 1                                     # mean 1
    x[:2, 0, 1, 0] = 0.5                                  # mean 0.25
    b = sigmoid_bias_from_marginals(x)
    assert b.shape == (4,) and b.dtype == np.float32 and np.all(np.isfinite(b))
    np.testing.assert_allclose(1 / (1 + np.exp(-b.astype(np.float64))), [0.75, 1 - 1e-7, 0.25, 1e-7],
                               rtol=1e-5)


def test_gan_paper_mnist_follows_the_yaml():
    """Layer sizes, irange 0.05 (G) and 0.005 (D), zero biases, dropout 0.2 / 0.5 / 0.5."""
    from minigan import backend, layers as L
    from minigan.models import gan_paper_mnist
    backend.seed(0)
    G, D = gan_paper_mnist()
    dense_g = [l for l in G.layers if isinstance(l, L.Dense)]
    assert [l.params["W"].shape for l in dense_g] == [(100, 1200), (1200, 1200), (1200, 784)]
    assert [(l.units, l.pieces) for l in D.layers if isinstance(l, L.Maxout)] == [(240, 5), (240, 5)]
    assert [l.p for l in D.layers if isinstance(l, L.Dropout)] == [0.2, 0.5, 0.5]
    for model, irange in ((G, 0.05), (D, 0.005)):
        for name, owner, key in model.parameters():
            p = owner.params[key]
            if key == "W":
                assert np.abs(p).max() <= irange and np.abs(p).max() > 0.9 * irange, name
            else:
                assert not np.any(p), name
    images, _ = G.forward(np.zeros((3, 100), np.float32), train=False)
    assert images.shape == (3, 1, 28, 28)
