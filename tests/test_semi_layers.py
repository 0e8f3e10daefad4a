"""Lesson 09's layers and losses against central differences, in float64: WeightNormDense,
GaussianNoise and Softplus over hypothesis shapes (as tests/test_gradcheck_layers.py checks
every other layer), the data-dependent initialisation, and the semi-supervised GAN's losses
(log-sum-exp, bce_with_lse, feature matching), with the implicit-fake-class identities the
lesson relies on."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import GRAD_TOL, SEEDS, assert_gradcheck, randn, randomize_params
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import check_function, check_layer, check_second_order
from minigan.layers.semi import GaussianNoise, Softplus, WeightNormDense, data_dependent_init
from minigan.losses import (bce_with_lse, bce_with_logits, feature_matching, log_sum_exp,
                            softmax, softmax_cross_entropy)

sizes = st.integers(1, 6)
batches = st.integers(1, 4)


# ----------------------------------------------------------------------------- WeightNormDense


@given(n=batches, i=sizes, o=sizes, train_g=st.booleans(), seed=SEEDS)
def test_weight_norm_dense(n, i, o, train_g, seed):
    backend.seed(seed)
    layer = randomize_params(WeightNormDense(i, o, train_g=train_g).to_dtype(np.float64), seed)
    if not train_g:                                      # a buffer: give it non-trivial values
        layer.buffers["g"][...] = np.random.default_rng(seed + 3).uniform(0.5, 2, o)
    errs = check_layer(layer, randn(seed, (n, i)))
    expect = {"x", "v", "b"} | ({"g"} if train_g else set())
    assert_gradcheck("WeightNormDense", errs, expect=expect)


def test_weight_norm_dense_is_a_dense_layer_with_w_from_g_and_v():
    """y = x w + b with w = g v / ||v|| column by column; a v scaled by any c > 0 is the same
    layer; backward_params adds exactly backward's parameter gradients and returns nothing."""
    backend.seed(0)
    layer = randomize_params(WeightNormDense(5, 3).to_dtype(np.float64), 1)
    x, dy = randn(2, (4, 5)), randn(3, (4, 3))
    v, g, b = (layer.params[k].copy() for k in ("v", "g", "b"))
    w = g * v / np.linalg.norm(v, axis=0)
    y, cache = layer.forward(x)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(w, axis=0), np.abs(g), rtol=1e-12)
    layer.params["v"] *= 7.5
    np.testing.assert_allclose(layer.forward(x)[0], y, rtol=1e-12)
    layer.params["v"] /= 7.5
    layer.zero_grad()
    layer.backward(dy, cache)
    full = {k: layer.grads[k].copy() for k in layer.grads}
    layer.zero_grad()
    assert layer.backward_params(dy, cache) is None
    for k in full:
        np.testing.assert_array_equal(layer.grads[k], full[k])
    # v's gradient is orthogonal to v, column by column (the projection in the docstring)
    np.testing.assert_allclose((full["v"] * v).sum(axis=0), 0, atol=1e-12)
    with L.frozen(layer):
        layer.zero_grad()
        layer.backward(dy, cache)
    assert all(not np.any(layer.grads[k]) for k in layer.grads)


def test_fixed_g_is_a_buffer_saved_but_not_trained():
    layer = WeightNormDense(4, 2, train_g=False)
    assert [n for n, _, _ in layer.parameters()] == ["v", "b"]
    assert set(layer.state_dict()) == {"v", "b", "g"}


def test_init_from_data_standardises_every_unit():
    """After init_from_data(x), the layer's output on x has mean 0 and variance 1 per unit,
    and the returned y is that output."""
    backend.seed(0)
    for train_g in (True, False):
        layer = WeightNormDense(6, 4, train_g=train_g).to_dtype(np.float64)
        x = randn(1, (50, 6), scale=3.0, shift=2.0)
        y0 = layer.init_from_data(x)
        y, _ = layer.forward(x)
        np.testing.assert_allclose(y, y0, atol=1e-12)
        np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-12)


