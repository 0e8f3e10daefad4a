"""Conv2d and ConvTranspose2d against plain-loop implementations of their definitions.

The loops below are the definitions written out, one multiply-add at a time; minigan's
im2col/GEMM layers must reproduce them to rounding (float64). Output shapes are compared
with PyTorch's documented formulae. ConvTranspose2d's backward pass is checked against the
adjoint of its loop definition too (a gradient check only shows backward is the
derivative of forward, whatever forward computes).

Tolerances: the GEMM and the loops add the same products in different orders, so they
agree to ~1e-16 times the sum of the products' magnitudes; here that is at most ~1e-14
(products of N(0, 1) data and O(1) weights, at most 3 * 4 * 4 of them), and rtol/atol
1e-10 leaves a wide margin without depending on the summation order.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import (SEEDS, assert_gradcheck, conv_configs, conv_out, convT_configs, convT_out,
                      randn)
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import check_layer


def conv2d_loops(x, W, b, s, p):
    """y[n,f,h,w] = b[f] + sum_{c,i,j} W[f,c,i,j] x_pad[n,c,s*h+i,s*w+j]."""
    N, C, H, Wd = x.shape
    F, _, k, _ = W.shape
    xpad = np.zeros((N, C, H + 2 * p, Wd + 2 * p))
    xpad[:, :, p:p + H, p:p + Wd] = x
    Ho = (H + 2 * p - k) // s + 1
    Wo = (Wd + 2 * p - k) // s + 1
    y = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for h in range(Ho):
                for w in range(Wo):
                    total = 0.0 if b is None else b[f]
                    for c in range(C):
                        for i in range(k):
                            for j in range(k):
                                total += W[f, c, i, j] * xpad[n, c, s * h + i, s * w + j]
                    y[n, f, h, w] = total
    return y


def conv_transpose2d_loops(x, W, b, s, p, op):
    """Scatter y_full[n,f,s*h+i,s*w+j] += W[c,f,i,j] x[n,c,h,w], crop p at the top/left,
    keep (H-1)s - 2p + k + op rows/columns, add the bias."""
    N, C, H, Wd = x.shape
    _, F, k, _ = W.shape
    Ho = (H - 1) * s - 2 * p + k + op
    Wo = (Wd - 1) * s - 2 * p + k + op
    # big enough for the scatter and for the crop window p .. p + Ho (op may exceed p)
    y_full = np.zeros((N, F, max((H - 1) * s + k, p + Ho), max((Wd - 1) * s + k, p + Wo)))
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(Wd):
                    for f in range(F):
                        for i in range(k):
                            for j in range(k):
                                y_full[n, f, s * h + i, s * w + j] += W[c, f, i, j] * x[n, c, h, w]
    y = y_full[:, :, p:p + Ho, p:p + Wo].copy()
    if b is not None:
        for f in range(F):
            y[:, f] += b[f]
    return y


def _params(layer):
    return layer.params["W"], layer.params.get("b")


@given(cfg=conv_configs(max_extra=4), bias=st.booleans(), seed=SEEDS)
def test_conv2d_matches_definition(cfg, bias, seed):
    backend.seed(seed)
    layer = L.Conv2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                     bias=bias).to_dtype(np.float64)
    x = randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    y, _ = layer.forward(x)
    W, b = _params(layer)
    assert y.shape == (cfg["n"], cfg["f"], conv_out(cfg["h"], cfg["k"], cfg["s"], cfg["p"]),
                       conv_out(cfg["w"], cfg["k"], cfg["s"], cfg["p"]))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, conv2d_loops(x, W, b, cfg["s"], cfg["p"]), rtol=1e-10, atol=1e-10)


@given(cfg=convT_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv_transpose2d_matches_definition(cfg, bias, seed):
    backend.seed(seed)
    layer = L.ConvTranspose2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                              output_padding=cfg["op"], bias=bias).to_dtype(np.float64)
    x = randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    y, _ = layer.forward(x)
    W, b = _params(layer)
    assert y.shape == (cfg["n"], cfg["f"],
                       convT_out(cfg["h"], cfg["k"], cfg["s"], cfg["p"], cfg["op"]),
                       convT_out(cfg["w"], cfg["k"], cfg["s"], cfg["p"], cfg["op"]))
    ref = conv_transpose2d_loops(x, W, b, cfg["s"], cfg["p"], cfg["op"])
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)


@given(cfg=convT_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv_transpose2d_backward_is_the_adjoint_of_the_definition(cfg, bias, seed):
    """ConvTranspose2d is linear in x and in W. Its backward must be the adjoint of the loop
    definition: dx = the loop Conv2d of dy with the same weights (the two loops are each
    other's adjoints: <convT(x), u> = <x, conv(u)>), <dW, V> = <convT(x; weights V), dy>
    for any V, and db = the sum of dy over batch and pixels. Any shapes, strides, paddings
    and output paddings."""
    s, p, op = cfg["s"], cfg["p"], cfg["op"]
    backend.seed(seed)
    layer = L.ConvTranspose2d(cfg["c"], cfg["f"], cfg["k"], stride=s, padding=p,
                              output_padding=op, bias=bias).to_dtype(np.float64)
    W, b = _params(layer)
    x = randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    y, cache = layer.forward(x)
    u = randn(seed + 1, y.shape)                         # the upstream gradient dL/dy
    V = randn(seed + 2, W.shape)                         # a direction in weight space
    layer.zero_grad()
    dx = layer.backward(u, cache)

    conv_u = conv2d_loops(u, W, None, s, p)              # (F, C, k, k) read as (out, in)
    assert conv_u.shape == x.shape                       # op < s makes the sizes fit
    y_lin = conv_transpose2d_loops(x, W, None, s, p, op)
    scale = np.linalg.norm(x) * np.linalg.norm(conv_u) + np.linalg.norm(y_lin) * np.linalg.norm(u)
    # the two loop definitions are adjoint (to rounding, judged against |x||conv(u)|, the
    # most the inner products could be, not against the inner product, which may cancel)
    assert abs(float((y_lin * u).sum()) - float((x * conv_u).sum())) <= 1e-12 * scale
    np.testing.assert_allclose(dx, conv_u, rtol=1e-10, atol=1e-10)
    y_V = conv_transpose2d_loops(x, V, None, s, p, op)
    dW_V = float((layer.grads["W"] * V).sum())
    assert abs(dW_V - float((y_V * u).sum())) <= 1e-12 * np.linalg.norm(y_V) * np.linalg.norm(u) + 1e-300
    if bias:
        np.testing.assert_allclose(layer.grads["b"], u.sum(axis=(0, 2, 3)), rtol=1e-10, atol=1e-10)


@given(cfg=conv_configs(), seed=SEEDS)
def test_conv_transpose_is_the_adjoint_of_conv(cfg, seed):
    """<conv(x), u> = <x, convT(u)> for the same weights (no bias); output_padding
    (H + 2p - k) mod s makes convT map the conv's output size back to the input size."""
    c, f, k, s, p, H = cfg["c"], cfg["f"], cfg["k"], cfg["s"], cfg["p"], cfg["h"]
    backend.seed(seed)
    conv = L.Conv2d(c, f, k, stride=s, padding=p, bias=False).to_dtype(np.float64)
    convT = L.ConvTranspose2d(f, c, k, stride=s, padding=p, output_padding=(H + 2 * p - k) % s,
                              bias=False).to_dtype(np.float64)
    convT.params["W"][...] = conv.params["W"]          # (F, C, k, k) read as (in, out, k, k)
    x = randn(seed, (cfg["n"], c, H, H))
    y, _ = conv.forward(x)
    u = randn(seed + 1, y.shape)
    z, _ = convT.forward(u)
    assert z.shape == x.shape
    np.testing.assert_allclose(float((y * u).sum()), float((x * z).sum()), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("H,k,s,p,op", [(7, 4, 2, 1, 0), (4, 4, 2, 1, 0), (14, 4, 2, 1, 0),
                                        (3, 3, 2, 1, 1), (1, 1, 1, 0, 0), (5, 3, 3, 2, 2)])
def test_shape_formulae_examples(H, k, s, p, op):
    """Hand-picked DCGAN shapes: 28 -> 14 -> 7 with k4 s2 p1 and back."""
    conv = L.Conv2d(1, 1, k, stride=s, padding=p)
    convT = L.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op)
    assert conv.forward(np.zeros((1, 1, H, H), np.float32))[0].shape[2:] == (conv_out(H, k, s, p),) * 2
    assert convT.forward(np.zeros((1, 1, H, H), np.float32))[0].shape[2:] == (convT_out(H, k, s, p, op),) * 2
    assert conv_out(28, 4, 2, 1) == 14 and convT_out(7, 4, 2, 1, 0) == 14


def test_invalid_configs_raise():
    with pytest.raises(ValueError):
        L.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError):
        L.Conv2d(1, 1, 5).forward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError):
        L.ConvTranspose2d(1, 1, 1, padding=2).forward(np.zeros((1, 1, 2, 2), np.float32))


# Conv2d's second way: stride 1 with fewer output than input channels runs as a transposed
# convolution with the flipped kernel. Hypothesis reaches it by chance; these cases always do.
FEW_OUTPUTS = [dict(n=2, c=4, f=1, k=3, p=1, h=5, w=6), dict(n=1, c=3, f=2, k=7, p=3, h=7, w=7),
               dict(n=2, c=5, f=1, k=4, p=0, h=6, w=5), dict(n=1, c=2, f=1, k=2, p=1, h=3, w=4)]


@pytest.mark.parametrize("cfg", FEW_OUTPUTS, ids=lambda c: f"c{c['c']}f{c['f']}k{c['k']}p{c['p']}")
def test_conv2d_few_outputs_path_matches_definition_and_gradients(cfg):
    backend.seed(0)
    layer = L.Conv2d(cfg["c"], cfg["f"], cfg["k"], stride=1, padding=cfg["p"]).to_dtype(np.float64)
    assert layer._as_transposed()
    x = randn(1, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    y, cache = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(y, conv2d_loops(x, W, b, 1, cfg["p"]), rtol=1e-10, atol=1e-10)
    assert_gradcheck("Conv2d as transposed", check_layer(layer, x), expect={"x", "W", "b"})
