"""Every layer's hand-written backward pass against central differences, in float64.

``check_layer`` turns the layer's output into L = sum((y - y0) * R) for a fixed random R,
runs backward(R) and compares the input gradient and every parameter gradient with
central differences of L (step 1e-5). Shapes, strides, paddings, slopes and data come from
hypothesis. Data that puts a kink (ReLU at 0, a Maxout tie) within a step of an input, or
a BatchNorm batch with almost no spread, is skipped: there the finite difference, not the
backward pass, is wrong.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import (SEEDS, assert_gradcheck, away_from_zero, conv_configs, convT_configs,
                      randn, randomize_params)
from minigan import backend
from minigan import layers as L
from minigan.gradcheck import check_layer, compare, numerical_gradient

sizes = st.integers(1, 6)
batches = st.integers(1, 4)


def names(layer, with_x=True):
    return ({"x"} if with_x else set()) | {n for n, _, _ in layer.parameters()}


# ----------------------------------------------------------------------------- dense family


@given(n=batches, i=sizes, o=sizes, bias=st.booleans(), seed=SEEDS)
def test_dense(n, i, o, bias, seed):
    backend.seed(seed)
    layer = L.Dense(i, o, bias=bias)
    errs = check_layer(layer, randn(seed, (n, i)))
    assert_gradcheck("Dense", errs, expect={"x", "W"} | ({"b"} if bias else set()))


@given(n=batches, i=sizes, units=st.integers(1, 4), pieces=st.integers(1, 4), seed=SEEDS)
def test_maxout(n, i, units, pieces, seed):
    backend.seed(seed)
    layer = L.Maxout(i, units, pieces).to_dtype(np.float64)
    x = randn(seed, (n, i))
    # a tie between the two best pieces within the step h is a kink: keep away from it
    z = np.sort((x @ layer.params["W"] + layer.params["b"]).reshape(n, units, pieces), axis=2)
    if pieces > 1:
        assume(np.min(z[..., -1] - z[..., -2]) > 1e-3)
    errs = check_layer(layer, x)
    assert_gradcheck("Maxout", errs, expect={"x", "W", "b"})


@given(n=st.integers(1, 12), num=st.integers(1, 6), dim=st.integers(1, 5), seed=SEEDS)
def test_embedding(n, num, dim, seed):
    """Parameters only (the indices are integers); n > num forces repeated indices, whose
    gradients must add up in the same row."""
    backend.seed(seed)
    layer = L.Embedding(num, dim)
    idx = np.random.default_rng(seed).integers(0, num, n)
    errs = check_layer(layer, idx)
    assert_gradcheck("Embedding", errs, expect={"W"})


def test_embedding_repeated_indices_accumulate():
    layer = L.Embedding(3, 2).to_dtype(np.float64)
    idx = np.array([1, 1, 1, 0])
    y, cache = layer.forward(idx)
    layer.zero_grad()
    dy = np.arange(8.0).reshape(4, 2)
    assert layer.backward(dy, cache) is None
    np.testing.assert_allclose(layer.grads["W"], [dy[3], dy[:3].sum(0), [0, 0]])


# ----------------------------------------------------------------------------- convolutions


@given(cfg=conv_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv2d(cfg, bias, seed):
    backend.seed(seed)
    layer = L.Conv2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"], bias=bias)
    errs = check_layer(layer, randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"])))
    assert_gradcheck("Conv2d", errs, expect={"x", "W"} | ({"b"} if bias else set()))


@given(cfg=convT_configs(), bias=st.booleans(), seed=SEEDS)
def test_conv_transpose2d(cfg, bias, seed):
    backend.seed(seed)
    layer = L.ConvTranspose2d(cfg["c"], cfg["f"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                              output_padding=cfg["op"], bias=bias)
    errs = check_layer(layer, randn(seed, (cfg["n"], cfg["c"], cfg["h"], cfg["w"])))
    assert_gradcheck("ConvTranspose2d", errs, expect={"x", "W"} | ({"b"} if bias else set()))


# ----------------------------------------------------------------------------- batch norm


def _batchnorm(ndim, c, seed):
    backend.seed(seed)
    layer = L.BatchNorm1d(c) if ndim == 2 else L.BatchNorm2d(c)
    return randomize_params(layer.to_dtype(np.float64), seed)


def _bn_input(ndim, n, c, hw, seed):
    shape = (n, c) if ndim == 2 else (n, c, hw, hw)
    # per-channel offsets and scales, so running statistics move away from (0, 1)
    rng = np.random.default_rng(seed + 7)
    b = (1, c) + (1,) * (ndim - 2)
    return randn(seed, shape) * rng.uniform(1, 2, b) + rng.uniform(-1, 1, b)


def _spread(x, ndim, min_std=0.3):
    """Whether every channel of x has a std of at least min_std. Near-equal values make
    1/sigma blow up and with it the finite differences' truncation and rounding errors:
    the central difference (the reference) stops being accurate there, not the backward."""
    axes = (0,) if ndim == 2 else (0, 2, 3)
    return bool(x.std(axis=axes).min() >= min_std)


@given(ndim=st.sampled_from([2, 4]), n=st.integers(2, 5), c=st.integers(1, 4),
       hw=st.integers(1, 3), seed=SEEDS)
def test_batchnorm_train(ndim, n, c, hw, seed):
    layer = _batchnorm(ndim, c, seed)
    x = _bn_input(ndim, n, c, hw, seed)
    assume(_spread(x, ndim))
    errs = check_layer(layer, x, train=True)
    assert_gradcheck(f"BatchNorm{ndim // 2}d (train)", errs, expect={"x", "gamma", "beta"})


@given(ndim=st.sampled_from([2, 4]), n=st.integers(1, 5), c=st.integers(1, 4),
       hw=st.integers(1, 3), seed=SEEDS)
def test_batchnorm_eval(ndim, n, c, hw, seed):
    layer = _batchnorm(ndim, c, seed)
    for k in range(3):                       # train forwards give non-trivial running stats
        layer.forward(_bn_input(ndim, max(n, 2), c, hw, seed + k), train=True)
    assert not np.allclose(layer.buffers["running_mean"], 0)
    assert not np.allclose(layer.buffers["running_var"], 1)
    x = _bn_input(ndim, n, c, hw, seed + 100)
    errs = check_layer(layer, x, train=False)
    assert_gradcheck(f"BatchNorm{ndim // 2}d (eval)", errs, expect={"x", "gamma", "beta"})


# ----------------------------------------------------------------------------- layer norm


def _layernorm_input(shape, seed):
    """Each sample's values rescaled to a std in [0.5, 2] and shifted, by construction: no
    sample with almost no spread (there 1/std blows up the finite differences' errors)."""
    rng = np.random.default_rng(seed + 7)
    axes = tuple(range(1, len(shape)))
    b = (shape[0],) + (1,) * (len(shape) - 1)
    x = randn(seed, shape)
    x = x - x.mean(axis=axes, keepdims=True)
    return x / x.std(axis=axes, keepdims=True) * rng.uniform(0.5, 2, b) + rng.uniform(-1, 1, b)


@given(ndim=st.sampled_from([2, 4]), n=st.integers(1, 4), c=st.integers(1, 4),
       hw=st.integers(1, 3), train=st.booleans(), seed=SEEDS)
def test_layernorm(ndim, n, c, hw, train, seed):
    """Per sample, so any batch size (1 included) and the same in train and eval. At least
    3 values per sample: with 2, x_hat = +-1 up to eps and the layer is flat (see
    test_second_order.py's LayerNorm check)."""
    shape = (n, c + 2) if ndim == 2 else (n, c, hw, hw + 2)
    layer = randomize_params(L.LayerNorm(shape[1]).to_dtype(np.float64), seed)
    errs = check_layer(layer, _layernorm_input(shape, seed), train=train)
    assert_gradcheck("LayerNorm", errs, expect={"x", "gamma", "beta"})


# ----------------------------------------------------------------------------- activations


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


@given(shape=shapes, seed=SEEDS)
def test_relu(shape, seed):
    errs = check_layer(L.ReLU(), away_from_zero(randn(seed, shape)))
    assert_gradcheck("ReLU", errs, expect={"x"})


@given(shape=shapes, slope=st.floats(0.0, 1.0, allow_subnormal=False), seed=SEEDS)
def test_leaky_relu(shape, slope, seed):
    errs = check_layer(L.LeakyReLU(slope), away_from_zero(randn(seed, shape)))
    assert_gradcheck("LeakyReLU", errs, expect={"x"})


# Inputs reach well into saturation, where y' is tiny next to y.


@given(shape=shapes, seed=SEEDS)
def test_sigmoid(shape, seed):
    errs = check_layer(L.Sigmoid(), randn(seed, shape, scale=3))
    assert_gradcheck("Sigmoid", errs, expect={"x"})


@given(shape=shapes, seed=SEEDS)
def test_tanh(shape, seed):
    errs = check_layer(L.Tanh(), randn(seed, shape, scale=1.5))
    assert_gradcheck("Tanh", errs, expect={"x"})


# ----------------------------------------------------------------------------- shape, dropout


@given(shape=shapes, p=st.floats(0.0, 0.9), train=st.booleans(), seed=SEEDS)
def test_dropout(shape, p, train, seed):
    errs = check_layer(L.Dropout(p), randn(seed, shape), train=train, seed=seed % 1000)
    assert_gradcheck(f"Dropout ({'train' if train else 'eval'})", errs, expect={"x"})


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), seed=SEEDS)
def test_flatten(shape, seed):
    layer = L.Flatten()
    y, _ = layer.forward(np.zeros(shape))
    assert y.shape == (shape[0], int(np.prod(shape[1:])))
    assert_gradcheck("Flatten", check_layer(layer, randn(seed, shape)), expect={"x"})


