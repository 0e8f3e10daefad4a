"""The WGAN-GP penalty's gradient (minigan/penalty.py) against finite differences, in float64.

What is proven here, each to a relative error <= 1e-6 (GRAD_TOL):

* per layer, over hypothesis-drawn shapes (``check_second_order``): the tangent J x_dot
  against the directional difference of the forward pass, and backward2 against the
  gradient of S = <y_bar, f(x)> + <delta, J x_dot> in x and in every parameter;
  backward_input returns backward's dx and adds no parameter gradient;
* whole critics (``check_penalty``): dP/dtheta for every parameter against central
  differences of P = lam mean (||dD/dx_hat|| - 1)^2 itself, P computed with first-order
  passes only: a LeakyReLU MLP, a tanh/sigmoid MLP (and that dropping f'' fails there), a
  conv critic with LayerNorm and tanh, a net with a transposed convolution and dropout,
  and the authors' MNIST critic at small width;
* the mixed partial d^2 D / dtheta dx: the gradient of v^T g (g = dD/dx at fixed x, v fixed)
  with respect to theta and x, against differences of the first-order backward;
* the zeros the math predicts (the biases of a piecewise-linear critic), as zeros;
* y_bar = None (an exact zero, where the penalty's second-order backward starts) gives
  what an array of zeros gives;
* the refusals (BatchNorm, Maxout, any layer without a second-order pass), the NaN
  guard at a zero input gradient, and the penalty on the CuPy stand-in (one sync).

Kinks: inputs of ReLU / LeakyReLU layers are kept off their kinks by construction
(``away_from_zero``); for whole critics ``check_penalty`` raises if any finite-difference
step moves one across its kink, so a passing check never rests on an invalid difference.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupy_standin
from conftest import (GRAD_TOL, SEEDS, assert_gradcheck, assert_zero_pattern, away_from_zero,
                      conv_configs, convT_configs, randn, randomize_params)
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import (check_penalty, check_second_order, compare, numerical_gradient,
                               rel_error)
from minigan.layers.base import Layer
from minigan.penalty import gradient_penalty

sizes = st.integers(1, 6)
batches = st.integers(1, 4)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def names(layer):
    return {"tangent", "x"} | {n for n, _, _ in layer.parameters()}


def spread_out(x, seed):
    """x with every sample's values rescaled to a std in [0.5, 2] and shifted: LayerNorm's
    1/std stays moderate by construction (as BatchNorm's tests keep their batches spread)."""
    rng = np.random.default_rng(seed + 11)
    axes = tuple(range(1, x.ndim))
    b = (len(x),) + (1,) * (x.ndim - 1)
    centred = x - x.mean(axis=axes, keepdims=True)
    scaled = centred / centred.std(axis=axes, keepdims=True) * rng.uniform(0.5, 2, b)
    return scaled + rng.uniform(-1, 1, b)


# ----------------------------------------------------------------------------- per layer


@given(n=batches, i=sizes, o=sizes, bias=st.booleans(), seed=SEEDS)
def test_dense_second_order(n, i, o, bias, seed):
    backend.seed(seed)
    layer = L.Dense(i, o, bias=bias)
    errs = check_second_order(layer, randn(seed, (n, i)), seed=seed % 1000)
    assert_gradcheck("Dense (2nd order)", errs, expect=names(layer))


@given(cfg=conv_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv2d_second_order(cfg, bias, seed):
    backend.seed(seed)
    layer = L.Conv2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"], bias=bias)
    x = randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    assert_gradcheck("Conv2d (2nd order)", check_second_order(layer, x, seed=seed % 1000),
                     expect=names(layer))


@given(cfg=convT_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv_transpose2d_second_order(cfg, bias, seed):
    backend.seed(seed)
    layer = L.ConvTranspose2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                              output_padding=cfg["op"], bias=bias)
    x = randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    assert_gradcheck("ConvTranspose2d (2nd order)", check_second_order(layer, x, seed=seed % 1000),
                     expect=names(layer))


@given(shape=shapes, slope=st.floats(0.0, 1.0, allow_subnormal=False), seed=SEEDS)
def test_relu_leaky_relu_second_order(shape, slope, seed):
    x = away_from_zero(randn(seed, shape))          # |x| >= 1e-3 >> h |x_dot|: no kink crossed
    for name, layer in [("ReLU", L.ReLU()), ("LeakyReLU", L.LeakyReLU(slope))]:
        errs = check_second_order(layer, x, seed=seed % 1000)
        assert_gradcheck(f"{name} (2nd order)", errs, expect={"tangent", "x"})


@given(shape=shapes, seed=SEEDS)
def test_tanh_sigmoid_second_order(shape, seed):
    """Inputs reach into saturation, where f'' is as large as f' or larger."""
    for name, layer, scale in [("Tanh", L.Tanh(), 1.5), ("Sigmoid", L.Sigmoid(), 3)]:
        errs = check_second_order(layer, randn(seed, shape, scale=scale), seed=seed % 1000)
        assert_gradcheck(f"{name} (2nd order)", errs, expect={"tangent", "x"})


@given(shape=shapes, p=st.floats(0.0, 0.9), train=st.booleans(), seed=SEEDS)
def test_dropout_second_order(shape, p, train, seed):
    errs = check_second_order(L.Dropout(p), randn(seed, shape), train=train, seed=seed % 1000)
    assert_gradcheck("Dropout (2nd order)", errs, expect={"tangent", "x"})


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple),
       dims=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=SEEDS)
