"""InstanceNorm2d, ReflectionPad2d and ResidualBlock: forward against their definitions
written as loops (or NumPy's own pad), backward against central differences in float64."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import SEEDS, assert_gradcheck, randn
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import check_layer
from minigan.layers.norm import normalize_grad


def instance_norm_loop(x, eps, gamma=None, beta=None):
    """The definition, one image and one channel at a time."""
    y = np.empty_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            plane = x[n, c]
            mu = plane.sum() / plane.size
            var = ((plane - mu) ** 2).sum() / plane.size
            y[n, c] = (plane - mu) / np.sqrt(var + eps)
            if gamma is not None:
                y[n, c] = gamma[c] * y[n, c] + beta[c]
    return y


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(2, 5),
       affine=st.booleans(), seed=SEEDS)
def test_instance_norm_forward_is_its_definition(n, c, h, w, affine, seed):
    layer = L.InstanceNorm2d(c, affine=affine).to_dtype(np.float64)
    rng = np.random.default_rng(seed)
    if affine:
        layer.params["gamma"][...] = rng.normal(size=c)
        layer.params["beta"][...] = rng.normal(size=c)
    x = randn(seed, (n, c, h, w)) * 3 + 1
    want = instance_norm_loop(x, layer.eps, *((layer.params["gamma"], layer.params["beta"]) if affine else ()))
    for train in (True, False):                       # no running statistics: the same
        np.testing.assert_allclose(layer.forward(x, train)[0], want, rtol=1e-10, atol=1e-12)


def test_instance_norm_keeps_images_apart():
    """An image's output does not depend on the other images of the batch (BatchNorm's does)."""
    layer = L.InstanceNorm2d(2).to_dtype(np.float64)
    x = randn(0, (3, 2, 4, 4))
    alone = layer.forward(x[:1])[0]
    other = x.copy()
    other[1:] *= 10
    np.testing.assert_allclose(layer.forward(other)[0][:1], alone, rtol=1e-12)


def _part_outside_span(x, dy):
    """Smallest, over planes, fraction of |dy| left after removing its components along 1
    and along the normalised plane y_hat: the part InstanceNorm's backward passes on."""
    fractions = []
    for plane, d in zip(x.reshape(-1, x.shape[2] * x.shape[3]), dy.reshape(-1, x.shape[2] * x.shape[3])):
        basis = np.linalg.qr(np.stack([np.ones_like(plane), plane - plane.mean()], axis=1))[0]
        fractions.append(np.linalg.norm(d - basis @ (basis.T @ d)) / np.linalg.norm(d))
    return min(fractions)


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 5), w=st.integers(2, 5),
       affine=st.booleans(), seed=SEEDS)
def test_instance_norm_gradients(n, c, h, w, affine, seed):
    backend.seed(seed)
    layer = L.InstanceNorm2d(c, affine=affine).to_dtype(np.float64)
    if affine:
        layer.params["gamma"][...] = np.random.default_rng(seed).normal(size=c)
    x = randn(seed, (n, c, h, w))
    # a plane of (nearly) equal pixels has no spread to normalise: its gradient is
    # ill-conditioned (1 / sqrt(eps)) and the finite difference is what goes wrong there
    assume(x.std(axis=(2, 3)).min() > 0.1)
    # dL/dx of a plane is dL/dy with its components along 1 and y_hat removed (then / sigma).
    # On a small plane check_layer's dL/dy (drawn from default_rng(seed + 1), seed 0) can lie
    # almost in that 2-d span; dL/dx is then ~0 and its relative error measures only the
    # finite difference's rounding (seen: 2x2 plane, |dL/dx| ~ 1e-5, "error" 2e-6).
    assume(_part_outside_span(x, np.random.default_rng(1).standard_normal(x.shape)) > 0.1)
    errs = check_layer(layer, x)
    assert_gradcheck("InstanceNorm2d", errs, expect={"x"} | ({"gamma", "beta"} if affine else set()))


