"""Forward passes against their definitions.

A gradient check proves backward is the derivative of forward, not that forward computes
the right function (y = x W - b with db = -sum dy passes it). Conv layers are compared with
loop implementations in test_conv_reference.py; the rest are compared here with their
one-line definitions, and BatchNorm's running statistics with PyTorch's update rule.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from conftest import SEEDS, randn, randomize_params
from minigan import backend
from minigan import layers as L


@given(n=st.integers(1, 5), i=st.integers(1, 6), o=st.integers(1, 6), seed=SEEDS)
def test_dense_forward(n, i, o, seed):
    backend.seed(seed)
    layer = L.Dense(i, o).to_dtype(np.float64)
    x = randn(seed, (n, i))
    W, b = layer.params["W"], layer.params["b"]
    expect = np.array([[sum(x[r, k] * W[k, j] for k in range(i)) + b[j] for j in range(o)]
                       for r in range(n)])
    np.testing.assert_allclose(layer.forward(x)[0], expect, rtol=1e-12, atol=1e-12)
    assert np.all(np.abs(W) <= 1 / np.sqrt(i)) and np.all(np.abs(b) <= 1 / np.sqrt(i))


@given(n=st.integers(1, 4), i=st.integers(1, 5), units=st.integers(1, 4), pieces=st.integers(1, 4),
       seed=SEEDS)
def test_maxout_forward(n, i, units, pieces, seed):
    backend.seed(seed)
    layer = L.Maxout(i, units, pieces).to_dtype(np.float64)
    x = randn(seed, (n, i))
    W, b = layer.params["W"], layer.params["b"]
    y, _ = layer.forward(x)
    assert y.shape == (n, units)
    for r in range(n):
        for u in range(units):
            pieces_z = [x[r] @ W[:, u * pieces + p] + b[u * pieces + p] for p in range(pieces)]
            np.testing.assert_allclose(y[r, u], max(pieces_z), rtol=1e-12, atol=1e-12)


def test_embedding_forward():
    backend.seed(0)
    layer = L.Embedding(4, 3)
    idx = np.array([3, 0, 3, 1])
    y, _ = layer.forward(idx)
    np.testing.assert_array_equal(y, layer.params["W"][[3, 0, 3, 1]])


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       slope=st.floats(0, 1), seed=SEEDS)
def test_activation_forwards(shape, slope, seed):
    x = randn(seed, shape, scale=4)
    np.testing.assert_array_equal(L.ReLU().forward(x)[0], np.maximum(x, 0))
    np.testing.assert_allclose(L.LeakyReLU(slope).forward(x)[0], np.where(x > 0, x, slope * x),
                               rtol=1e-15)
    # (1 + tanh(x/2)) / 2 is accurate to a few ulps of 1 in absolute terms (~1e-16), not
    # relative to a tiny y, and how many ulps depends on the CPU's tanh: atol 1e-15
    np.testing.assert_allclose(L.Sigmoid().forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(L.Tanh().forward(x)[0], np.tanh(x), rtol=1e-15)


def test_sigmoid_extremes():
    y, _ = L.Sigmoid().forward(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    assert np.all(np.isfinite(y)) and y[0] == 0 and y[2] == 0.5 and y[-1] == 1


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), seed=SEEDS)
def test_flatten_reshape_keep_order(shape, seed):
    x = randn(seed, shape)
    flat, _ = L.Flatten().forward(x)
    np.testing.assert_array_equal(flat, x.reshape(shape[0], -1))
    back, _ = L.Reshape(shape[1:]).forward(flat)
    np.testing.assert_array_equal(back, x)


# ----------------------------------------------------------------------------- batch norm


def _bn(ndim, c, seed, momentum):
    backend.seed(seed)
    layer = (L.BatchNorm1d if ndim == 2 else L.BatchNorm2d)(c, momentum=momentum)
    return randomize_params(layer.to_dtype(np.float64), seed)


@given(ndim=st.sampled_from([2, 4]), n=st.integers(2, 5), c=st.integers(1, 4), hw=st.integers(1, 3),
       momentum=st.floats(0.01, 1.0), seed=SEEDS)
def test_batchnorm_train_forward_and_running_stats(ndim, n, c, hw, momentum, seed):
    layer = _bn(ndim, c, seed, momentum)
    axes = (0,) if ndim == 2 else (0, 2, 3)
    b = (1, c) + (1,) * (ndim - 2)
    shape = (n, c) if ndim == 2 else (n, c, hw, hw)
    rm = np.zeros(c)
    rv = np.ones(c)
    for step in range(3):
        x = randn(seed + step, shape, scale=2, shift=1)
        y, _ = layer.forward(x, train=True)
        mu, var = x.mean(axis=axes), x.var(axis=axes)                  # biased, for normalising
        m = x.size // c
        expect = (layer.params["gamma"].reshape(b) * (x - mu.reshape(b)) / np.sqrt(var.reshape(b) + 1e-5)
                  + layer.params["beta"].reshape(b))
        np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-10)
        rm = (1 - momentum) * rm + momentum * mu                        # PyTorch's update,
        rv = (1 - momentum) * rv + momentum * var * m / (m - 1)         # unbiased variance
        np.testing.assert_allclose(layer.buffers["running_mean"], rm, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.buffers["running_var"], rv, rtol=1e-10, atol=1e-12)


@given(ndim=st.sampled_from([2, 4]), n=st.integers(1, 5), c=st.integers(1, 4), seed=SEEDS)
def test_batchnorm_eval_forward_uses_running_stats(ndim, n, c, seed):
    layer = _bn(ndim, c, seed, 0.1)
    shape = (n, c) if ndim == 2 else (n, c, 2, 3)
    b = (1, c) + (1,) * (ndim - 2)
    rm, rv = randn(seed, c), np.random.default_rng(seed).uniform(0.5, 2, c)
    layer.buffers["running_mean"][...] = rm
    layer.buffers["running_var"][...] = rv
    x = randn(seed + 1, shape)
    y, _ = layer.forward(x, train=False)
    expect = (layer.params["gamma"].reshape(b) * (x - rm.reshape(b)) / np.sqrt(rv.reshape(b) + 1e-5)
              + layer.params["beta"].reshape(b))
    np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(layer.buffers["running_mean"], rm)    # eval changes nothing
    np.testing.assert_array_equal(layer.buffers["running_var"], rv)


# ----------------------------------------------------------------------------- layer norm


def layernorm_loop(x, gamma, beta, eps=1e-5):
    """The definition, one sample at a time: its mean and (biased) variance over all of
    its values, then gamma and beta of each value's channel (axis 1)."""
    y = np.empty_like(x)
    for n in range(len(x)):
        values = x[n].ravel()
        mu = sum(values) / len(values)
        var = sum((v - mu) ** 2 for v in values) / len(values)
        for idx in np.ndindex(*x.shape[1:]):
            c = idx[0]
            y[(n,) + idx] = gamma[c] * (x[(n,) + idx] - mu) / np.sqrt(var + eps) + beta[c]
    return y


@given(ndim=st.sampled_from([2, 4]), n=st.integers(1, 4), c=st.integers(1, 4), seed=SEEDS)
def test_layernorm_forward(ndim, n, c, seed):
    backend.seed(seed)
    layer = randomize_params(L.LayerNorm(c).to_dtype(np.float64), seed)
    shape = (n, c) if ndim == 2 else (n, c, 2, 3)
    x = randn(seed + 1, shape, scale=2, shift=1)
    for train in (True, False):                    # per sample: no batch statistics, no mode
        y, _ = layer.forward(x, train)
        np.testing.assert_allclose(y, layernorm_loop(x, layer.params["gamma"], layer.params["beta"]),
                                   rtol=1e-10, atol=1e-10)
    assert not layer.buffers                       # nothing kept between calls
    # each sample alone gives its own rows: no sample sees another
    np.testing.assert_allclose(layer.forward(x[-1:])[0], layer.forward(x)[0][-1:], rtol=1e-12, atol=1e-12)