def test_flatten_reshape_second_order(shape, dims, seed):
    assert_gradcheck("Flatten (2nd order)", check_second_order(L.Flatten(), randn(seed, shape)),
                     expect={"tangent", "x"})
    target = tuple(dims)
    x = randn(seed, (shape[0], int(np.prod(target))))
    assert_gradcheck("Reshape (2nd order)", check_second_order(L.Reshape(target), x),
                     expect={"tangent", "x"})


@given(ndim=st.sampled_from([2, 4]), n=batches, c=st.integers(1, 4), hw=st.integers(1, 3),
       seed=SEEDS)
def test_layernorm_second_order(ndim, n, c, hw, seed):
    """LayerNorm's J depends on x (through mu and 1/std): its backward2 has second-order
    terms in x and in gamma. M >= 3 values per sample by construction: M = 1 normalises to
    0, and M = 2 to +-1 up to eps, where J is O(eps) and the finite difference's rounding
    (not the tangent) is off by 1e-6 of it."""
    shape = (n, c + 2) if ndim == 2 else (n, c, hw, hw + 2)
    layer = randomize_params(L.LayerNorm(shape[1]).to_dtype(np.float64), seed)
    x = spread_out(randn(seed, shape), seed)
    assert_gradcheck("LayerNorm (2nd order)", check_second_order(layer, x, seed=seed % 1000),
                     expect=names(layer))


@given(n=st.integers(1, 3), seed=SEEDS)
def test_sequential_second_order(n, seed):
    """A Sequential's tangent and backward2 chain their layers' (per-layer records)."""
    backend.seed(seed)
    model = L.Sequential(L.Conv2d(2, 3, 3, stride=2, padding=1), L.LayerNorm(3), L.Tanh(),
                         L.Dropout(0.3), L.Flatten(), L.Dense(12, 4), L.Sigmoid(), L.Reshape((2, 2)),
                         L.Flatten(), L.Dense(4, 2))
    randomize_params(model[1].to_dtype(np.float64), seed)
    errs = check_second_order(model, randn(seed, (n, 2, 4, 4), scale=2), seed=seed % 1000)
    assert_gradcheck("Sequential (2nd order)", errs, expect=names(model))