@pytest.mark.parametrize("axes", [(2, 3), (1, 2, 3)], ids=["InstanceNorm2d", "LayerNorm"])
def test_normalize_grad_is_the_jacobian_of_the_normalisation(axes):
    """norm.py's normalize_grad, which InstanceNorm2d and LayerNorm share, is J_N u with
    J_N = s (I - 1 1^T / M - x_hat x_hat^T / M), the matrix written out for each group of
    M values (one image's channel; one sample)."""
    x, u = randn(0, (2, 3, 4, 5)) * 2 + 1, randn(1, (2, 3, 4, 5))
    x_hat = x - x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt((x_hat ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    x_hat *= inv_std
    got = normalize_grad(u, x_hat, inv_std, axes)
    keep = [a for a in range(4) if a not in axes]               # the axes of the groups
    order = keep + list(axes)
    groups = lambda a: a.transpose(order).reshape(-1, int(np.prod([a.shape[i] for i in axes])))
    for g, xh, s, uu in zip(groups(got), groups(x_hat), groups(np.broadcast_to(inv_std, x.shape)),
                            groups(u)):
        M = len(xh)
        J = s[0] * (np.eye(M) - np.ones((M, M)) / M - np.outer(xh, xh) / M)
        np.testing.assert_allclose(g, J @ uu, rtol=1e-12, atol=1e-12)


@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(2, 6), w=st.integers(2, 6),
       p=st.integers(0, 3), seed=SEEDS)
def test_reflection_pad_is_numpys(n, c, h, w, p, seed):
    assume(p < h and p < w)
    x = randn(seed, (n, c, h, w))
    y, _ = L.ReflectionPad2d(p).forward(x)
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect"))


@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(2, 6), w=st.integers(2, 6),
       p=st.integers(1, 3), seed=SEEDS)
def test_reflection_pad_gradients(n, c, h, w, p, seed):
    assume(p < h and p < w)
    errs = check_layer(L.ReflectionPad2d(p), randn(seed, (n, c, h, w)))
    assert_gradcheck("ReflectionPad2d", errs, expect={"x"})


def test_reflection_pad_backward_is_the_adjoint():
    """<pad(x), dy> = <x, pad^T(dy)> for random x and dy: backward is the exact transpose
    of the copy (each pad pixel's gradient lands on the one pixel it copied)."""
    layer = L.ReflectionPad2d(2)
    x, dy = randn(1, (2, 3, 5, 4)), randn(2, (2, 3, 9, 8))
    y, cache = layer.forward(x)
    np.testing.assert_allclose((y * dy).sum(), (x * layer.backward(dy, cache)).sum(), rtol=1e-12)


def test_reflection_pad_too_wide_is_one_error():
    with pytest.raises(ValueError, match="padding 3 needs H and W > 3"):
        L.ReflectionPad2d(3).forward(np.zeros((1, 1, 3, 8)))


@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(3, 5), w=st.integers(3, 5), seed=SEEDS)
def test_residual_block_gradients(n, c, h, w, seed):
    backend.seed(seed)
    block = L.ResidualBlock(c).to_dtype(np.float64)
    x = randn(seed, (n, c, h, w))
    # The step h = 1e-6 (`step`), as for lesson 07's whole step: InstanceNorm over a map of 9 values
    # is strongly curved, and at h = 1e-5 the central difference's truncation error reached
    # 4e-6 (thorough profile, c = 1, 3 x 3; 4e-4, 4e-6, 4e-8 at h = 1e-4, 1e-5, 1e-6: it falls
    # as h^2, the backward is right). And a central difference is only right where the
    # function is smooth within its step: skip draws with a ReLU input (InstanceNorm's
    # output) within 100 h of the kink at 0 (one drew 4e-5 from it).
    step = 1e-6
    pre_relu = block.body.layers[2].forward(block.body.layers[1].forward(
        block.body.layers[0].forward(x.astype(np.float64))[0])[0])[0]
    assume(np.abs(pre_relu).min() > 100 * step)
    errs = check_layer(block, x, h=step)
    assert_gradcheck("ResidualBlock", errs,
                     expect={"x", "body.1.W", "body.1.b", "body.5.W", "body.5.b"})


def test_residual_block_is_x_plus_its_body():
    backend.seed(0)
    block = L.ResidualBlock(2).to_dtype(np.float64)
    x = randn(3, (2, 2, 5, 5))
    np.testing.assert_allclose(block.forward(x)[0], x + block.body.forward(x)[0], rtol=1e-12)
    assert [n for n, _, _ in block.parameters()] == ["body.1.W", "body.1.b", "body.5.W", "body.5.b"]
