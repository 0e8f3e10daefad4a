"""minigan.conditioning (label concatenation) and the Parts container: values and gradients."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import SEEDS, assert_gradcheck, randn
from minigan import backend
from minigan import layers as L
from minigan.conditioning import (ConcatLabel, Conditional, Joint, concat_label, drop_label_grad,
                                  one_hot)
from minigan.gradcheck import compare, numerical_gradient


def test_one_hot():
    y = one_hot(np.array([2, 0, 1]), 4)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])


def test_concat_label_values():
    y = one_hot(np.array([1, 0]), 3)
    h = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(concat_label(h, y), [[0, 1, 0, 1, 0], [2, 3, 1, 0, 0]])
    maps = concat_label(np.zeros((2, 1, 2, 3)), y)
    assert maps.shape == (2, 4, 2, 3) and maps.dtype == np.float64
    np.testing.assert_array_equal(maps[0, 2], np.ones((2, 3)))       # sample 0 has label 1
    np.testing.assert_array_equal(maps[0, 1], np.zeros((2, 3)))
    np.testing.assert_array_equal(maps[1, 1], np.ones((2, 3)))       # sample 1 has label 0
    with pytest.raises(ValueError, match="2-d or 4-d"):
        concat_label(np.zeros((2, 3, 4)), y)


@given(seed=SEEDS, n=st.integers(1, 3), c=st.integers(1, 4), k=st.integers(1, 4),
       spatial=st.booleans())
def test_concat_label_gradient(seed, n, c, k, spatial):
    """L = sum(concat_label(h, y) * R): dL/dh must be drop_label_grad(R, c)."""
    shape = (n, c, 3, 2) if spatial else (n, c)
    h = randn(seed, shape)
    y = one_hot(np.random.default_rng(seed).integers(0, k, n), k)
    R = randn(seed + 1, (n, c + k) + shape[2:])
    numeric = numerical_gradient(lambda: float((concat_label(h, y) * R).sum()), h)
    analytic = drop_label_grad(R, c)
    assert analytic.shape == h.shape and np.shares_memory(analytic, R)   # a view: no copy
    assert_gradcheck("concat_label", {"h": compare({"h": (analytic, numeric)})["h"]})


def _check_net(net, x, onehot, seed):
    """Gradient-check a two-input (x, onehot) network in float64: input and parameters."""
    net.to_dtype(np.float64)

    def forward():
        backend.seed(seed)
        return net.forward(x, onehot)

    y, cache = forward()
    R = randn(seed + 1, y.shape)
    y0 = y.copy()

    def loss():
        return float(((forward()[0] - y0) * R).sum())

    net.zero_grad()
    dx = net.backward(R, cache)
    pairs = {"x": (dx, numerical_gradient(loss, x))}
    for name, owner, key in net.parameters():
        pairs[name] = (owner.grads[key].copy(), numerical_gradient(loss, owner.params[key]))
    return compare(pairs)


@given(seed=SEEDS)
def test_conditional_gradients(seed):
    backend.seed(seed % 1000)
    net = Conditional(ConcatLabel(), L.Conv2d(1 + 3, 2, 3, stride=2, padding=1),
                      L.LeakyReLU(0.2), ConcatLabel(), L.Conv2d(2 + 3, 2, 3, padding=1), L.Tanh(),
                      L.Flatten(), ConcatLabel(), L.Dense(2 * 9 + 3, 2))
    x = randn(seed, (2, 1, 5, 5))
    onehot = one_hot(np.array([0, 2]), 3)
    # a LeakyReLU input within the finite-difference step (1e-5) of 0 sits on the kink:
    # there the numerical gradient averages the two slopes and means nothing, so skip such
    # draws (seed 176 has one at 4.6e-6)
    net.to_dtype(np.float64)
    pre_activation, _ = net.layers[1].forward(net.layers[0].forward((x, onehot))[0])
    assume(float(np.abs(pre_activation).min()) > 1e-3)
    errors = _check_net(net, x, onehot, seed)
    assert_gradcheck("Conditional", errors)
    assert "Conditional(" in repr(net)


def _maxout_margin(layer, x):
    """The smallest gap between a maxout unit's best and second-best piece."""
    z = np.sort((x @ layer.params["W"] + layer.params["b"]).reshape(len(x), layer.units, -1), axis=-1)
    return float((z[..., -1] - z[..., -2]).min())