def _second_order_layers(seed):
    backend.seed(seed)
    return [(L.Dense(4, 3), (5, 4)), (L.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
            (L.ConvTranspose2d(2, 3, 4, stride=2, padding=1), (2, 2, 3, 3)),
            (randomize_params(L.LayerNorm(2), seed), (3, 2, 3, 3)), (L.LayerNorm(5), (3, 5)),
            (L.ReLU(), (3, 4)), (L.LeakyReLU(0.2), (3, 4)), (L.Tanh(), (3, 4)),
            (L.Sigmoid(), (3, 4)), (L.Dropout(0.5), (3, 4)), (L.Flatten(), (3, 2, 2)),
            (L.Reshape((2, 2)), (3, 4)),
            (L.Sequential(L.Dense(4, 3), L.Tanh(), L.Dense(3, 2)), (5, 4))]


def test_backward_input_is_backward_without_parameter_gradients():
    """The first pass of the penalty: the same dx as backward, and no parameter gradient."""
    for layer, shape in _second_order_layers(0):
        layer.to_dtype(np.float64)
        backend.seed(1)
        y, cache = layer.forward(randn(1, shape))
        dy = randn(2, y.shape)
        layer.zero_grad()
        dx, _ = layer.backward_input(dy, cache)
        assert all(not g.any() for g in layer.grads.values()), layer
        expect = layer.backward(dy, cache)
        np.testing.assert_allclose(dx, expect, rtol=0, atol=1e-12 * np.abs(expect).max(),
                                   err_msg=repr(layer))


def test_tangent_and_backward2_use_only_their_caches():
    """Two forwards, then the second-order passes of the first: nothing of the second
    forward may leak in (state on self is the classic GAN bug, here as anywhere)."""
    for layer, shape in _second_order_layers(3):
        layer.to_dtype(np.float64)
        x1, x2 = randn(4, shape), randn(5, shape, scale=3, shift=1)
        x_dot, rng = randn(6, shape), np.random.default_rng(7)

        def passes(interleave):
            backend.seed(0)
            y, cache = layer.forward(x1)
            if interleave:
                layer.forward(x2)
            delta, y_bar = rng.standard_normal(y.shape), rng.standard_normal(y.shape)
            _, record = layer.backward_input(delta, cache)
            y_dot, tcache = layer.tangent(x_dot, cache)
            if interleave:
                layer.forward(x2)
            layer.zero_grad()
            x_bar = layer.backward2(y_bar, record, tcache, cache)
            return [y_dot, x_bar] + [g.copy() for g in layer.grads.values()]

        rng = np.random.default_rng(7)
        alone = passes(False)
        rng = np.random.default_rng(7)
        for a, b in zip(passes(True), alone):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max(initial=0),
                                       err_msg=repr(layer))


def test_a_none_y_bar_is_a_zero():
    """backward2(None, ...), as the penalty starts, gives what backward2(0, ...) gives:
    the same parameter gradients, and x_bar None (zero) or equal."""
    for layer, shape in _second_order_layers(8):
        layer.to_dtype(np.float64)
        backend.seed(1)
        y, cache = layer.forward(randn(9, shape))
        _, record = layer.backward_input(randn(10, y.shape), cache)
        _, tcache = layer.tangent(randn(11, shape), cache)
        results = []
        for y_bar in (None, np.zeros_like(y)):
            layer.zero_grad()
            x_bar = layer.backward2(y_bar, record, tcache, cache)
            results.append([np.zeros(shape) if x_bar is None else x_bar] +
                           [g.copy() for g in layer.grads.values()])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max(initial=0),
                                       err_msg=repr(layer))


# ----------------------------------------------------------------------------- whole critics


def _critic(seed, *layers):
    backend.seed(seed)
    return L.Sequential(*layers).to_dtype(np.float64)


def param_names(critic):
    return {n for n, _, _ in critic.parameters()}


def biases(critic):
    return [n for n, _, _ in critic.parameters() if n.endswith(".b")]


def penalty_grads(critic):
    return {n: o.grads[k].copy() for n, o, k in critic.parameters()}