@given(n=batches, dims=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=SEEDS)
def test_reshape(n, dims, seed):
    target = tuple(dims)
    layer = L.Reshape(target)
    x = randn(seed, (n, int(np.prod(target))))
    assert layer.forward(x)[0].shape == (n,) + target
    assert_gradcheck("Reshape", check_layer(layer, x), expect={"x"})


# ----------------------------------------------------------------------------- Sequential


@given(n=st.integers(2, 3), c=st.integers(1, 2), hw=st.integers(3, 5), train=st.booleans(),
       slope=st.floats(0.05, 0.5), seed=SEEDS)
def test_sequential_conv_stack(n, c, hw, train, slope, seed):
    backend.seed(seed)
    ho = (hw + 2 - 3) // 2 + 1
    model = L.Sequential(L.Conv2d(c, 2, 3, stride=2, padding=1), L.BatchNorm2d(2),
                         L.LeakyReLU(slope), L.Flatten(), L.Dense(2 * ho * ho, 3), L.Tanh(),
                         L.Dense(3, 2), L.Sigmoid())
    model.to_dtype(np.float64)
    randomize_params(model[1], seed)            # gamma, beta away from 1, 0
    x = randn(seed, (n, c, hw, hw))
    if not train:
        model.forward(randn(seed + 1, (4, c, hw, hw), scale=2, shift=1), train=True)
    h0 = model[0].forward(x)[0]
    h1 = model[1].forward(h0, train)[0]
    assume(not train or _spread(h0, 4))           # BatchNorm's input well spread
    assume(np.min(np.abs(h1)) > 1e-3)             # LeakyReLU's input off its kink
    errs = check_layer(model, x, train=train)
    assert_gradcheck("Sequential (conv stack)", errs, expect=names(model))
    assert {"0.W", "0.b", "1.gamma", "1.beta", "4.W", "6.b"} <= set(errs)