@given(seed=SEEDS, dropout=st.booleans())
def test_joint_gradients(seed, dropout):
    backend.seed(seed % 1000)
    net = Joint(L.Sequential(L.Flatten(), L.Dropout(0.3 if dropout else 0.0), L.Maxout(4, 3, 2)),
                L.Maxout(3, 2, 2),
                L.Sequential(L.Dense(5, 3), L.Tanh(), L.Dense(3, 1)))
    x = randn(seed, (3, 1, 2, 2))
    onehot = one_hot(np.array([1, 0, 2]), 3)
    # a maxout whose two best pieces are within the finite-difference step of each other
    # has a kink there: the numerical gradient is meaningless, so skip such draws
    assume(_maxout_margin(net.y, onehot) > 1e-3)
    # and the same for the image tower's maxout, on its input after the very dropout mask
    # the check will draw (_check_net seeds with `seed`; the x tower draws first)
    net.to_dtype(np.float64)
    backend.seed(seed)
    dropped, _ = net.x[1].forward(net.x[0].forward(x)[0])
    assume(_maxout_margin(net.x[2], dropped) > 1e-3)
    errors = _check_net(net, x, onehot, seed)
    assert set(errors) == {"x"} | {n for n, _, _ in net.parameters()}
    assert_gradcheck("Joint", errors)
    assert {n.split(".")[0] for n, _, _ in net.parameters()} == {"x", "y", "joint"}


def test_parts_bookkeeping():
    backend.seed(0)
    D = L.Parts(trunk=L.Sequential(L.Dense(3, 4), L.BatchNorm1d(4)), head=L.Dense(4, 1))
    names = [n for n, _, _ in D.parameters()]
    assert names == ["trunk.0.W", "trunk.0.b", "trunk.1.gamma", "trunk.1.beta", "head.W", "head.b"]
    assert [n for n, _, _ in D.named_buffers()] == ["trunk.1.running_mean", "trunk.1.running_var"]
    state = D.state_dict()
    backend.seed(1)
    E = L.Parts(trunk=L.Sequential(L.Dense(3, 4), L.BatchNorm1d(4)), head=L.Dense(4, 1))
    E.load_state_dict(state)
    for k, v in E.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    D.to_dtype(np.float64)
    assert D.head.params["W"].dtype == np.float64 and D.trunk[0].grads["W"].dtype == np.float64
    with pytest.raises(TypeError, match="parts"):
        D.forward(np.zeros((1, 3)))
    assert D.trunk is D.parts["trunk"] and "(head) Dense(4, 1)" in repr(D)


def test_concat_label_keeps_conv_layout():
    """After a conv the label maps are appended batch-innermost, as the conv layers store
    activations: the result's transposed (C + K, H, W, N) view is contiguous (no copy for
    the next conv), and its values are those of the plain NCHW concatenation."""
    h_chwn = randn(0, (3, 4, 5, 2))                        # what a conv returns: CHWN storage
    h = h_chwn.transpose(3, 0, 1, 2)                       # seen as (N, C, H, W)
    y = one_hot(np.array([1, 0]), 2)
    out = concat_label(h, y)
    assert out.transpose(1, 2, 3, 0).flags.c_contiguous
    maps = np.broadcast_to(y[:, :, None, None], (2, 2, 4, 5))
    np.testing.assert_array_equal(out, np.concatenate([h, maps], axis=1))