def test_penalty_leaky_relu_mlp():
    """A piecewise-linear critic: g = W1 diag(m1) W2 diag(m2) w3 does not depend on the
    biases (they only move the masks m, which the penalty's data sits far from), and the
    output-side signal y_bar is 0 all the way down (top 0, Dense and LeakyReLU pass 0 on):
    every bias gets exactly no penalty gradient."""
    critic = _critic(0, L.Dense(6, 8), L.LeakyReLU(0.2), L.Dense(8, 8), L.LeakyReLU(0.2),
                     L.Dense(8, 1))
    errs = check_penalty(critic, randn(1, (4, 6)), seed=2)
    assert_gradcheck("penalty: LeakyReLU MLP", errs, expect=param_names(critic))
    assert_zero_pattern("penalty: LeakyReLU MLP", penalty_grads(critic), zero=biases(critic))


class TanhWithoutCurvature(L.Tanh):
    """A second-order pass without the curvature term: x_bar = f'(x) y_bar, the
    f''(x) x_dot delta term dropped (numpy-ml keeps f'' only in a layer's own bias gradient,
    minigan/layers/activations.py; dropping it everywhere is the simpler wrong pass)."""

    def backward2(self, y_bar, delta, x_dot, y):
        return None if y_bar is None else self.backward(y_bar, y)


class SigmoidWithoutCurvature(L.Sigmoid):
    def backward2(self, y_bar, delta, x_dot, y):
        return None if y_bar is None else self.backward(y_bar, y)


def _smooth_mlp(tanh, sigmoid):
    critic = _critic(3, L.Dense(5, 7), tanh(), L.Dense(7, 6), sigmoid(), L.Dense(6, 1))
    for layer in (critic[0], critic[2]):            # weights ~ +-1: well into the curvature
        randomize_params(layer, 4)
    return critic


def test_penalty_tanh_sigmoid_mlp_and_the_second_derivative_term():
    x = randn(5, (4, 5))
    critic = _smooth_mlp(L.Tanh, L.Sigmoid)
    errs = check_penalty(critic, x, seed=6)
    assert_gradcheck("penalty: tanh/sigmoid MLP", errs, expect=param_names(critic))
    assert_zero_pattern("penalty: tanh/sigmoid MLP", penalty_grads(critic), zero=["4.b"])
    # the same critic without the f'' terms is far off, not within
    # rounding of the truth: the check above would fail it by orders of magnitude
    wrong = _smooth_mlp(TanhWithoutCurvature, SigmoidWithoutCurvature)
    wrong_errs = check_penalty(wrong, x, seed=6)
    assert max(wrong_errs.values()) > 1e4 * GRAD_TOL, wrong_errs


def test_penalty_conv_critic_with_layernorm_and_tanh():
    critic = _critic(7, L.Conv2d(2, 3, 3, stride=2, padding=1), L.LayerNorm(3), L.Tanh(),
                     L.Conv2d(3, 4, 3, stride=1, padding=1), L.LayerNorm(4), L.Tanh(),
                     L.Flatten(), L.Dense(4 * 3 * 3, 5), L.LayerNorm(5), L.Tanh(), L.Dense(5, 1))
    for i in (1, 4, 8):
        randomize_params(critic[i], i)              # gamma, beta away from 1, 0
    errs = check_penalty(critic, randn(8, (3, 2, 5, 5)), seed=9)
    assert_gradcheck("penalty: conv + LayerNorm + tanh", errs,
                     expect=param_names(critic))
    # the last bias: y_bar is 0 at the output, and Dense passes db += sum y_bar = 0
    assert_zero_pattern("penalty: conv + LayerNorm + tanh", penalty_grads(critic), zero=["10.b"])