@given(n=st.integers(4, 8), seed=SEEDS)
def test_sequential_generator_stack(n, seed):
    backend.seed(seed)
    model = L.Sequential(L.Dense(3, 8), L.BatchNorm1d(8), L.ReLU(), L.Dropout(0.3),
                         L.Reshape((2, 2, 2)), L.ConvTranspose2d(2, 1, 3, stride=2, padding=1,
                                                                 output_padding=1), L.Tanh())
    model.to_dtype(np.float64)
    x = randn(seed, (n, 3), scale=2)
    h0 = model[0].forward(x)[0]
    h1 = model[1].forward(h0)[0]
    assume(_spread(h0, 2, 0.3) and np.min(np.abs(h1)) > 1e-3)   # well-spread BN, ReLU off its kink
    errs = check_layer(model, x, train=True, seed=seed % 1000)
    assert_gradcheck("Sequential (generator stack)", errs, expect=names(model))


# ----------------------------------------------------------------------------- conventions


def _param_layers(seed):
    backend.seed(seed)
    return [
        (L.Dense(4, 3), (5, 4)),
        (L.Maxout(4, 2, 3), (5, 4)),
        (L.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
        (L.ConvTranspose2d(2, 3, 4, stride=2, padding=1), (2, 2, 3, 3)),
        (L.BatchNorm1d(4), (5, 4)),
        (L.BatchNorm2d(2), (3, 2, 3, 3)),
    ]


def _same_to_rounding(a, b, msg):
    """a == b to 1e-12 of b's largest entry: not entrywise (an entry that a sum cancels to
    ~1e-17 has no relative accuracy) and not bit for bit (a BLAS need not return the same
    bits twice for the same product, e.g. MKL with differently aligned arrays)."""
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max(initial=0.0), err_msg=msg)


