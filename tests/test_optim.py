"""Optimizers against their update formulas, checkpoint round-trips, and convergence."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SEEDS, randn
from minigan import backend, optim
from minigan import layers as L


def _model(seed):
    backend.seed(seed)
    return L.Sequential(L.Dense(3, 2), L.BatchNorm1d(2)).to_dtype(np.float64)


def _grads(model, seed):
    """Fill every gradient with seeded random values; return them keyed by name."""
    out = {}
    for i, (name, owner, key) in enumerate(model.parameters()):
        g = randn(seed * 100 + i, owner.params[key].shape)
        owner.grads[key][...] = g
        out[name] = g
    return out


def _params(model):
    return {name: owner.params[key].copy() for name, owner, key in model.parameters()}


lrs = st.floats(1e-4, 0.5)


@given(seed=SEEDS, lr=lrs, momentum=st.floats(0.0, 0.99))
def test_sgd_momentum_two_steps(seed, lr, momentum):
    model = _model(seed % 1000)
    opt = optim.SGD(model, lr=lr, momentum=momentum)
    p0 = _params(model)
    g1 = _grads(model, 1)
    opt.step()
    g2 = _grads(model, 2)
    opt.step()
    for name in p0:
        v1 = g1[name]
        v2 = momentum * v1 + g2[name]
        expect = p0[name] - lr * v1 - lr * v2
        np.testing.assert_allclose(_params(model)[name], expect, rtol=1e-12, atol=1e-14)


@given(seed=SEEDS, lr=lrs, b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.9999),
       eps=st.sampled_from([1e-8, 1e-3]))
def test_adam_two_steps(seed, lr, b1, b2, eps):
    model = _model(seed % 1000)
    opt = optim.Adam(model, lr=lr, betas=(b1, b2), eps=eps)
    p = _params(model)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t in (1, 2):
        g = _grads(model, t)
        opt.step()
        for k in p:                                  # Kingma & Ba, Algorithm 1
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat = m[k] / (1 - b1 ** t)
            v_hat = v[k] / (1 - b2 ** t)
            p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
        for k in p:
            np.testing.assert_allclose(_params(model)[k], p[k], rtol=1e-10, atol=1e-12)
    assert opt.t == 2


def test_adam_first_step_is_lr_times_sign():
    """With bias correction the first Adam step is lr * g / (|g| + eps) ~ lr * sign(g)."""
    model = _model(0)
    opt = optim.Adam(model, lr=0.01)
    p0 = _params(model)
    g = _grads(model, 5)
    opt.step()
    for k in p0:
        np.testing.assert_allclose(p0[k] - _params(model)[k], 0.01 * np.sign(g[k]), rtol=1e-5)


@given(seed=SEEDS, lr=lrs, alpha=st.floats(0.5, 0.999), eps=st.sampled_from([1e-8, 1e-2]))
def test_rmsprop_two_steps(seed, lr, alpha, eps):
    model = _model(seed % 1000)
    opt = optim.RMSprop(model, lr=lr, alpha=alpha, eps=eps)
    p = _params(model)
    s = {k: np.zeros_like(v) for k, v in p.items()}
    for t in (1, 2):
        g = _grads(model, t)
        opt.step()
        for k in p:
            s[k] = alpha * s[k] + (1 - alpha) * g[k] ** 2
            p[k] = p[k] - lr * g[k] / (np.sqrt(s[k]) + eps)
        for k in p:
            np.testing.assert_allclose(_params(model)[k], p[k], rtol=1e-10, atol=1e-12)


def test_optimizer_over_several_models_and_zero_grad():
    backend.seed(0)
    a, b = L.Dense(2, 2).to_dtype(np.float64), L.Dense(2, 1).to_dtype(np.float64)
    opt = optim.SGD([a, b], lr=0.1)
    assert len(opt.params) == 4
    pa, pb = _params(a), _params(b)
    ga, gb = _grads(a, 1), _grads(b, 2)
    opt.step()
    for p0, g, m in ((pa, ga, a), (pb, gb, b)):
        for k in p0:
            np.testing.assert_allclose(_params(m)[k], p0[k] - 0.1 * g[k])
    opt.zero_grad()
    assert all(not o.grads[k].any() for m in (a, b) for _, o, k in m.parameters())


@pytest.mark.parametrize("make", [lambda m: optim.SGD(m, lr=0.05, momentum=0.9),
                                  lambda m: optim.Adam(m, lr=0.01, betas=(0.5, 0.999)),
                                  lambda m: optim.RMSprop(m, lr=0.01)],
                         ids=["sgd", "adam", "rmsprop"])
def test_state_dict_round_trip(make, tmp_path):
    """Two steps, checkpoint (through an .npz file, as a lesson would), restore into a fresh
    model and optimizer: the next steps are bit-identical to the uninterrupted run."""
    model = _model(0)
    opt = make(model)
    for t in (1, 2):
        _grads(model, t)
        opt.step()
    path = tmp_path / "ckpt.npz"
    np.savez(path, **{f"model/{k}": v for k, v in model.state_dict().items()},
             **{f"opt/{k}": v for k, v in opt.state_dict().items()})

    model2 = _model(99)                                   # different initial weights
    opt2 = make(model2)
    opt2.lr = 123.0                                       # must be restored too
    with np.load(path) as f:
        model2.load_state_dict({k[6:]: f[k] for k in f.files if k.startswith("model/")})
        opt2.load_state_dict({k[4:]: f[k] for k in f.files if k.startswith("opt/")})
    assert opt2.t == opt.t == 2 and opt2.lr == opt.lr

    for t in (3, 4):
        _grads(model, t)
        _grads(model2, t)
        opt.step()
        opt2.step()
    for k, v in _params(model).items():
        np.testing.assert_array_equal(_params(model2)[k], v)


def test_state_dict_is_a_copy_and_checks_shapes():
    model = _model(0)
    opt = optim.Adam(model)
    _grads(model, 1)
    opt.step()
    state = opt.state_dict()
    saved = {k: np.array(v, copy=True) for k, v in state.items()}
    _grads(model, 2)
    opt.step()
    for k, v in saved.items():
        np.testing.assert_array_equal(state[k], v)        # later steps did not change it
    bad = dict(state)
    key = next(k for k in bad if k.startswith("m/"))
    bad[key] = np.zeros((7, 7))
    with pytest.raises(ValueError):
        optim.Adam(_model(0)).load_state_dict(bad)
    missing = {k: v for k, v in state.items() if k != key}
    with pytest.raises(ValueError):
        optim.Adam(_model(0)).load_state_dict(missing)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_minimises_a_quadratic(dtype):
    """f(p) = sum_i a_i (p_i - c_i)^2 with curvatures over two orders of magnitude."""
    backend.seed(0)
    layer = L.Dense(4, 3).to_dtype(dtype)
    rng = np.random.default_rng(0)
    c = rng.standard_normal(layer.params["W"].shape)
    a = 10 ** rng.uniform(-1, 1, c.shape)
    opt = optim.Adam(layer, lr=0.05)
    W = layer.params["W"]
    f0 = float((a * (W - c) ** 2).sum())
    for _ in range(600):
        layer.zero_grad()
        layer.grads["W"][...] = 2 * a * (W - c)
        opt.step()
    assert W.dtype == dtype
    assert float((a * (W - c) ** 2).sum()) < 1e-6 * f0
    np.testing.assert_allclose(W, c, atol=2e-3)


def test_exponential_decay_is_pylearn2s():
    """lr0 / factor^t, floored: the GAN yaml's 0.1, 1.000004, 1e-6."""
    from minigan.optim import exponential_decay
    assert exponential_decay(0.1, 0, 1.000004, 1e-6) == 0.1
    assert exponential_decay(0.1, 250_000, 1.000004, 1e-6) == pytest.approx(0.1 / 1.000004 ** 250_000, rel=1e-12)
    assert exponential_decay(0.1, 250_000, 1.000004, 1e-6) == pytest.approx(0.0367879, rel=1e-5)  # ~e^-1
    assert exponential_decay(0.1, 10 ** 7, 1.000004, 1e-6) == 1e-6                   # the floor