def test_penalty_net_with_a_transposed_convolution_and_dropout():
    critic = _critic(10, L.Dense(4, 8), L.Tanh(), L.Reshape((2, 2, 2)),
                     L.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                     L.Sigmoid(), L.Dropout(0.3), L.Flatten(), L.Dense(3 * 4 * 4, 1))
    errs = check_penalty(critic, randn(11, (3, 4), scale=2), seed=12)   # train: with dropout
    assert_gradcheck("penalty: ConvTranspose2d net", errs, expect=param_names(critic))
    # the last bias: y_bar is 0 at the output, and Dense passes db += sum y_bar = 0
    assert_zero_pattern("penalty: ConvTranspose2d net", penalty_grads(critic), zero=["7.b"])


def test_penalty_mnist_critic_of_the_paper_small():
    """The authors' MNIST critic (5x5 stride-2 'same' convs, LeakyReLU 0.2, no
    normalisation, a linear output) at width 4-8-16 on 28x28 images, B = 2: every one
    of its 4385 parameters. Piecewise linear, so its biases get no penalty gradient."""
    critic = _critic(13, L.Conv2d(1, 4, 5, stride=2, padding=2), L.LeakyReLU(0.2),    # 14x14
                     L.Conv2d(4, 8, 5, stride=2, padding=2), L.LeakyReLU(0.2),        # 7x7
                     L.Conv2d(8, 16, 5, stride=2, padding=2), L.LeakyReLU(0.2),       # 4x4
                     L.Flatten(), L.Dense(16 * 4 * 4, 1))
    x_hat = np.random.default_rng(14).uniform(-1, 1, (2, 1, 28, 28))
    errs = check_penalty(critic, x_hat, seed=15)
    assert_gradcheck("penalty: MNIST critic (small)", errs, expect=param_names(critic))
    assert_zero_pattern("penalty: MNIST critic (small)", penalty_grads(critic), zero=biases(critic))


def test_penalty_value_and_norms():
    """P and the norms are the definition's: against g from the first-order backward."""
    critic = _smooth_mlp(L.Tanh, L.Sigmoid)
    x = randn(16, (5, 5))
    out, cache = critic.forward(x)
    g = critic.backward(np.ones_like(out), cache)            # (sum_i D(x_i))' = g_i per row
    critic.zero_grad()
    P, norms = gradient_penalty(critic, x, lam=3.0)
    assert type(P) is float
    np.testing.assert_allclose(norms, np.linalg.norm(g, axis=1), rtol=1e-12)
    assert P == pytest.approx(3.0 * np.mean((np.linalg.norm(g, axis=1) - 1) ** 2), rel=1e-12)


def test_penalty_adds_into_grads():
    critic = _smooth_mlp(L.Tanh, L.Sigmoid)
    x = randn(17, (3, 5))
    critic.zero_grad()
    gradient_penalty(critic, x)
    once = penalty_grads(critic)
    gradient_penalty(critic, x)
    for k, g in penalty_grads(critic).items():
        scale = np.abs(once[k]).max(initial=0)
        np.testing.assert_allclose(g, 2 * once[k], rtol=0, atol=1e-12 * scale, err_msg=k)


# ----------------------------------------------------------------------------- mixed partial


def check_mixed_partial(critic, x, seed, h=2e-6):
    """d/dtheta and d/dx of v^T g(theta, x), g = dD/dx (B rows, one per sample), v fixed:
    the tangent pass from v and backward2 from y_bar = 0 give them (grads and x_bar);
    the reference differences v^T g with g from the first-order backward.

    h = 2e-6: v^T g is a derivative already, and its differences' truncation error
    (h^2 times its third derivative, i.e. D's fourth) is the larger one at h = 1e-5
    (measured: |error| 2.3e-8, 2.3e-10, 2e-11 at h = 1e-4, 1e-5, 3e-6, then rounding)."""
    v = randn(seed, x.shape)
    out, caches = critic.forward(x)
    _, deltas = critic.backward_input(np.ones_like(out), caches)
    _, tcaches = critic.tangent(v, caches)
    critic.zero_grad()
    x_bar = critic.backward2(np.zeros_like(out), deltas, tcaches, caches)

    def vg():
        out, caches = critic.forward(x)
        return float((critic.backward_input(np.ones_like(out), caches)[0] * v).sum())

    pairs = {"x": (x_bar, numerical_gradient(vg, x, h))}
    pairs.update({n: (o.grads[k].copy(), numerical_gradient(vg, o.params[k], h))
                  for n, o, k in critic.parameters()})
    return compare(pairs)