def test_data_dependent_init_goes_bottom_up():
    """In a Sequential, every WeightNormDense is standardised on the input it receives from
    the already initialised layers below (checked with the noise off: no noise layers)."""
    backend.seed(0)
    net = L.Sequential(WeightNormDense(5, 6, train_g=False), L.ReLU(),
                       L.Sequential(WeightNormDense(6, 4), L.ReLU()), WeightNormDense(4, 3))
    net.to_dtype(np.float64)
    x = randn(2, (40, 5), scale=2.0, shift=1.0)
    out = data_dependent_init(net, x)
    h = x
    for layer in [net[0], net[1], net[2][0], net[2][1], net[3]]:
        h, _ = layer.forward(h)
        if isinstance(layer, WeightNormDense):
            np.testing.assert_allclose(h.mean(axis=0), 0, atol=1e-12)
            np.testing.assert_allclose(h.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(out, h, atol=1e-12)


# ----------------------------------------------------------------------------- GaussianNoise


@given(n=batches, d=sizes, sigma=st.floats(0.0, 2.0), seed=SEEDS)
def test_gaussian_noise(n, d, sigma, seed):
    errs = check_layer(GaussianNoise(sigma), randn(seed, (n, d)), seed=seed)
    assert_gradcheck("GaussianNoise", errs, expect={"x"})


def test_gaussian_noise_train_and_eval():
    x = np.zeros((400, 250), np.float32)
    layer = GaussianNoise(0.5)
    backend.seed(1)
    y, _ = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert abs(float(y.mean())) < 0.01 and abs(float(y.std()) - 0.5) < 0.01
    backend.seed(1)
    np.testing.assert_array_equal(layer.forward(x)[0], y)        # the seeded stream
    assert not np.array_equal(layer.forward(x)[0], y)            # fresh noise every call
    y_eval, _ = layer.forward(x + 1, train=False)
    np.testing.assert_array_equal(y_eval, x + 1)
    dy = randn(0, x.shape)
    assert layer.backward(dy, None) is dy
    with pytest.raises(ValueError):
        GaussianNoise(-0.1)


# ----------------------------------------------------------------------------- Softplus


@given(n=batches, d=sizes, scale=st.floats(0.1, 10.0), seed=SEEDS)
def test_softplus(n, d, scale, seed):
    errs = check_layer(Softplus(), randn(seed, (n, d), scale=scale))
    assert_gradcheck("Softplus", errs, expect={"x"})


@given(n=batches, d=sizes, seed=SEEDS)
def test_softplus_second_order(n, d, seed):
    errs = check_second_order(Softplus(), randn(seed, (n, d), scale=2.0))
    assert_gradcheck("Softplus (second order)", errs, expect={"tangent", "x"})


def test_softplus_never_overflows():
    """Finite at +-1000, where log(1 + e^x) computed as written overflows; sigmoid(x), the
    cache, is right to rounding (absolute: tanh's form loses relative digits far left)."""
    x = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    y, s = Softplus().forward(x)
    tail = np.log1p(np.exp(-30.0))
    np.testing.assert_allclose(y, [[0.0, tail, np.log(2.0), 30.0 + tail, 1000.0]], rtol=1e-12)
    sigmoid = [[0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]]
    np.testing.assert_allclose(s, sigmoid, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- the losses


@given(n=batches, k=st.integers(1, 11), scale=st.floats(0.1, 20.0), seed=SEEDS)
def test_log_sum_exp(n, k, scale, seed):
    z = randn(seed, (n, k), scale=scale)
    np.testing.assert_allclose(log_sum_exp(z), np.log(np.exp(z).sum(axis=1)), rtol=1e-12)
    # its gradient is the softmax: check through the mean of lse
    err = check_function(lambda zz: (float(log_sum_exp(zz).sum()), softmax(zz)), z.copy())
    assert err <= GRAD_TOL


@given(n=batches, k=st.integers(1, 11), scale=st.floats(0.1, 10.0),
       target=st.sampled_from([0.0, 1.0]), seed=SEEDS)
def test_bce_with_lse_gradient(n, k, scale, target, seed):
    z = randn(seed, (n, k), scale=scale)
    err = check_function(lambda zz: bce_with_lse(zz, target), z.copy())
    assert err <= GRAD_TOL


def test_bce_with_lse_is_the_eleven_class_discriminator():
    """With the fake class's logit fixed at 0: -log D(x) for real, -log(1 - D(x)) for fake,
    D(x) = Z / (Z + 1); and the improved-gan form of the real term gives the same value."""
    z = randn(0, (6, 10), scale=2.0)
    Z = np.exp(z).sum(axis=1)
    D = Z / (Z + 1)
    assert bce_with_lse(z, 1.0)[0] == pytest.approx(-np.log(D).mean(), rel=1e-12)
    assert bce_with_lse(z, 0.0)[0] == pytest.approx(-np.log(1 - D).mean(), rel=1e-12)
    lse = log_sum_exp(z)
    softplus = np.log1p(np.exp(lse))
    assert bce_with_lse(z, 1.0)[0] == pytest.approx((-lse + softplus).mean(), rel=1e-12)
    # = softmax over eleven logits [z, 0]: its class 10 is p(fake | x) = 1 / (Z + 1)
    eleven = softmax(np.concatenate([z, np.zeros((6, 1))], axis=1))
    np.testing.assert_allclose(eleven[:, 10], 1 / (Z + 1), rtol=1e-12)
    # and the ten digits' probabilities given "real" are softmax(z): the supervised loss
    np.testing.assert_allclose(eleven[:, :10] / (1 - eleven[:, 10:]), softmax(z), rtol=1e-12)


def test_eleven_logits_are_ten_with_the_last_fixed_at_zero():
    """Seed 002's D: a softmax over 11 logits a. Subtracting a_10 from all eleven changes no
    probability, so l = a[:, :10] - a[:, 10:] with the fake logit 0 is the same model."""
    a = randn(1, (5, 11), scale=3.0)
    l = a[:, :10] - a[:, 10:]
    np.testing.assert_allclose(softmax(a), softmax(np.concatenate([l, np.zeros((5, 1))], axis=1)),
                               rtol=1e-12)
    fake_label = np.full(5, 10)
    ce = softmax_cross_entropy(a, fake_label)[0]
    assert ce == pytest.approx(bce_with_lse(l, 0.0)[0], rel=1e-12)


def test_bce_with_lse_is_stable():
    """Logits of +-1000 (Z = e^1000 or e^-1000): finite losses and gradients, right values."""
    z = np.array([[1000.0, 990.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    for target in (0.0, 1.0):
        loss, grad = bce_with_lse(z, target)
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # real: -log D ~ 1/Z for the first row (0), ~ 1000 - log 3 for the second
    assert bce_with_lse(z, 1.0)[0] == pytest.approx((0 + 1000 - np.log(3)) / 2, rel=1e-12)
    assert bce_with_lse(z, 0.0)[0] == pytest.approx((1000 + np.log1p(np.exp(-10.0))) / 2, rel=1e-12)
    assert bce_with_logits(log_sum_exp(z), 1.0)[0] == bce_with_lse(z, 1.0)[0]


@given(n=batches, m=batches, d=sizes, seed=SEEDS)
def test_feature_matching(n, m, d, seed):
    fake, real = randn(seed, (n, d)), randn(seed + 1, (m, d), shift=0.5)
    loss, _ = feature_matching(fake, real)
    diff = real.mean(axis=0) - fake.mean(axis=0)
    assert loss == pytest.approx(float((diff ** 2).mean()), rel=1e-12)
    err = check_function(lambda f: feature_matching(f, real), fake.copy())
    assert err <= GRAD_TOL


def test_softmax_cross_entropy_on_ten_logits():
    """L_sup is the ordinary cross-entropy (minigan.losses.softmax_cross_entropy), checked
    here at the lesson's K = 10."""
    z, y = randn(3, (7, 10), scale=2.0), np.arange(7) % 10
    assert check_function(lambda zz: softmax_cross_entropy(zz, y), z.copy()) <= GRAD_TOL