def test_backward_adds_into_grads():
    """backward ADDS parameter gradients: two backward passes give twice one."""
    for layer, shape in _param_layers(0):
        layer.to_dtype(np.float64)
        x = randn(1, shape)
        y, cache = layer.forward(x)
        dy = randn(2, y.shape)
        layer.zero_grad()
        layer.backward(dy, cache)
        once = {k: g.copy() for k, g in layer.grads.items()}
        layer.backward(dy, cache)
        for k, g in layer.grads.items():
            assert np.abs(once[k]).max() > 1e-3, (layer, k)      # random dy: all are O(1)
            _same_to_rounding(g, 2 * once[k], f"{layer} {k}")
        layer.zero_grad()
        assert all(not g.any() for g in layer.grads.values())


def test_backward_uses_only_its_cache():
    """Two forwards, then backward of the first: the result must not depend on the second
    forward (state kept on self is the classic GAN bug)."""
    acts = [L.ReLU(), L.LeakyReLU(0.2), L.Sigmoid(), L.Tanh(), L.Flatten(), L.Dropout(0.5)]
    cases = _param_layers(3) + [(a, (3, 2, 4, 4)) for a in acts] + [(L.Reshape((4, 2)), (3, 8))]
    for layer, shape in cases:
        layer.to_dtype(np.float64)
        x1, x2 = randn(4, shape), randn(5, shape, scale=3, shift=1)
        backend.seed(0)
        y1, c1 = layer.forward(x1)
        dy = randn(6, y1.shape)
        layer.zero_grad()
        dx_alone = layer.backward(dy, c1)
        g_alone = {k: g.copy() for k, g in layer.grads.items()}

        backend.seed(0)
        y1b, c1b = layer.forward(x1)
        layer.forward(x2)                     # a second batch in between
        layer.zero_grad()
        dx = layer.backward(dy, c1b)
        # a leaked second batch changes the results by O(1); repeating the same computation
        # agrees to rounding (see _same_to_rounding)
        _same_to_rounding(y1b, y1, repr(layer))
        _same_to_rounding(dx, dx_alone, repr(layer))
        for k in g_alone:
            _same_to_rounding(layer.grads[k], g_alone[k], f"{layer!r} {k}")


def test_gradcheck_catches_a_wrong_backward():
    """The checker itself must fail a wrong backward pass (else every test above is void)."""
    class BadTanh(L.Tanh):
        def backward(self, dy, y):
            return dy * (1 - y)               # wrong derivative

    class BadDense(L.Dense):
        def backward(self, dy, x):
            dx = super().backward(dy, x)
            self.grads["b"] *= 0.999          # slightly wrong bias gradient
            return dx

    errs = check_layer(BadTanh(), randn(0, (3, 4)))
    assert errs["x"] > 1e-3
    backend.seed(0)
    errs = check_layer(BadDense(3, 2), randn(1, (4, 3)))
    assert errs["b"] > 1e-5 and errs["x"] < 1e-6


# ----------------------------------------------------------------------------- coverage


GRADCHECKED = {"Dense", "Maxout", "Embedding", "Conv2d", "ConvTranspose2d", "BatchNorm1d",
               "BatchNorm2d", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Flatten",
               "Reshape", "Sequential"}
GRADCHECKED_IN_TEST_IMAGE_LAYERS = {"InstanceNorm2d", "ReflectionPad2d", "ResidualBlock"}
CONTAINERS = {"Layer", "Parts"}          # no forward/backward of their own