@given(n=batches, seed=SEEDS)
def test_mixed_partial_mlp(n, seed):
    critic = _critic(seed, L.Dense(4, 5), L.LayerNorm(5), L.Tanh(), L.Dense(5, 3), L.Sigmoid(),
                     L.Dense(3, 1))
    randomize_params(critic[1], seed)
    errs = check_mixed_partial(critic, randn(seed, (n, 4), scale=2), seed + 1)
    assert_gradcheck("mixed partial d2D/dtheta dx (MLP)", errs,
                     expect={"x"} | param_names(critic))


def test_mixed_partial_conv():
    critic = _critic(18, L.Conv2d(2, 3, 3, stride=2, padding=1), L.Tanh(),
                     L.ConvTranspose2d(3, 2, 4, stride=2, padding=1), L.LayerNorm(2), L.Sigmoid(),
                     L.Flatten(), L.Dense(2 * 6 * 6, 1))
    randomize_params(critic[3], 19)
    errs = check_mixed_partial(critic, randn(20, (2, 2, 6, 6)), 21)
    assert_gradcheck("mixed partial d2D/dtheta dx (conv)", errs,
                     expect={"x"} | param_names(critic))


# ----------------------------------------------------------------------------- refusals, guards


@pytest.mark.parametrize("bad, name, hint", [
    (lambda: L.BatchNorm1d(4), "BatchNorm1d",
     " (use LayerNorm: BatchNorm mixes the samples of a batch)"),
    (lambda: L.Maxout(4, 4, 2), "Maxout", ""),
])
def test_critics_without_a_second_order_pass_refuse(bad, name, hint):
    backend.seed(0)
    critic = L.Sequential(L.Dense(3, 4), bad(), L.LeakyReLU(0.2), L.Dense(4, 1)).to_dtype(np.float64)
    state = critic.state_dict()
    critic.zero_grad()
    with pytest.raises(TypeError) as err:
        gradient_penalty(critic, randn(0, (5, 3)))
    assert str(err.value) == (f"{name} has no exact second-order pass: "
                              f"a WGAN-GP critic cannot use it{hint}")
    # refused before anything ran: no gradient added, no running statistic moved
    assert all(not o.grads[k].any() for _, o, k in critic.parameters())
    for k, v in critic.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_batchnorm2d_refuses_in_a_conv_critic():
    critic = L.Sequential(L.Conv2d(1, 2, 3, stride=2, padding=1), L.BatchNorm2d(2), L.LeakyReLU(0.2),
                          L.Flatten(), L.Dense(8, 1))
    with pytest.raises(TypeError, match=r"^BatchNorm2d has no exact second-order pass: a WGAN-GP "
                                        r"critic cannot use it \(use LayerNorm"):
        gradient_penalty(critic, backend.randn(2, 1, 4, 4))


def test_one_output_per_sample():
    critic = L.Sequential(L.Dense(3, 2))
    with pytest.raises(ValueError, match="one critic output per sample"):
        gradient_penalty(critic, backend.randn(4, 3))


SECOND_ORDER = {"Dense", "Conv2d", "ConvTranspose2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
                "Dropout", "Flatten", "Reshape", "Sequential", "LayerNorm"}


def test_every_layer_has_a_checked_second_order_pass_or_refuses():
    """Exported layers with a tangent and backward2 are the ones checked above; every
    other inherits the base class's refusal (a new layer with a pass needs a check here)."""
    for name in L.__all__:
        cls = getattr(L, name)
        if not isinstance(cls, type):                   # frozen(), a context manager
            continue
        has = cls.tangent is not Layer.tangent and cls.backward2 is not Layer.backward2
        assert has == (name in SECOND_ORDER), f"{name}: second-order pass {has}, listed {not has}"