def test_linear_momentum_is_pylearn2s_momentum_adjustor():
    """0.5 through epoch 1 (start), linear to 0.7 at epoch 250 (saturate), 0.7 after."""
    from minigan.optim import linear_momentum
    m = [linear_momentum(e, 1, 250, 0.5, 0.7) for e in (1, 2, 125.5, 250, 400)]
    assert m[0] == 0.5 and m[3] == pytest.approx(0.7) and m[4] == pytest.approx(0.7)
    assert m[1] == pytest.approx(0.5 + 0.2 / 249)
    assert m[2] == pytest.approx(0.6)


@pytest.mark.parametrize("make", [lambda m: optim.SGD(m, lr=0.1, momentum=0.9),
                                  lambda m: optim.Adam(m, lr=0.01, betas=(0.5, 0.999)),
                                  lambda m: optim.RMSprop(m, lr=0.01)],
                         ids=["sgd", "adam", "rmsprop"])
def test_blockwise_update_is_the_whole_array_update(make, monkeypatch):
    """step() updates a CPU array a block at a time (for the cache); the result must be
    bit for bit the update of the whole array, whatever the block size, including blocks
    that do not divide the array (a 3 x 7 weight in blocks of 4)."""
    def run(block):
        monkeypatch.setattr(optim.Optimizer, "block", block)
        backend.seed(0)
        model = L.Sequential(L.Dense(3, 7), L.Dense(7, 5)).to_dtype(np.float32)
        opt = make(model)
        for t in (1, 2, 3):
            _grads(model, t)
            opt.step()
        return _params(model), opt.state_dict()

    whole_params, whole_state = run(10 ** 9)
    for block in (1, 4, 16):
        params, state = run(block)
        for k, v in whole_params.items():
            np.testing.assert_array_equal(params[k], v)
        for k, v in whole_state.items():
            np.testing.assert_array_equal(state[k], v)


def test_optimizer_refuses_a_parameter_it_cannot_flatten():
    """step() updates flat views of each parameter: a non-contiguous one would be copied by
    the flattening and never updated, so the optimizer refuses it up front."""
    layer = L.Dense(4, 3)
    layer.params["W"] = np.asfortranarray(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="not C-contiguous"):
        optim.Adam(layer)