def test_every_layer_is_gradchecked():
    """A layer added to minigan.layers needs a gradient check here (add it to GRADCHECKED)
    or in tests/test_image_layers.py (the image-to-image layers)."""
    exported = {name for name in L.__all__ if isinstance(getattr(L, name), type)
                and issubclass(getattr(L, name), L.Layer)}
    missing = exported - GRADCHECKED - GRADCHECKED_IN_TEST_IMAGE_LAYERS - CONTAINERS
    assert not missing, f"layers without a gradient check in this file: {sorted(missing)}"


def test_parts_container():
    if not hasattr(L, "Parts"):
        pytest.skip("minigan.layers has no Parts")
    backend.seed(0)
    D = L.Parts(trunk=L.Sequential(L.Dense(4, 3), L.BatchNorm1d(3)), head=L.Dense(3, 1))
    assert [n for n, _, _ in D.parameters()] == ["trunk.0.W", "trunk.0.b", "trunk.1.gamma",
                                                 "trunk.1.beta", "head.W", "head.b"]
    assert [n for n, _, _ in D.named_buffers()] == ["trunk.1.running_mean", "trunk.1.running_var"]
    D.to_dtype(np.float64)
    assert all(o.params[k].dtype == np.float64 for _, o, k in D.parameters())
    # the pieces wired by hand are gradient-checked as one function
    x, R = randn(0, (5, 4)), randn(1, (5, 1))

    def loss():
        return float((D.head.forward(D.trunk.forward(x)[0])[0] * R).sum())

    y, c1 = D.trunk.forward(x)
    s, c2 = D.head.forward(y)
    D.zero_grad()
    D.trunk.backward(D.head.backward(R, c2), c1)
    errs = compare({n: (o.grads[k].copy(), numerical_gradient(loss, o.params[k]))
                    for n, o, k in D.parameters()})
    assert_gradcheck("Parts (hand-wired)", errs)
    with pytest.raises(TypeError):
        D.forward(x)


# ----------------------------------------------------------------------------- frozen


FROZEN_CASES = {                                       # a layer with parameters, an input
    "Dense": (lambda: L.Dense(5, 3), (4, 5)),
    "Maxout": (lambda: L.Maxout(5, 3, 2), (4, 5)),
    "Conv2d": (lambda: L.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
    "ConvTranspose2d": (lambda: L.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                        (2, 2, 3, 3)),
    "BatchNorm1d": (lambda: L.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda: L.BatchNorm2d(2), (3, 2, 3, 3)),
    "LayerNorm": (lambda: L.LayerNorm(2), (3, 2, 3, 3)),
    "InstanceNorm2d": (lambda: L.InstanceNorm2d(2, affine=True), (3, 2, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(FROZEN_CASES))
def test_frozen_backward_gives_the_same_input_gradient_and_no_parameter_gradients(name):
    make, shape = FROZEN_CASES[name]
    backend.seed(0)
    layer = randomize_params(make().to_dtype(np.float64), 1)
    x, dy = randn(2, shape), None
    y, cache = layer.forward(x)
    dy = randn(3, y.shape)
    dx = layer.backward(dy, cache)                      # unfrozen: grads filled
    assert any(np.abs(g).max() > 0 for g in layer.grads.values())
    layer.zero_grad()
    with L.frozen(layer):
        dx_frozen = layer.backward(dy, cache)
    np.testing.assert_allclose(dx_frozen, dx, rtol=1e-12, atol=1e-12)
    for key, g in layer.grads.items():
        assert not np.any(g), f"{name}.{key} got a gradient while frozen"
    layer.backward(dy, cache)                           # the block's end unfreezes
    assert any(np.abs(g).max() > 0 for g in layer.grads.values())


def test_frozen_embedding_and_containers():
    backend.seed(0)
    D = L.Sequential(L.Dense(4, 3), L.LeakyReLU(0.2), L.Dense(3, 1)).to_dtype(np.float64)
    y, cache = D.forward(randn(0, (5, 4)))
    with L.frozen(D):
        D.backward(np.ones_like(y), cache)
        assert D[0].frozen and D[2].frozen
    assert not any(np.any(owner.grads[key]) for _, owner, key in D.parameters())
    assert not D[0].frozen
    emb = L.Embedding(4, 3).to_dtype(np.float64)
    out, idx = emb.forward(np.array([0, 2, 2]))
    with L.frozen(emb):
        emb.backward(np.ones_like(out), idx)
    assert not np.any(emb.grads["W"])