def test_zero_input_gradient_gives_finite_penalty_and_grads():
    """All ReLUs dead for sample 0 (g_0 = 0 exactly, ||g_0|| not differentiable) and alive
    for sample 1: P, the norms and the gradient stay finite, and the gradient is still
    right where P is differentiable (sample 0 contributes lam, a constant nearby)."""
    critic = _critic(22, L.Dense(3, 4), L.ReLU(), L.Dense(4, 1))
    critic[0].params["W"][...] = np.abs(critic[0].params["W"]) + 0.1     # positive weights,
    critic[0].params["b"][...] = 0.05                                    # so x < 0 kills all
    x = np.array([[-2.0, -1.5, -3.0], [0.5, 1.0, 0.7]])
    critic.zero_grad()
    P, norms = gradient_penalty(critic, x, lam=10.0)
    assert np.isfinite(P) and np.all(np.isfinite(norms))
    assert norms[0] == 0 and norms[1] > 0
    assert all(np.all(np.isfinite(g)) for g in penalty_grads(critic).values())
    assert P == pytest.approx(10.0 * (1 + (norms[1] - 1) ** 2) / 2, rel=1e-12)
    errs = check_penalty(critic, x, seed=23)
    assert_gradcheck("penalty: a zero input gradient", errs)
    # a critic whose input gradient is zero for every sample: P = lam, no gradient at all
    critic[0].params["b"][...] = -100.0
    critic.zero_grad()
    P, norms = gradient_penalty(critic, x, lam=10.0)
    assert P == pytest.approx(10.0) and not norms.any()
    assert all(np.all(np.isfinite(g)) and not g.any() for g in penalty_grads(critic).values())


# ----------------------------------------------------------------------------- the GPU path


@pytest.fixture
def standin_gpu(monkeypatch):
    """'gpu' is the strict CuPy stand-in (tests/cupy_standin.py): a NumPy call on a device
    array, a NumPy array in a device expression or a hidden sync raises or is counted."""
    monkeypatch.setenv(backend.TEST_CUPY, "cupy_standin")
    cupy_standin.reset()


def test_penalty_on_the_gpu_path_one_sync(standin_gpu):
    """The penalty is backend-agnostic: on the stand-in it gives the CPU's numbers, keeps
    every array on the device, and its only sync is the returned float P."""
    def run(device):
        backend.use(device)
        backend.seed(24)                                 # the same weights on both devices
        critic = L.Sequential(L.Conv2d(1, 3, 3, stride=2, padding=1), L.LayerNorm(3), L.Tanh(),
                              L.Conv2d(3, 4, 3, stride=2, padding=1), L.LeakyReLU(0.2), L.Flatten(),
                              L.Dense(16, 4), L.Sigmoid(), L.Dense(4, 1))
        x = backend.asarray(randn(25, (3, 1, 7, 7)).astype(np.float32))
        critic.zero_grad()
        start = cupy_standin.mark()
        P, norms = gradient_penalty(critic, x)
        if device == "gpu":
            made = cupy_standin.since(start)
            assert (made["h2d"], made["d2h"], made["sync"]) == (0, 0, 1), made["events"]
            assert isinstance(norms, cupy_standin.ndarray)
        grads = {n: backend.to_host(g) for n, g in penalty_grads(critic).items()}
        return P, backend.to_host(norms), grads

    (P_cpu, n_cpu, g_cpu), (P_gpu, n_gpu, g_gpu) = run("cpu"), run("gpu")
    assert P_gpu == pytest.approx(P_cpu, rel=1e-5)
    np.testing.assert_allclose(n_gpu, n_cpu, rtol=1e-5)
    for k in g_cpu:
        assert g_gpu[k].dtype == np.float32
        assert rel_error(g_gpu[k], g_cpu[k]) < 1e-4, k
